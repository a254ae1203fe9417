"""Stream image data into the staging area, resuming and verifying it.

The data goes to ``<dest>.part`` and is renamed to ``<dest>`` only once its
size and digest match what the source image declares: Glance imports from
``<dest>``, so it never sees unverified bytes.  A transfer that breaks
resumes from the byte reached instead of starting over, which is what makes
copying large images between distant regions practical.

Each chunk is hashed in a worker thread while the main thread writes it and
reads the next one; hashlib releases the GIL on large buffers, so a download
takes about as long as the slowest of the network, the disk and the hash,
not their sum.  docs/benchmarks.rst has the figures.
"""

import dataclasses
import enum
import http
import logging
import os
import queue
import re
import threading
import time

import requests
import urllib3.exceptions

from glance_download import errors
from glance_download import retry
from glance_download import verify

LOG = logging.getLogger(__name__)

PART_SUFFIX = '.part'
PART_MODE = 0o600

# Chunks waiting to be hashed.  Two keep the hasher busy while the main
# thread reads; memory stays near (depth + 3) * chunk_size: the queue, the
# chunk being hashed, the one being written and the one being read.
_HASH_QUEUE_DEPTH = 2

# Chunks are written in slices of at most this many bytes.  Linux gives a
# buffered write page-cache folios as large as the write itself, and large
# folios are what gets slow to allocate when free memory is fragmented or,
# in a virtual machine, was handed back to the hypervisor: there, writing
# 1 GiB in 4 MiB writes took 2.2 s after a few idle seconds, and 0.22 s in
# 256 KiB writes, which are as fast as any size where memory is plentiful.
_WRITE_SLICE = 256 * 1024

_CONTENT_RANGE = re.compile(r'bytes\s+(\d+)-(\d+)/(\d+|\*)', re.IGNORECASE)
_UNSATISFIED_RANGE = re.compile(r'bytes\s+\*/(\d+)', re.IGNORECASE)


class Plan(enum.Enum):
    """What to do with a response to a request made at some offset."""

    APPEND = 'append'
    """The body continues the data at the offset asked for."""

    RESTART = 'restart'
    """The body is the whole image: drop what we have, write from byte 0."""

    REFETCH = 'refetch'
    """The body cannot be used: drop what we have and ask from byte 0."""


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


def parse_content_range(value):
    """``(first, last, total)`` of a ``bytes a-b/n`` value, total None for *.

    None when the value is missing or malformed.
    """
    match = _CONTENT_RANGE.fullmatch((value or '').strip())
    if not match:
        return None
    first, last = int(match.group(1)), int(match.group(2))
    total = None if match.group(3) == '*' else int(match.group(3))
    if last < first or (total is not None and last >= total):
        return None
    return first, last, total


def _describe_status(status):
    try:
        return f'HTTP {status} {http.HTTPStatus(status).phrase}'
    except ValueError:
        return f'HTTP {status}'


