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
TCP stream carries far less than the link, several carry it all.  Small
images, a single configured stream, or a remote that ignores Range make it
one stream, as the whole image.

A stream that breaks resumes its segment from the byte reached, with the
retry policy's backoff and bounded attempts.  The digest is computed once,
over every byte in order, by a follower reading back the contiguous prefix
as it grows: it ends moments after the last byte, and memory stays bounded
by streams x chunk size.  The thread that called :meth:`run` watches the
streams on a clock: progress and the abort checks run even while no byte
arrives, a stream slower than the minimum rate is broken off and resumed,
and the whole download has an optional deadline.
"""

import dataclasses
import functools
import logging
import os
import threading
import time

import requests

from glance_download import errors
from glance_download import partfile
from glance_download import ranges
from glance_download import retry
from glance_download import streams as streams_mod
from glance_download import verify

LOG = logging.getLogger(__name__)


# Seconds between two looks of the watching thread at the streams.
_TICK = 0.25
# Seconds between two updates of the sidecar's record of written ranges.
_RECORD_EVERY = 2.0
# Thread names, so that tests can see none is left behind.
STREAM_THREAD = 'glance-download-stream'
HASH_THREAD = 'glance-download-hash'


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


def _describe(exc):
    """Name and text of an exception, without the repetition of wrappers."""
    text = exc.args[0] if exc.args and isinstance(exc.args[0], str) else (
        str(exc))
    return f'{type(exc).__name__}: {text}' if text else type(exc).__name__


def size_cap_error(size, cap):
    """The user's message for an image larger than this Glance accepts."""
    return errors.TransferError(
        f'The source image is {size} bytes, more than this Glance accepts '
        f'(image_size_cap = {cap} bytes). Nothing was downloaded; ask your '
        f'cloud operator to raise image_size_cap if the image should fit.')


class _Broken(Exception):
    """A transfer failure that is not an exception of the transport."""

    def __init__(self, reason, retry_after=None):
        super().__init__(reason)
        self.retry_after = retry_after


class _Stopped(Exception):
    """The download is being stopped; the stream just ends."""


class _GiveBack(Exception):
    """An extra stream was refused: its segment goes back to the others."""


@dataclasses.dataclass(eq=False)
class _Segment:
    """Bytes [start, end) of the image; ``pos`` is the next one to write."""

    start: int
    end: int
    pos: int
    taken: bool = False
    attempts: int = 0
    response: object = None
    handle: object = None
    broken: str | None = None
    window_at: float = 0.0
    window_pos: int = 0

    @property
    def done(self):
        return self.pos >= self.end


