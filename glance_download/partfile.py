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

"""The staging part file: space, writes at offsets, and the final rename.

The data goes to ``<dest>.part`` and is renamed to ``<dest>`` only once it
is verified: Glance imports from ``<dest>``, so it never sees unverified
bytes.  Beside the part file, ``<dest>.part.json`` records which source the
bytes come from and which ranges are written, so that an import started
again after glance-api died can keep them instead of starting over.
While Glance's store step follows the download, the bytes it has stored
can be dropped from the part file (:func:`punch`); the sidecar then no
longer counts them.
"""

import ctypes
import ctypes.util
import errno
import functools
import json
import logging
import os
import threading

from glance_download import errors
from glance_download import progress

LOG = logging.getLogger(__name__)

PART_SUFFIX = '.part'
SIDECAR_SUFFIX = '.part.json'
PART_MODE = 0o600
SIDECAR_VERSION = 1

# Chunks are written in slices of at most this many bytes.  Linux gives a
# buffered write page-cache folios as large as the write itself, and large
# folios are what gets slow to allocate when free memory is fragmented or,
# in a virtual machine, was handed back to the hypervisor: there, writing
# 1 GiB in 4 MiB writes took 2.2 s after a few idle seconds, and 0.22 s in
# 256 KiB writes, which are as fast as any size where memory is plentiful.
WRITE_SLICE = 256 * 1024

# Filesystems that cannot allocate ahead answer one of these.
_NO_FALLOCATE = frozenset({errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL})

# fallocate(2) modes: drop a range's blocks, keeping the file's length.
_FALLOC_FL_KEEP_SIZE = 0x01
_FALLOC_FL_PUNCH_HOLE = 0x02


def staging_error(path, exc):
    """The user's message for a failed staging operation; path to the log.

    The staging path is the server's business: the user is told what went
    wrong and what to do, the operator finds the path in the log.
    """
    reason = exc.strerror or type(exc).__name__
    LOG.warning('Staging operation on %s failed: %s', path, reason)
    return errors.TransferError(
        f'The staging area could not be written ({reason}). '
        + errors.afterword(' once the staging area has room and is '
                           'writable'))


def space_error(needed, free):
    """The user's message for a staging area too small for the image."""
    return errors.TransferError(
        f'The staging area of this Glance has {progress.human_size(free)} '
        f'free, and this image needs {progress.human_size(needed)} '
        f'({needed} bytes) there. Nothing was downloaded; the import can be '
        f'retried once the cloud operator has made room in the staging '
        f'area.')


def free_bytes(directory, statvfs=os.statvfs):
    """Bytes an unprivileged writer may still use in ``directory``."""
    stats = statvfs(directory)
    return stats.f_bavail * stats.f_frsize


def source_record(size, digest, segments, released=0):
    """What the sidecar says of a download: its source and its ranges.

    ``segments`` is ``[(start, end, written_up_to), ...]``; the first
    ``released`` bytes were dropped from the part file, so a segment that
    starts below them counts as holding nothing.
    """
    algorithm, hexdigest = digest if digest else (None, None)
    return {'version': SIDECAR_VERSION, 'size': size,
            'algorithm': algorithm, 'hexdigest': hexdigest,
            'segments': [[start, end, start if start < released else written]
                         for start, end, written in segments]}


def resumable(record, size, digest):
    """The segments a residue's sidecar lets an import keep, or None.

    Only a residue of the same source (same declared size and digest) with
    a well-formed range list is kept; anything else is discarded.  An image
    with neither digest can never be resumed: nothing would show that the
    bytes kept belong to it.
    """
    if not isinstance(record, dict) or not digest:
        return None
    if record.get('version') != SIDECAR_VERSION or record.get('size') != size:
        return None
    if (record.get('algorithm'), record.get('hexdigest')) != tuple(digest):
        return None
    found = record.get('segments')
    if not isinstance(found, list) or not found:
        return None
    kept = []
    expected_start = 0
    for item in found:
        if not (isinstance(item, list) and len(item) == 3
                and all(type(v) is int for v in item)):
            return None
        start, end, written = item
        if start != expected_start or not start <= written <= end:
            return None
        kept.append((start, end, written))
        expected_start = end
    if expected_start != size:
        return None
    return kept


def read_sidecar(dest_path):
    """The sidecar record of ``dest_path``'s residue, or None."""
    try:
        with open(os.fspath(dest_path) + SIDECAR_SUFFIX, 'rb') as f:
            return json.loads(f.read(64 * 1024))
    except (OSError, ValueError):
        return None


@functools.lru_cache(maxsize=None)
def _fallocate():
    """The C library's fallocate(2), which os does not offer; or None."""
    library = ctypes.CDLL(ctypes.util.find_library('c'), use_errno=True)
    call = getattr(library, 'fallocate64', None) or getattr(
        library, 'fallocate', None)
    if call is not None:
        call.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int64,
                         ctypes.c_int64)
        call.restype = ctypes.c_int
    return call


