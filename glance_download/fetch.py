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
"""Stream image data into the staging area, resuming and verifying it.

The image is cut into segments fetched concurrently with ``Range`` and
written at their offsets into the staging part file: over a long link one
TCP stream carries far less than the link, several carry it all.  A
stream with nothing left to claim takes over half of the largest segment
outstanding, so streams stay busy to the end and a small image is
shared out too.  A single configured stream, an image too small to split,
or a remote that ignores Range make it one stream, as the whole image.
With ``parallel_streams = auto`` the number of streams follows the
throughput (:mod:`glance_download.autotune`).

A stream that breaks resumes its segment from the byte reached, with the
retry policy's backoff and bounded attempts.  The digest is computed once,
over every byte in order, by a follower reading back the contiguous prefix
as it grows: it ends moments after the last byte, and memory stays bounded
by streams x chunk size.  The thread that called :meth:`run` watches the
streams on a clock: progress and the abort checks run even while no byte
arrives, a stream slower than the minimum rate is broken off and resumed,
and the whole download has an optional deadline.

This module is the download's lifecycle: it refuses an image over the
size cap, takes up a residue or starts afresh, reserves the space, hands
the streams to the watcher, verifies and gives the data its final name.
Starting and watching the streams is the watcher's
(:mod:`glance_download.watcher`); which bytes are claimed and written is
the segment table's (:mod:`glance_download.segments`); what the streams
share is the crew's (:mod:`glance_download.crew`); what one stream does
with its answers is the stream worker's (:mod:`glance_download.worker`);
how many streams run is the controller's (:mod:`glance_download.autotune`);
the digest is the hash follower's (:mod:`glance_download.follower`).
"""

import dataclasses
import logging
import os
import threading
import time

from glance_download import autotune
from glance_download import crew as crew_mod
from glance_download import errors
from glance_download import follower as follower_mod
from glance_download import options
from glance_download import overlap
from glance_download import partfile
from glance_download import segments
from glance_download import streams as streams_mod
from glance_download import verify
from glance_download import watcher
from glance_download import worker

LOG = logging.getLogger(__name__)


# Thread names, so that tests can see none is left behind.
STREAM_THREAD = worker.STREAM_THREAD
HASH_THREAD = follower_mod.HASH_THREAD


@dataclasses.dataclass(frozen=True)
class DownloadResult:
    """What a completed download verified, and what it took."""

    bytes: int
    algorithm: str | None
    hexdigest: str | None
    attempts: int
    resumes: int
    restarts: int
    seconds: float
    streams: int = 1


def size_cap_error(size, cap):
    """The user's message for an image larger than this Glance accepts."""
    return errors.TransferError(
        f'The source image is {size} bytes, more than this Glance accepts '
        f'(image_size_cap = {cap} bytes). Nothing was downloaded; ask your '
        f'cloud operator to raise image_size_cap if the image should fit.')