class _Follower:
    """Hash the contiguous written prefix, in order, as it grows.

    It reads the bytes back from the part file, so nothing is queued for
    it: memory stays bounded whatever the streams do.  When a restart
    drops the prefix, the generation changes and the hash starts over.
    """

    def __init__(self, download, algorithm):
        self._download = download
        self._algorithm = algorithm
        self._hash = verify.new_hash(algorithm)
        self._hashed = 0
        self._generation = None
        self._error = None
        self._thread = threading.Thread(target=self._run, name=HASH_THREAD,
                                        daemon=True)
        self._thread.start()

    def _run(self):
        download = self._download
        try:
            while True:
                with download._lock:
                    while True:
                        if download._stopping.is_set():
                            return
                        generation = download._generation
                        prefix = download._prefix()
                        if generation != self._generation:
                            break
                        if self._hashed >= download.size:
                            return
                        if prefix > self._hashed:
                            break
                        download._advanced.wait(_TICK)
                if generation != self._generation:
                    self._hash = verify.new_hash(self._algorithm)
                    self._hashed = 0
                    self._generation = generation
                    continue
                data = download._part.read(
                    self._hashed,
                    min(download.chunk_size, prefix - self._hashed))
                with download._lock:
                    if generation != download._generation:
                        continue
                if not data:
                    raise errors.TransferError(
                        'The staging area returned fewer bytes than were '
                        'written to it. ' + errors.afterword())
                self._hash.update(data)
                self._hashed += len(data)
        except BaseException as exc:  # handed over to the watching thread
            with download._lock:
                self._error = exc
                download._changed.notify_all()

    @property
    def error(self):
        return self._error

    def hexdigest(self):
        """The digest of every byte, once the follower has read them all."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._hash.hexdigest()

    def join(self):
        self._thread.join()


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

    ``streams`` (at most) fetch segments of ``segment_size`` bytes at once,
    each stream holding one of ``slots``, the process-wide stream count.
    A stream slower than ``min_rate`` bytes/s over ``min_rate_period``
    seconds is broken off and resumed; ``deadline`` seconds, if set, bound
    the whole download.  An image over ``max_size`` bytes is refused before
    anything is requested.
    """

    def __init__(self, dest_path, size, digest, chunk_size, policy,
                 progress=None, streams=1, segment_size=64 * 1024 * 1024,
                 slots=None, min_rate=0, min_rate_period=60.0,
                 deadline=None, max_size=None, statvfs=os.statvfs,
                 clock=time.monotonic):
        if not isinstance(size, int) or size < 0:
            raise ValueError('size must be a non-negative int')
        if chunk_size < 1:
            raise ValueError('chunk_size must be positive')
        if streams < 1:
            raise ValueError('streams must be at least 1')
        self.dest_path = os.fspath(dest_path)
        self.size = size
        self.digest = digest
        self.chunk_size = chunk_size
        self.policy = policy
        self.progress = progress
        self.streams = streams
        self.segment_size = segment_size
        self.slots = slots
        self.min_rate = min_rate
        self.min_rate_period = min_rate_period
        self.deadline = deadline
        self.max_size = max_size
        self._clock = clock
        self._part = partfile.PartFile(self.dest_path, statvfs=statvfs)
        self._lock = threading.Lock()
        self._advanced = threading.Condition(self._lock)
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._segments = []
        self._generation = 0
        self._multi = False
        self._ranged = False
        self._max_streams = streams
        self._active = 0
        self._most_streams = 0
        self._workers = []
        self._error = None
        self._attempts = self._resumes = self._restarts = 0

    # The download as a whole, run by the calling thread.

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
        if self.max_size is not None and self.size > self.max_size:
            raise size_cap_error(self.size, self.max_size)
        part = self._part
        try:
            kept = self._residue()
            part.open(keep=kept is not None)
            self._plan(kept)
            part.reserve(self.size)
            part.record(self._record())
            hexdigest = self._transfer(opener, started)
            done = self._done()
            verify.check(self.size, self.digest, done, hexdigest)
            part.commit()
        except BaseException:
            part.discard()
            raise
        result = DownloadResult(
            bytes=done, algorithm=self.digest[0] if self.digest else None,
            hexdigest=hexdigest, attempts=self._attempts,
            resumes=self._resumes, restarts=self._restarts,
            seconds=self._clock() - started, streams=self._most_streams)
        LOG.debug('Downloaded and verified %d bytes (%s) into %s in %.1f s '
                  'over up to %d stream(s): %d attempt(s), %d resume(s), '
                  '%d restart(s)', result.bytes,
                  result.algorithm or 'size only', self.dest_path,
                  result.seconds, result.streams, result.attempts,
                  result.resumes, result.restarts)
        return result

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

    def _plan(self, kept):
        if kept is None:
            kept = [(start, end, start) for start, end in ranges.segments(
                self.size, self.segment_size, self.streams)]
        self._segments = [_Segment(s, e, w) for s, e, w in kept]
        self._multi = len(self._segments) > 1

    def _record(self):
        return partfile.source_record(
            self.size, self.digest,
            [(s.start, s.end, s.pos) for s in self._segments])

    def _done(self):
        return sum(s.pos - s.start for s in self._segments)

    def _prefix(self):
        """End of the written bytes counted from 0 (lock held)."""
        for segment in self._segments:
            if not segment.done:
                return segment.pos
        return self.size

    def _transfer(self, opener, started):
        """Run the streams until every byte is written; the hexdigest."""
        self._opener = opener
        follower = _Follower(self, self.digest[0]) if self.digest else None
        recorded = self._clock()
        try:
            self._start_stream(first=True)
            while True:
                with self._lock:
                    if not self._finished():
                        self._changed.wait(_TICK)
                    error = self._error or (follower and follower.error)
                    finished = self._finished()
                    snapshot = (self._done(), self._active)
                if error is not None:
                    raise error
                if finished:
                    break
                now = self._clock()
                self._watch(now, started)
                self._grow()
                if self.progress:
                    self.progress(snapshot[0], self.size,
                                  max(1, snapshot[1]))
                if now - recorded >= _RECORD_EVERY:
                    with self._lock:
                        record = self._record()
                    self._part.record(record)
                    recorded = now
            if self.progress:
                self.progress(self._done(), self.size,
                              max(1, self._most_streams))
            return follower.hexdigest() if follower else None
        finally:
            self._stop()
            if follower:
                follower.join()

    def _finished(self):
        """All segments written and every stream gone (lock held)."""
        return self._active == 0 and all(s.done for s in self._segments)

    def _stop(self):
        self._stopping.set()
        with self._lock:
            handles = [s.handle for s in self._segments if s.handle]
            self._advanced.notify_all()
        for handle in handles:
            streams_mod.interrupt(handle)
        for worker in self._workers:
            worker.join()

    def _watch(self, now, started):
        """The deadline, and the minimum rate of each stream."""
        if self.deadline and now - started > self.deadline:
            raise errors.TransferError(
                f'The image data did not arrive within the '
                f'{self.deadline:.0f} s allowed ([glance_download] '
                f'download_timeout): {self._done()} of {self.size} bytes '
                f'arrived. '
                + errors.afterword(' when the source or the link is '
                                   'faster'))
        if not self.min_rate:
            return
        slow = []
        with self._lock:
            for segment in self._segments:
                if segment.response is None or segment.broken:
                    continue
                elapsed = now - segment.window_at
                if elapsed < self.min_rate_period:
                    continue
                rate = (segment.pos - segment.window_pos) / elapsed
                if rate < self.min_rate:
                    segment.broken = (
                        f'{rate:.0f} bytes/s for {elapsed:.0f} s, below '
                        f'the minimum of {self.min_rate} bytes/s')
                    slow.append(segment.handle)
                else:
                    segment.window_at = now
                    segment.window_pos = segment.pos
        for handle in slow:
            streams_mod.interrupt(handle)

    def _grow(self):
        """Add streams while segments wait and the remote allows them."""
        for _ in range(self.streams):
            with self._lock:
                waiting = sum(1 for s in self._segments
                              if not s.taken and not s.done)
                wanted = (self._multi and self._ranged and waiting
                          and self._active < self._max_streams)
            if not wanted or not (self.slots is None
                                  or self.slots.acquire(wait=False)):
                return
            self._start_stream(first=False)

    def _start_stream(self, first):
        with self._lock:
            self._active += 1
            self._most_streams = max(self._most_streams, self._active)
        worker = threading.Thread(target=self._stream, args=(first,),
                                  name=STREAM_THREAD, daemon=True)
        self._workers.append(worker)
        worker.start()

    # One stream, in a thread of its own.

    def _stream(self, first):
        """Fetch segments one after the other until none is left."""
        holding = not first or self.slots is None
        try:
            if not holding:
                holding = self.slots.acquire(wait=True,
                                             stopping=self._stopping)
                if not holding:
                    return
            while not self._stopping.is_set():
                segment = self._take()
                if segment is None:
                    return
                try:
                    self._fetch(segment)
                except _GiveBack:
                    return
        except _Stopped:
            pass
        except BaseException as exc:  # handed over to the watching thread
            with self._lock:
                if self._error is None:
                    self._error = exc
        finally:
            if holding and self.slots is not None:
                self.slots.release()
            with self._lock:
                self._active -= 1
                self._changed.notify_all()

    def _take(self):
        with self._lock:
            for segment in self._segments:
                if not segment.taken and not segment.done:
                    segment.taken = True
                    return segment
        return None

    def _open(self, segment):
        if segment.end >= self.size:
            return self._opener(segment.pos)
        return self._opener(segment.pos, segment.end)

    def _fetch(self, segment):
        """Run attempts until the segment is written."""
        retry.run(self.policy, functools.partial(self._attempt, segment),
                  made=segment.attempts, interrupt=self._stopping)

    def _attempt(self, segment, number):
        """One request for the rest of the segment, and its body."""
        if self._stopping.is_set():
            raise _Stopped()
        with self._lock:
            self._attempts += 1
            segment.attempts = number
        start = segment.pos
        response = handle = None
        try:
            response = self._open(segment)
            handle = streams_mod.handle_of(response)
            with self._lock:
                segment.response = response
                segment.handle = handle
                segment.broken = None
                segment.window_at = self._clock()
                segment.window_pos = segment.pos
            if self._stopping.is_set():
                raise _Stopped()
            self._use(response, segment, start)
            self._copy(response, segment)
            if segment.done:
                return
            raise _Broken(f'the data stream ended after {segment.pos} '
                          f'of {self.size} bytes')
        except (errors.GlanceDownloadError, _Stopped, _GiveBack):
            raise
        except Exception as exc:
            if self._stopping.is_set():
                raise _Stopped() from exc
            if segment.broken:
                exc = _Broken(segment.broken)
            if not (isinstance(exc, _Broken)
                    or retry.is_transient_exception(exc)):
                if isinstance(exc, requests.RequestException):
                    raise errors.TransferError(
                        f'The image data could not be requested from '
                        f'the source ({_describe(exc)}). Nothing was '
                        f'activated.') from exc
                raise
            raise self._transient(exc, segment,
                                  segment.pos > start) from exc
        finally:
            with self._lock:
                segment.response = segment.handle = None
            if response is not None:
                response.close()
            streams_mod.release(handle)

    def _use(self, response, segment, start):
        """Check the answer; make the segment ready for its body."""
        status = response.status_code
        if retry.is_transient_status(status):
            with self._lock:
                others = self._active > 1
                if others and status in (429, 503):
                    self._max_streams = max(1, self._active - 1)
                    segment.taken = False
            if others and status in (429, 503):
                LOG.info('The source answered %s to an extra stream into '
                         '%s; going on with fewer streams',
                         ranges.describe_status(status), self.dest_path)
                raise _GiveBack()
            raise _Broken(ranges.describe_status(status),
                          response.headers.get('Retry-After'))
        plan = ranges.plan_resume(status, response.headers, start, self.size)
        if status == 200 and self._multi:
            self._single_stream(segment)
        elif self._multi and plan is not ranges.Plan.APPEND:
            raise _Broken('the source answered another byte range than '
                          'asked')
        elif status == 206 and self._multi and not self._ranged:
            with self._lock:
                self._ranged = True
                self._changed.notify_all()
        if plan is ranges.Plan.APPEND:
            if start > segment.start:
                with self._lock:
                    self._resumes += 1
            return
        with self._lock:
            self._restarts += 1
        self._restart(segment)
        if plan is ranges.Plan.REFETCH:
            raise _Broken('the source answered another byte range than '
                          'asked; starting over')

    def _single_stream(self, segment):
        """The remote sent the whole image: one stream takes it all."""
        with self._lock:
            if self._ranged:
                raise _Broken('the source answered the whole image to a '
                              'ranged request')
            LOG.info('The source ignores Range; downloading into %s over '
                     'one stream', self.dest_path)
            segment.start, segment.end = 0, self.size
            self._segments = [segment]
            self._multi = False
            self._max_streams = 1
            self._generation += 1
            self._advanced.notify_all()

    def _restart(self, segment):
        with self._lock:
            segment.pos = segment.start
            self._generation += 1
            self._advanced.notify_all()

    def _copy(self, response, segment):
        """Write the body at the segment's position until it ends.

        The loop ends: every pass adds at least one byte and more than
        ``size`` bytes are refused; each read is bounded by the read
        timeout the opener set, and the watching thread breaks off a
        stream that trickles.
        """
        size = self.size
        for chunk in response.iter_content(self.chunk_size):
            if self._stopping.is_set():
                raise _Stopped()
            if segment.broken:
                raise _Broken(segment.broken)
            if not chunk:
                continue
            position = segment.pos
            end = position + len(chunk)
            if end > segment.end:
                if segment.end >= size:
                    raise verify.oversize_error(size, end)
                chunk = chunk[:segment.end - position]
                end = segment.end
            self._part.write(chunk, position)
            with self._lock:
                segment.pos = end
                self._advanced.notify_all()
                if end == segment.end:
                    self._changed.notify_all()
            if end == segment.end and end < size:
                return

    def _transient(self, exc, segment, progressed):
        reason = (str(exc) if isinstance(exc, _Broken)
                  else _describe(exc)).rstrip('.')
        pos = segment.pos

        def give_up(attempts):
            return errors.TransferError(
                f'The image data could not be downloaded from the source: '
                f'{attempts} attempt(s) failed, the last one at byte {pos} '
                f'of {self.size} with {reason}. '
                f'{errors.afterword()}')
        return retry.Transient(
            reason, f'Image data download into {self.dest_path} broke at '
            f'byte {pos} of {self.size}', give_up,
            getattr(exc, 'retry_after', None), progressed)
