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

"""The source's record read again as its data ends, not after it.

An image deactivated or deleted during the copy must not become an active
copy, so the source's record is read again once the data is in.  Over a
long round trip that read is a good part of a small image's time: it is
sent instead when the bytes left would take about its own answer time at
the download's pace so far, and its answer stands only if it was sent at
most two answer times before the last byte came.  Otherwise (the download
slowed down, or the early read failed) the record is read again then, as
it always was.
"""

import threading
import time

THREAD = 'glance-download-recheck'


def due(done, total, elapsed, latency):
    """True when the bytes left would come within ``latency`` seconds.

    At the pace of the ``done`` bytes so far, over ``elapsed`` seconds;
    never without a known ``latency`` or before any byte came.
    """
    if latency is None or done <= 0 or elapsed <= 0:
        return False
    return (total - done) * elapsed / done <= latency


def fresh(sent_at, ended_at, latency):
    """True when a read sent at ``sent_at`` tells of the source at the end.

    That is, when it was sent at most two answer times before the last
    byte came, at ``ended_at``: a read sent after that would have had its
    answer sent about as long before ours was looked at.
    """
    return ended_at - sent_at <= 2 * latency


class Recheck:
    """``look()`` once near the end of a download, and once more if stale.

    :meth:`watch` sees the download's progress; :meth:`finish`, after the
    last byte, raises what the look raises.
    """

    def __init__(self, look, latency, clock=time.monotonic):
        self._look = look
        self._latency = latency
        self._clock = clock
        self._started = clock()
        self._sent_at = None
        self._thread = None
        self._failed = False

    def watch(self, done, total):
        """Send the look if the bytes left are due within its answer time."""
        if self._thread is not None:
            return
        now = self._clock()
        if not due(done, total, now - self._started, self._latency):
            return
        self._sent_at = now
        self._thread = threading.Thread(target=self._run, name=THREAD,
                                        daemon=True)
        self._thread.start()

    def _run(self):
        try:
            self._look()
        except Exception:  # read again, and raised, by finish()
            self._failed = True

    def settle(self):
        """Wait for the early look, if sent, and keep nothing of it.

        For a download that failed: no look at the source outlives it.
        """
        if self._thread is not None:
            self._thread.join()

    def finish(self):
        """Raise unless the source is still there; after the last byte.

        The early look is waited for: it is bounded by the retry policy
        and the timeouts of the client it reads with.
        """
        ended = self._clock()
        if self._thread is not None:
            self._thread.join()
            if not self._failed and fresh(self._sent_at, ended,
                                          self._latency):
                return
        self._look()
