#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""Where the supported Glance series (30 to 33) differ.

Each function chooses what the installed Glance has; the other modules
call these and never test for a series themselves.
"""

from glance.common import utils as glance_utils


def import_filter():
    """Glance's check of a URL against [import_filtering_opts].

    Glance 33 calls it ``validate_uri``; Glance 30 to 32 have the same
    check, by scheme, host and port, as ``validate_import_uri``.
    """
    check = getattr(glance_utils, 'validate_uri', None)
    if check is None:
        check = glance_utils.validate_import_uri
    return check


def address_validator():
    """Glance's check that also returns the allowed addresses, else None.

    Glance 33 has ``get_validated_address``; Glance 30 to 32 check the
    host by name only and give no address back.
    """
    return getattr(glance_utils, 'get_validated_address', None)


def retry_on_db_lock(func):
    """Run ``func``, retried while sqlite says the database is locked.

    Glance 33 retries its own saves so with ``retry_on_db_lock``; Glance 30
    to 32 have no such helper and run them once, as their own tasks do.
    """
    retry = getattr(glance_utils, 'retry_on_db_lock', None)
    if retry is None:
        return func()
    return retry(func)
