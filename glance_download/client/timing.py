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

"""How long a request may wait, and the command's deadline.

Every request has a connect and a read timeout (--connect-timeout,
--read-timeout), and none outlives the deadline of --timeout: a region
whose endpoint accepts connections but never answers costs its own rows
the time, not the whole command.
"""

import dataclasses
import time

# Defaults of --connect-timeout and --read-timeout, in seconds. Glance
# answers each of these calls in well under a second; half a minute leaves
# room for a loaded server, and a dead region costs its own rows the time,
# not the others' (each region is checked on its own).
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0


def request_timeouts(limits, remaining):
    """(connect, read) seconds for one request, or None when none is left.

    limits: (connect, read) of the options; remaining: seconds left before
    the command's deadline, None when it has none. A request never waits
    beyond the deadline.
    """
    if remaining is None:
        return tuple(limits)
    if remaining <= 0:
        return None
    return tuple(min(limit, remaining) for limit in limits)


@dataclasses.dataclass(frozen=True)
class Timeouts:
    """Bounds of each request (seconds) and the command's deadline."""

    connect: float = CONNECT_TIMEOUT
    read: float = READ_TIMEOUT
    deadline: float | None = None
    """A time.monotonic() value after which no request is sent."""
    timeout: float | None = None
    """The --timeout the deadline was made of, for the messages."""
    clock: object = dataclasses.field(default=time.monotonic, repr=False,
                                      compare=False)

    def remaining(self):
        """Seconds left before the deadline; None without one."""
        if self.deadline is None:
            return None
        return self.deadline - self.clock()

    def for_request(self):
        """(connect, read) for the next request, or None when too late."""
        return request_timeouts((self.connect, self.read), self.remaining())


def seconds(value):
    """A number of seconds as the user wrote it: 5, not 5.0."""
    return f'{value:g}' if isinstance(value, float) else f'{value}'