def plan_resume(status, headers, offset, size):
    """Decide how a non-transient answer to a request at ``offset`` is used.

    ``headers`` is a case-insensitive mapping such as
    ``requests.Response.headers``; ``size`` is the declared image size.

    * 200: the whole image.  From a request at offset 0 it is simply
      appended; at a later offset the server ignored Range, so we restart
      from zero with this very body rather than make another request.
    * 206 starting at ``offset``: resume.  It may end early (the server
      chose a smaller range): the short stream then counts as a break and
      is resumed again.
    * 206 starting elsewhere: the server does not resume correctly; refetch
      from zero, without Range.  At offset 0, where we asked for no range,
      any 206 not starting at 0 is nonsense and fails the transfer.
    * A length (Content-Length of a 200, total of a Content-Range) other
      than ``size``, or 416 when asking past the bytes we have: the source
      data differs from its declared size.  No attempt can fix that.
    * Any other status, a malformed 206 or an encoded body fails the
      transfer without retry.  Transient statuses are the caller's to
      retry before asking here.
    """
    encoding = (headers.get('Content-Encoding') or 'identity').strip().lower()
    if encoding != 'identity':
        raise errors.TransferError(
            f'The source sent the image data with Content-Encoding '
            f'{encoding!r}; it must be sent unencoded to be verified. '
            f'Nothing was activated.')
    if status == 200:
        length = headers.get('Content-Length')
        if length is not None and length.strip().isdigit() and (
                int(length) != size):
            raise verify.mismatch_error('size', f'{size} bytes',
                                        f'{int(length)} bytes announced')
        return Plan.APPEND if offset == 0 else Plan.RESTART
    if status == 206:
        content_range = parse_content_range(headers.get('Content-Range'))
        if content_range is None:
            raise errors.TransferError(
                'The source answered a partial content (HTTP 206) without '
                'a valid Content-Range, so the data cannot be placed. '
                'Nothing was activated; the import can be retried.')
        first, last, total = content_range
        if total is not None and total != size:
            raise verify.mismatch_error('size', f'{size} bytes',
                                        f'{total} bytes announced')
        if last >= size:
            raise verify.oversize_error(size, last + 1)
        if first == offset:
            return Plan.APPEND
        if offset == 0:
            raise errors.TransferError(
                f'The source answered bytes {first}-{last} to a request '
                f'for the whole image. Nothing was activated; the import '
                f'can be retried.')
        return Plan.REFETCH
    if status == 416 and offset > 0:
        match = _UNSATISFIED_RANGE.fullmatch(
            (headers.get('Content-Range') or '').strip())
        held = f'{match.group(1)} bytes' if match else f'{offset} bytes'
        raise verify.mismatch_error('size', f'{size} bytes',
                                    f'{held}, the source has no more')
    raise errors.TransferError(
        f'The source answered {_describe_status(status)} to the image data '
        f'request, which is not retried. Nothing was activated; the import '
        f'can be retried once the source serves the image data.')


def _staging_error(path, exc):
    reason = exc.strerror or type(exc).__name__
    return errors.TransferError(
        f'The staging area could not be written ({path}: {reason}). Nothing '
        f'was activated; the import can be retried once the staging area '
        f'has room and is writable.')


def _describe(exc):
    """Name and text of an exception, without the repetition of wrappers."""
    text = exc.args[0] if exc.args and isinstance(exc.args[0], str) else (
        str(exc))
    return f'{type(exc).__name__}: {text}' if text else type(exc).__name__


class _Broken(Exception):
    """A transfer failure that is not an exception of the transport."""

    def __init__(self, reason, retry_after=None):
        super().__init__(reason)
        self.retry_after = retry_after


class _HashWorker:
    """Hash chunks in a thread, in order, so hashing overlaps the I/O.

    The queue is bounded, which holds the reader back when hashing is the
    slowest stage and keeps memory bounded.  The thread consumes until it
    is told to stop, whatever happens, so ``put`` never blocks for good.
    """

    _RESET = object()
    _STOP = object()

    def __init__(self, algorithm):
        self.algorithm = algorithm
        self._hash = verify.new_hash(algorithm)
        self._queue = queue.Queue(maxsize=_HASH_QUEUE_DEPTH)
        self._abandoned = threading.Event()
        self._error = None
        self._thread = threading.Thread(
            target=self._run, name='glance-download-hash', daemon=True)
        self._thread.start()

    def _run(self):
        while True:
            item = self._queue.get()
            if item is self._STOP:
                return
            if self._abandoned.is_set() or self._error is not None:
                continue
            try:
                if item is self._RESET:
                    self._hash = verify.new_hash(self.algorithm)
                else:
                    self._hash.update(item)
            except BaseException as exc:  # handed over to the main thread
                self._error = exc

    def _raise_error(self):
        if self._error is not None:
            raise self._error

    def feed(self, chunk):
        self._raise_error()
        self._queue.put(chunk)

    def reset(self):
        """Start over: chunks fed from now on begin at byte 0."""
        self._queue.put(self._RESET)

    def _join(self):
        if self._thread.is_alive():
            self._queue.put(self._STOP)
            self._thread.join()

    def hexdigest(self):
        """Wait for the chunks fed so far; their digest."""
        self._join()
        self._raise_error()
        return self._hash.hexdigest()

    def abandon(self):
        """Stop without hashing what is still queued; idempotent."""
        self._abandoned.set()
        self._join()


