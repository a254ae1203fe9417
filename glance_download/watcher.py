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

"""Start the streams of one download and watch them on a clock.

The thread that runs the download looks at the streams a few times a
second, whether or not a byte arrives, so that nothing waits on the
network: the deadline and each stream's minimum rate are checked, the
number of streams is tuned and grown, progress is reported (its callback
may abort the download) and the sidecar records the written ranges.  The
first error of a stream or of the hash follower ends the watch, and every
stream is stopped and joined before it returns.
"""

import dataclasses
import logging

from glance_download import autotune
from glance_download import errors
from glance_download import follower as follower_mod
from glance_download import partfile
from glance_download import worker

LOG = logging.getLogger(__name__)

# Seconds between two looks at the streams, and the longest wait for them;
# and between two throughput samples when the number of streams is tuned.
TICK = 0.25
_TUNE_TICK = 0.1
# Seconds between two updates of the sidecar's record of written ranges.
_RECORD_EVERY = 2.0


@dataclasses.dataclass(eq=False)
class Watcher:
    """The streams of the ``crew``'s download, from the first to the last.

    ``progress``, ``min_rate``, ``min_rate_period`` and ``deadline`` are
    the download's, as :class:`glance_download.fetch.StagedDownload`
    describes them.
    """

    crew: object
    digest: tuple
    """The expected ``(algorithm, hexdigest)``, or None: size only."""
    ceiling: int
    """The most streams that may run at once."""
    started: float
    """When the download started, on the crew's clock: the deadline's
    origin."""
    tuning: object = None
    tune: object = None
    """When the number of streams is tuned by ``tuning``, the controller's
    state."""
    progress: object = None
    min_rate: int = 0
    min_rate_period: float = 60.0
    deadline: float = None
    _workers: list = dataclasses.field(default_factory=list, init=False)
    _follower: object = dataclasses.field(default=None, init=False)

    def record(self):
        """Write the sidecar: the source and how far each segment is."""
        crew = self.crew
        crew.part.record(partfile.source_record(
            crew.size, self.digest, crew.table.record(), crew.released))

    def hashed(self):
        """Bytes from 0 the digest has taken; all of them without one."""
        if not self.digest:
            return self.crew.size
        return self._follower.hashed if self._follower else 0

    def run(self):
        """Run the streams until every byte is written; the hexdigest."""
        crew = self.crew
        table = crew.table
        follower = self._follower = (
            follower_mod.HashFollower(crew, self.digest[0])
            if self.digest else None)
        recorded = crew.clock()
        try:
            self._start_stream(first=True)
            if crew.eager:
                self._grow()
            while True:
                with crew.changed:
                    if not self._finished():
                        crew.changed.wait(_TUNE_TICK if self.tune else TICK)
                    error = crew.error or (follower and follower.error)
                    finished = self._finished()
                    active = crew.active
                    sample = autotune.Sample(
                        crew.clock(), table.written(), active,
                        crew.flowing, crew.refused,
                        crew.latency) if self.tune else None
                if error is not None:
                    raise error
                if finished:
                    break
                now = crew.clock()
                self._check(now)
                if self.tune:
                    self._retune(sample)
                # A tuned count is known once the first answer was seen,
                # or before it for a far source.
                if not self.tune or self.tune.placed or crew.eager:
                    self._grow()
                if self.progress:
                    self.progress(table.written(), crew.size, max(1, active))
                if now - recorded >= _RECORD_EVERY:
                    self.record()
                    recorded = now
            if self.progress:
                self.progress(table.written(), crew.size, max(1, crew.most))
            return follower.hexdigest() if follower else None
        finally:
            crew.stopping.set()
            table.wake()
            for stream in self._workers:
                stream.interrupt()
            for stream in self._workers:
                stream.join()
            if follower:
                follower.join()

    def _finished(self):
        """All segments written and every stream gone (``changed`` held)."""
        return self.crew.active == 0 and self.crew.table.complete()

    def _check(self, now):
        """The deadline, and the minimum rate of each stream."""
        if self.deadline and now - self.started > self.deadline:
            raise errors.TransferError(
                f'The image data did not arrive within the '
                f'{self.deadline:.0f} s allowed ([glance_download] '
                f'download_timeout): {self.crew.table.written()} of '
                f'{self.crew.size} bytes arrived. '
                + errors.afterword(' when the source or the link is '
                                   'faster'))
        if self.min_rate:
            for stream in self._workers:
                stream.check_rate(now, self.min_rate, self.min_rate_period)

    def _retune(self, sample):
        """Take the controller's next state; its streams are the limit."""
        tune = self.tune
        following = autotune.decide(tune, sample, self.tuning)
        if following.target != tune.target:
            LOG.debug('Streams into %s: %d, from %d (%d running, %d '
                      'refused so far)', self.crew.dest_path,
                      following.target, tune.target, sample.active,
                      sample.refused)
        self.crew.allow(following.target, promptly=autotune.measures_fewer(
            following))
        self.tune = following

    def _grow(self):
        """Add streams while there is work and the remote allows them."""
        crew = self.crew
        for _ in range(self.ceiling):
            wanted = (crew.table.multi and crew.wants_more()
                      and crew.table.can_claim())
            if not wanted or not (crew.slots is None
                                  or crew.slots.acquire(wait=False)):
                return
            self._start_stream(first=False)

    def _start_stream(self, first):
        self.crew.joined()
        stream = worker.StreamWorker(self.crew, first)
        self._workers.append(stream)
        stream.start()
