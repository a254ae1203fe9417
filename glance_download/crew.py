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

"""What the streams of one download share: their count and how they fare.

The coordinator sets how many streams may run (``limit``); the streams
join and leave, count their attempts, and report the first error, all
under one condition that the coordinator waits on.
"""

import dataclasses
import threading
import time


@dataclasses.dataclass(eq=False)
class Crew:
    """What the streams of one download share, and how they fare.

    The counts, the limit, ``ranged`` and the first error are read and
    changed under ``changed``, which the watching thread waits on.
    ``flowing`` counts the streams whose request under way has brought
    data; ``refused`` the 429 and 503 answers that took a stream away.
    """

    table: object
    part: object
    opener: object
    policy: object
    chunk_size: int
    dest_path: str
    limit: int
    slots: object = None
    clock: object = time.monotonic
    stopping: threading.Event = dataclasses.field(
        default_factory=threading.Event)
    changed: threading.Condition = dataclasses.field(
        default_factory=threading.Condition)
    active: int = 0
    most: int = 0
    ranged: bool = False
    error: BaseException = None
    attempts: int = 0
    resumes: int = 0
    restarts: int = 0
    flowing: int = 0
    refused: int = 0
    retiring: int = 0
    latency: float = None
    """Seconds the first request of the download waited for its answer."""
    promptly: bool = False
    whole: object = None
    """The segment that is the whole image, once the source ignores Range."""
    eager: bool = False
    """Streams may be added before an answer showed that ranges are
    served: the source is far, and waiting costs them a round trip."""
    released: int = 0
    """Bytes from 0 dropped from the part file once stored and hashed;
    the sidecar does not count them."""

    @property
    def size(self):
        return self.table.size

    def joined(self):
        with self.changed:
            self.active += 1
            self.most = max(self.most, self.active)

    def left(self, error=None, retired=False):
        """A stream ended, with the ``error`` that ended it if any.

        ``retired``: it ended because :meth:`retire` told it to.
        """
        with self.changed:
            self.active -= 1
            if retired:
                self.retiring -= 1
            if error is not None and self.error is None:
                self.error = error
            self.changed.notify_all()

    def notify(self):
        with self.changed:
            self.changed.notify_all()

    def wants_more(self):
        """True when another stream may start.

        The source serves ranges (or may: ``eager``) and allows it.
        """
        with self.changed:
            return ((self.ranged or self.eager) and not self.alone
                    and self.active < self.limit)

    def answered(self, seconds):
        """A request was answered after ``seconds``; the first one counts."""
        with self.changed:
            if self.latency is None:
                self.latency = seconds

    def count(self, name):
        with self.changed:
            setattr(self, name, getattr(self, name) + 1)

    def fewer(self):
        """Refuse an extra stream: True unless it is the only one left."""
        with self.changed:
            if self.active <= 1:
                return False
            self.limit = max(1, self.active - 1)
            self.refused += 1
            return True

    def retire(self):
        """True when more streams run than the limit: the asker must leave.

        Streams already told to leave are not counted, so that no more
        leave than the limit wants.
        """
        with self.changed:
            if self.active - self.retiring <= self.limit:
                return False
            self.retiring += 1
            return True

    def allow(self, streams, promptly=False):
        """Let ``streams`` run, unless the source serves one stream only.

        Streams over the limit leave once their range is written, or,
        ``promptly``, at their next chunk, giving the rest of it back.
        """
        with self.changed:
            if not self.alone:
                self.limit = max(1, streams)
                self.promptly = promptly

    def flows(self, started):
        """A stream's request began (``started``) or ended bringing data."""
        with self.changed:
            self.flowing += 1 if started else -1

    def found_ranges(self):
        with self.changed:
            if not self.ranged:
                self.ranged = True
                self.changed.notify_all()

    def single(self, segment):
        """Go on with one stream, the one holding ``segment``.

        False if ranges were served already, or another stream took the
        whole image first (eager streams ask at once).
        """
        with self.changed:
            if self.ranged or self.alone:
                return False
            self.limit = 1
            self.whole = segment
            return True

    @property
    def alone(self):
        """True once one stream takes the whole image."""
        return self.whole is not None

    def dropped(self, segment):
        """True when another stream took the whole image over ``segment``."""
        whole = self.whole
        return whole is not None and whole is not segment