class StagedDownload:
    """One image's data, downloaded into the staging area and verified.

    ``progress(bytes_done, total)`` is called after every chunk written;
    it must be cheap or throttle itself, and may raise
    :class:`errors.Aborted` to stop the download at once.  After a restart
    from zero, ``bytes_done`` starts again from zero.

    ``policy`` bounds the attempts: the first request, each resume and each
    restart take one.  The backoff doubles only while attempts fail without
    receiving data; one that made progress starts it over.
    """

    def __init__(self, dest_path, size, digest, chunk_size, policy,
                 progress=None):
        if not isinstance(size, int) or size < 0:
            raise ValueError('size must be a non-negative int')
        if chunk_size < 1:
            raise ValueError('chunk_size must be positive')
        self.dest_path = os.fspath(dest_path)
        self.part_path = self.dest_path + PART_SUFFIX
        self.size = size
        self.digest = digest
        self.chunk_size = chunk_size
        self.policy = policy
        self.progress = progress
        self._offset = 0

    def run(self, opener):
        """Download, verify, and move the data to ``dest_path``.

        ``opener(offset)`` returns a streamed ``requests.Response``, having
        asked for ``Range: bytes=<offset>-`` when offset > 0 (and, so the
        bytes can be verified, ``Accept-Encoding: identity``).  It raises
        :class:`errors.GlanceDownloadError` for answers no retry can fix.
        On any failure, nothing is left at either path.
        """
        started = time.monotonic()
        self._remove(self.dest_path)
        fd = self._open_part()
        hasher = _HashWorker(self.digest[0]) if self.digest else None
        try:
            attempts, resumes, restarts = self._transfer(opener, fd, hasher)
            hexdigest = hasher.hexdigest() if hasher else None
            verify.check(self.size, self.digest, self._offset, hexdigest)
            closing, fd = fd, None
            self._close(closing)
            try:
                os.replace(self.part_path, self.dest_path)
            except OSError as exc:
                raise _staging_error(self.dest_path, exc) from exc
        except BaseException:
            if hasher:
                hasher.abandon()
            if fd is not None:
                self._close_quietly(fd)
            self._remove_quietly(self.part_path)
            raise
        result = DownloadResult(
            bytes=self._offset,
            algorithm=self.digest[0] if self.digest else None,
            hexdigest=hexdigest, attempts=attempts, resumes=resumes,
            restarts=restarts, seconds=time.monotonic() - started)
        LOG.debug('Downloaded and verified %d bytes (%s) into %s in %.1f s: '
                  '%d attempt(s), %d resume(s), %d restart(s)',
                  result.bytes, result.algorithm or 'size only',
                  self.dest_path, result.seconds, attempts, resumes, restarts)
        return result

    def cleanup(self):
        """Remove the partial and the final file; safe to call repeatedly.

        Used when the import is reverted, so it logs failures instead of
        raising them over the error being handled.
        """
        for path in (self.part_path, self.dest_path):
            self._remove_quietly(path)

    def _transfer(self, opener, fd, hasher):
        """Run attempts until all bytes are written; the counters."""
        self._offset = 0
        attempts = resumes = restarts = failures = 0
        while True:
            attempts += 1
            start = self._offset
            response = None
            try:
                response = opener(start)
                status = response.status_code
                if retry.is_transient_status(status):
                    raise _Broken(_describe_status(status),
                                  response.headers.get('Retry-After'))
                plan = plan_resume(status, response.headers, start, self.size)
                if plan is Plan.APPEND:
                    if start:
                        resumes += 1
                else:
                    restarts += 1
                    self._truncate(fd, hasher)
                    if plan is Plan.REFETCH:
                        raise _Broken('the source answered another byte '
                                      'range than asked; starting over')
                self._copy(response.raw, fd, hasher)
                if self._offset == self.size:
                    return attempts, resumes, restarts
                raise _Broken(f'the data stream ended after {self._offset} '
                              f'of {self.size} bytes')
            except errors.GlanceDownloadError:
                raise
            except Exception as exc:
                if not (isinstance(exc, _Broken)
                        or retry.is_transient_exception(exc)):
                    if isinstance(exc, (requests.RequestException,
                                        urllib3.exceptions.HTTPError)):
                        raise errors.TransferError(
                            f'The image data could not be requested from '
                            f'the source ({_describe(exc)}). Nothing was '
                            f'activated.') from exc
                    raise
                failures = 1 if self._offset > start else failures + 1
                self._retry_or_give_up(exc, attempts, failures)
            finally:
                if response is not None:
                    response.close()

    def _retry_or_give_up(self, exc, attempts, failures):
        reason = (str(exc) if isinstance(exc, _Broken)
                  else _describe(exc)).rstrip('.')
        if not self.policy.allows_another(attempts):
            raise errors.TransferError(
                f'The image data could not be downloaded from the source: '
                f'{attempts} attempt(s) failed, the last one at byte '
                f'{self._offset} of {self.size} with {reason}. Nothing was '
                f'activated; the import can be retried.') from exc
        retry_after = getattr(exc, 'retry_after', None)
        delay = self.policy.delay_for(failures, retry_after)
        LOG.warning('Image data download into %s broke at byte %d of %d '
                    '(attempt %d of %d: %s); trying again in %.1f s from '
                    'the byte reached', self.dest_path, self._offset,
                    self.size, attempts, self.policy.max_attempts, reason,
                    delay)
        self.policy.sleep(delay)

    def _copy(self, raw, fd, hasher):
        """Stream the body to the file from ``self._offset`` until it ends.

        The loop ends: every pass adds at least one byte and more than
        ``size`` bytes are refused; each read is bounded by the read
        timeout the opener set.
        """
        read = raw.read
        chunk_size = self.chunk_size
        size = self.size
        while True:
            chunk = read(chunk_size)
            if not chunk:
                return
            end = self._offset + len(chunk)
            if end > size:
                raise verify.oversize_error(size, end)
            if hasher:
                hasher.feed(chunk)
            self._write(fd, chunk, self._offset)
            self._offset = end
            if self.progress:
                self.progress(end, size)

    def _write(self, fd, data, offset):
        view = memoryview(data)
        try:
            while view:
                written = os.pwrite(fd, view[:_WRITE_SLICE], offset)
                view = view[written:]
                offset += written
        except OSError as exc:
            raise _staging_error(self.part_path, exc) from exc

    def _truncate(self, fd, hasher):
        try:
            os.ftruncate(fd, 0)
        except OSError as exc:
            raise _staging_error(self.part_path, exc) from exc
        if hasher:
            hasher.reset()
        self._offset = 0

    def _open_part(self):
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
        try:
            return os.open(self.part_path, flags, PART_MODE)
        except OSError as exc:
            raise _staging_error(self.part_path, exc) from exc

    def _close(self, fd):
        try:
            os.close(fd)
        except OSError as exc:
            raise _staging_error(self.part_path, exc) from exc

    def _remove(self, path):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise _staging_error(path, exc) from exc

    @staticmethod
    def _close_quietly(fd):
        try:
            os.close(fd)
        except OSError:
            pass

    @staticmethod
    def _remove_quietly(path):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            LOG.warning('Could not remove %s: %s', path, exc.strerror)