def punch(fd, offset, length):
    """Drop ``length`` bytes at ``offset`` from the file, keeping its size.

    Their page cache and blocks are freed at once, dirty or not, and
    they read as zeros afterwards.  False where the system or the
    filesystem cannot.
    """
    call = _fallocate()
    if call is None:
        return False
    if call(fd, _FALLOC_FL_PUNCH_HOLE | _FALLOC_FL_KEEP_SIZE, offset,
            length) == 0:
        return True
    LOG.debug('Stored bytes are kept in staging: fallocate cannot punch '
              'holes here (%s)', os.strerror(ctypes.get_errno()))
    return False


class PartFile:
    """``<dest>.part``, opened for writing at offsets, and its sidecar."""

    def __init__(self, dest_path, statvfs=os.statvfs):
        self.dest_path = os.fspath(dest_path)
        self.path = self.dest_path + PART_SUFFIX
        self.sidecar_path = self.dest_path + SIDECAR_SUFFIX
        self._statvfs = statvfs
        self.fd = None
        # Threads other than the download's record it too (a release);
        # none may write a sidecar once the part file is committed or
        # discarded.
        self._record_lock = threading.Lock()
        self._sealed = False

    def open(self, keep=False):
        """Open the part file, emptied unless ``keep``; the final file goes.

        A final file left by an earlier attempt must not be taken for
        this download's result.
        """
        _remove(self.dest_path)
        self._sealed = False
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
        if not keep:
            flags |= os.O_TRUNC
            _remove(self.sidecar_path)
        try:
            self.fd = os.open(self.path, flags, PART_MODE)
        except OSError as exc:
            raise staging_error(self.path, exc) from exc

    def reserve(self, size):
        """Allocate ``size`` bytes now, or fail saying what is missing.

        Without this, a full staging area shows as a write error after
        most of the image has crossed the network.  Where the filesystem
        cannot allocate ahead, the free space is compared instead.
        """
        try:
            held = os.fstat(self.fd).st_blocks * 512
        except OSError as exc:
            raise staging_error(self.path, exc) from exc
        needed = max(0, size - held)
        directory = os.path.dirname(self.path) or '.'
        free = free_bytes(directory, self._statvfs)
        if needed > free:
            raise space_error(needed, free)
        if size == 0:
            return
        try:
            os.posix_fallocate(self.fd, 0, size)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise space_error(needed, free_bytes(
                    directory, self._statvfs)) from exc
            if exc.errno not in _NO_FALLOCATE:
                raise staging_error(self.path, exc) from exc
            LOG.debug('The staging filesystem cannot allocate ahead (%s); '
                      'free space was checked instead', exc.strerror)
            # Full length all the same, as a residue's check expects.
            try:
                os.ftruncate(self.fd, size)
            except OSError as exc:
                raise staging_error(self.path, exc) from exc

    def write(self, data, offset):
        """Write all of ``data`` at ``offset``, in slices."""
        view = memoryview(data)
        try:
            while view:
                written = os.pwrite(self.fd, view[:WRITE_SLICE], offset)
                view = view[written:]
                offset += written
        except OSError as exc:
            raise staging_error(self.path, exc) from exc

    def read(self, offset, length):
        """Up to ``length`` bytes at ``offset``, as written so far."""
        try:
            return os.pread(self.fd, length, offset)
        except OSError as exc:
            raise staging_error(self.path, exc) from exc

    def record(self, record):
        """Replace the sidecar with ``record``, atomically.

        Nothing once the part file was committed or discarded.
        """
        with self._record_lock:
            if not self._sealed:
                self._record(record)

    def _record(self, record):
        temporary = self.sidecar_path + '.new'
        try:
            fd = os.open(temporary,
                         os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC,
                         PART_MODE)
            try:
                os.write(fd, json.dumps(record).encode())
            finally:
                os.close(fd)
            os.replace(temporary, self.sidecar_path)
        except OSError as exc:
            raise staging_error(self.sidecar_path, exc) from exc

    def commit(self):
        """Close the verified part file and give it its final name."""
        self._seal()
        fd, self.fd = self.fd, None
        try:
            os.close(fd)
            os.replace(self.path, self.dest_path)
        except OSError as exc:
            raise staging_error(self.dest_path, exc) from exc
        _remove_quietly(self.sidecar_path)

    def close(self):
        """Close the file, keeping it; safe to call repeatedly."""
        fd, self.fd = self.fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def discard(self):
        """Close and remove the part file and its sidecar."""
        self._seal()
        self.close()
        for path in (self.path, self.sidecar_path,
                     self.sidecar_path + '.new'):
            _remove_quietly(path)

    def _seal(self):
        with self._record_lock:
            self._sealed = True

    def cleanup(self):
        """Remove everything this download may have staged, final included.

        Used when the import is reverted, so it logs failures instead of
        raising them over the error being handled.
        """
        self.discard()
        _remove_quietly(self.dest_path)


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise staging_error(path, exc) from exc


def _remove_quietly(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        LOG.warning('Could not remove %s: %s', path, exc.strerror)