class StagedDownload:
    """One image's data, downloaded into the staging area and verified.

    ``progress(bytes_done, total, streams)`` is called by the thread that
    runs the download, a few times a second whether or not data arrives;
    it must be cheap or throttle itself, and may raise
    :class:`errors.Aborted` to stop the download at once.  After a restart
    from zero, ``bytes_done`` starts again from zero.

    ``policy`` bounds the attempts of each segment: the first request, each
    resume and each restart take one.  The backoff doubles only while
    attempts fail without receiving data; one that made progress starts it
    over.

    ``streams`` (at most; or ``'auto'``, as many as raise the throughput,
    by ``tuning``) fetch segments of ``segment_size`` bytes at once, each
    stream holding one of ``slots``, the process-wide stream count.  An
    idle stream splits the largest segment outstanding, down to halves of
    ``min_split_size`` bytes.
    ``latency``, the seconds an earlier answer of the source took (its
    image record), lets the first streams open at once when the source is
    far (:func:`autotune.far`).  ``followed``: Glance's store step reads
    the data in order while it arrives, so a far source's segments are cut
    finer (:func:`overlap.segment_size`).
    A stream slower than ``min_rate`` bytes/s over ``min_rate_period``
    seconds is broken off and resumed; ``deadline`` seconds, if set, bound
    the whole download.  An image over ``max_size`` bytes is refused before
    anything is requested.
    """

    def __init__(self, dest_path, size, digest, chunk_size, policy,
                 progress=None, streams=1, segment_size=64 * 1024 * 1024,
                 slots=None, min_rate=0, min_rate_period=60.0,
                 deadline=None, max_size=None, statvfs=os.statvfs,
                 clock=time.monotonic, min_split_size=4 * 1024 * 1024,
                 tuning=None, latency=None, followed=False):
        if not isinstance(size, int) or size < 0:
            raise ValueError('size must be a non-negative int')
        if chunk_size < 1:
            raise ValueError('chunk_size must be positive')
        if streams != autotune.AUTO and streams < 1:
            raise ValueError('streams must be at least 1 or auto')
        self.dest_path = os.fspath(dest_path)
        self.size = size
        self.digest = digest
        self.chunk_size = chunk_size
        self.policy = policy
        self.progress = progress
        self.streams = streams
        self.min_split_size = min_split_size
        self.tuning = None
        if streams == autotune.AUTO:
            self.tuning = tuning or autotune.Settings()
        self.latency = latency
        # A far source: the first streams open at once, and the source's
        # record is read again before the last byte (tasks).
        self.far = autotune.far(self.tuning or autotune.Settings(), latency)
        # Glance's store step reads a followed download in order: a far
        # source's segments are cut finer (overlap.segment_size).
        self.segment_size = overlap.segment_size(segment_size, followed,
                                                 self.far)
        self.slots = slots
        self.min_rate = min_rate
        self.min_rate_period = min_rate_period
        self.deadline = deadline
        self.max_size = max_size
        self._clock = clock
        self._part = partfile.PartFile(self.dest_path, statvfs=statvfs)
        self._table = None
        self._crew = None
        self._watch = None
        self._verified = False
        self._release_lock = threading.Lock()
        self._started = threading.Event()

    @classmethod
    def from_conf(cls, conf, dest_path, size, digest, policy, progress=None,
                  max_size=None, latency=None, followed=False):
        """The download of the ``[glance_download]`` options (registered).

        Its streams draw from this process's stream count.
        """
        group = conf[options.GROUP]
        return cls(dest_path, size, digest, group.chunk_size, policy,
                   progress=progress, streams=group.parallel_streams,
                   segment_size=group.segment_size, followed=followed,
                   min_split_size=group.min_split_size,
                   slots=streams_mod.process_slots(group.process_streams),
                   min_rate=group.min_rate,
                   min_rate_period=group.min_rate_period,
                   deadline=group.download_timeout or None,
                   max_size=max_size, latency=latency)

    def run(self, opener):
        """Download, verify, and move the data to ``dest_path``.

        ``opener(offset)`` returns a streamed ``requests.Response``, having
        asked for ``Range: bytes=<offset>-`` when offset > 0, and
        ``opener(offset, end)`` one for ``Range: bytes=<offset>-<end - 1>``
        (and, so the bytes can be verified, ``Accept-Encoding: identity``).
        It raises :class:`errors.GlanceDownloadError` for answers no retry
        can fix.  On any failure, nothing is left at either path.
        """
        started = self._clock()
        part = self._part
        try:
            if self.max_size is not None and self.size > self.max_size:
                raise size_cap_error(self.size, self.max_size)
            kept = self._residue()
            part.open(keep=kept is not None)
            self._table = segments.SegmentTable.plan(
                self.size, self.segment_size, self._ceiling(), kept,
                min_split=self.min_split_size, margin=self.chunk_size)
            part.reserve(self.size)
            watch = self._watch = self._watcher(opener, started)
            watch.record()
            self._started.set()
            hexdigest = watch.run()
            done = self._table.written()
            verify.check(self.size, self.digest, done, hexdigest)
            with self._release_lock:
                part.commit()
                self._verified = True
        except BaseException:
            part.discard()
            raise
        finally:
            self._started.set()
        crew = self._crew
        result = DownloadResult(
            bytes=done, algorithm=self.digest[0] if self.digest else None,
            hexdigest=hexdigest, attempts=crew.attempts,
            resumes=crew.resumes, restarts=crew.restarts,
            seconds=self._clock() - started, streams=crew.most)
        LOG.debug('Downloaded and verified %d bytes (%s) into %s in %.1f s '
                  'over up to %d stream(s): %d attempt(s), %d resume(s), '
                  '%d restart(s)', result.bytes,
                  result.algorithm or 'size only', self.dest_path,
                  result.seconds, result.streams, result.attempts,
                  result.resumes, result.restarts)
        return result

    @property
    def part_path(self):
        """Where the data is written until it is verified."""
        return self._part.path

    def await_started(self):
        """Wait until the streams start, or the download failed before."""
        self._started.wait()

    def await_written(self, read, generation):
        """The segment table's ``await_prefix`` while the streams run.

        None once they stopped, or when the download failed before any
        started.
        """
        self._started.wait()
        if self._crew is None:
            return None
        return self._table.await_prefix(read, generation,
                                        self._crew.stopping, watcher.TICK)

    def release(self, read):
        """How many bytes from 0 may leave the part file: ``read`` at most.

        ``read``: the bytes the store step took.  Until the data is
        verified, only whole blocks (overlap.RELEASE_BLOCK) the digest has
        taken too, and only once the sidecar stopped counting them, so a
        resume never relies on bytes that are gone; once verified, every
        byte read (no sidecar is left to count them).
        """
        with self._release_lock:
            if self._verified:
                return read
            crew, watch = self._crew, self._watch
            if watch is None:
                return 0
            block = overlap.RELEASE_BLOCK
            bound = min(read, watch.hashed()) // block * block
            if bound > crew.released:
                crew.released = bound
                watch.record()
            return crew.released

    def cleanup(self):
        """Remove the partial and the final file; safe to call repeatedly.

        Used when the import is reverted, so it logs failures instead of
        raising them over the error being handled.
        """
        self._part.cleanup()

    def _residue(self):
        """The segments of a part file left by a dead process, if ours."""
        try:
            found = os.stat(self._part.path)
        except OSError:
            return None
        kept = partfile.resumable(partfile.read_sidecar(self.dest_path),
                                  self.size, self.digest)
        if kept is None or found.st_size != self.size:
            LOG.info('Discarding %s: a residue of another source or of an '
                     'unknown state', self._part.path)
            return None
        LOG.info('Resuming into %s: %d of %d bytes are already there',
                 self._part.path, sum(w - s for s, _, w in kept), self.size)
        return kept

    def _ceiling(self):
        """The most streams this download may run at once."""
        return self.tuning.ceiling if self.tuning else self.streams

    def _watcher(self, opener, started):
        """The crew of this download's streams, and their watcher."""
        tune = (autotune.initial(self.tuning, started)
                if self.tuning else None)
        crew = self._crew = crew_mod.Crew(
            self._table, self._part, opener, self.policy, self.chunk_size,
            self.dest_path, tune.target if tune else self.streams,
            slots=self.slots, clock=self._clock,
            eager=self._ceiling() > 1 and self.far)
        return watcher.Watcher(
            crew, self.digest, self._ceiling(), started, tuning=self.tuning,
            tune=tune, progress=self.progress, min_rate=self.min_rate,
            min_rate_period=self.min_rate_period, deadline=self.deadline)
