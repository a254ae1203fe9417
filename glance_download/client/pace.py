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

"""How long to wait before polling an import again.

A fixed second wastes up to a second at every end the command waits for:
the last copy's, and in a relay tree the relay's, which the regions
waiting for it cannot pull from before it is seen active. So an import is
polled sooner when its end may be near: right after it started (a small
image is done in a moment, a refused one fails at once), and most often
once its task says the download is done or nearly done, or Glance is
saving its last state; sooner too when regions wait for it to relay.
Never more often than a region is asked to bear:
the polls of one region's imports share REGION_POLLS a second, each one
request while the import runs (its task) and two at its end.
"""

from glance_download import progress

# The shortest wait between two polls of one import, in seconds.
SHORTEST = 0.25
# Polls a second that one region's imports share, all together.
REGION_POLLS = 4.0
# Seconds after the start of an import during which it is polled sooner.
EARLY = 3.0
# Seconds of download left, by the task's progress, that are near the end.
NEAR_END = 3.0

_UNITS = {'B': 1, 'KiB': 1 << 10, 'MiB': 1 << 20, 'GiB': 1 << 30,
          'TiB': 1 << 40, 'PiB': 1 << 50}


def interval(elapsed, message='', gating=False, in_region=1, longest=1.0,
             ending=False):
    """Seconds until the next poll of one import.

    elapsed: seconds since the import was started; message: its task's
    message (progress.describe while downloading); gating: regions wait
    for this copy to serve them; in_region: imports of its region being
    polled (itself included); longest: the wait when nothing says the end
    is near; ending: the last poll saw the image active, or its task
    ended, not both. The region's share bounds it from below, longest or
    not.
    """
    wait = longest
    left = seconds_left(message)
    if ending or message.startswith(progress.DONE_PREFIX) or (
            left is not None and left <= NEAR_END):
        wait = SHORTEST
    elif elapsed < EARLY:
        wait = SHORTEST if gating else min(longest, 2 * SHORTEST)
    elif left is not None:
        # Poll about when the download should end, halfway there at most.
        wait = min(longest, max(SHORTEST, left / 2))
    elif gating:
        wait = longest / 2
    return max(min(longest, max(wait, SHORTEST)),
               max(1, in_region) / REGION_POLLS)


def seconds_left(message):
    """Seconds of download left by a progress message; None if unknown."""
    found = progress.parse(message)
    if not found:
        return None
    _, done, total, rate = found
    done, total, rate = (_bytes(done), _bytes(total), _bytes(rate))
    if None in (done, total, rate) or rate <= 0:
        return None
    return max(0.0, (total - done) / rate)


def _bytes(text):
    """Bytes of a progress.human_size text ('1.5 MiB'); None if not one."""
    number, _, unit = text.partition(' ')
    try:
        return float(number) * _UNITS[unit]
    except (KeyError, ValueError):
        return None
