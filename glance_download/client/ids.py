# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""The ids new copies are created with: the same for every run.

Two runs that copy one source to one region at the same time compute the
same id, so Glance's own uniqueness check of image ids settles the race:
one ``POST /v2/images`` gets 201, every other gets 409 and uses the copy
that holds the id. No run needs to see the other's copy in a listing, and
no run ever deletes a copy to give way.

Glance never gives a deleted image's id again, so each seed has a short
sequence of ids (generations): when a copy was deleted, the next run
takes the next one, and runs at the same time still walk the sequence in
the same order.
"""

import uuid

# A fixed namespace, so that every client computes the same ids.
NAMESPACE = uuid.UUID('7d0c1e8a-5b3f-5e0c-9a51-6f1c2d3b4a59')
# Ids tried for one seed before the run gives up (copies deleted or ids
# held by images the caller cannot see).
GENERATIONS = 16


def copy_ids(source_region, source_id, owner, target_region):
    """The ids, in order, of a new copy of source for owner in a region."""
    return _sequence(f'copy\n{source_region}\n{source_id}\n{owner}\n'
                     f'{target_region}')


def successor_ids(replaced_id):
    """The ids, in order, of the copy that replaces the copy replaced_id.

    Runs that replace the same copy at the same time make one successor.
    """
    return _sequence(f'successor\n{replaced_id}')


def _sequence(seed):
    return [str(uuid.uuid5(NAMESPACE, f'{seed}\n{generation}'))
            for generation in range(GENERATIONS)]
