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

"""The staged data, served to Glance's store step while it still arrives.

Glance's store step reads the staged file from start to end.  This reader
gives it the bytes of the part file as the download writes them, in
order, and blocks while the next byte has not arrived.  Its end is the
verdict: the last read returns ``b''`` only once the download finished
and verified every byte, and raises the download's error otherwise, so
that the store drops what it wrote and nothing unverified becomes active.
When it is the staged data's only reader, it drops what it served from
the file as it goes (overlap.releases).
See doc/source/admin/overlapped-store.rst.

The ``feed`` is the running download (overlap.BackgroundDownload):
``await_prefix(read, generation)`` is the segment table's wait for the
contiguous written prefix, None once the download stopped,
``verdict()`` waits for its end and raises its error, and
``release(read)`` says how many bytes from 0 may leave the file.
"""

import os

from glance_download import errors
from glance_download import overlap
from glance_download import partfile


class FollowingReader:
    """File-like reader of ``size`` bytes at ``path`` as ``feed`` writes them.

    It reads the part file through its own descriptor, which stays valid
    when the download renames the file on completion.  ``release``: it
    drops the bytes it served, a block at a time, as far as the feed
    allows.
    """

    def __init__(self, path, size, feed, chunk_size, release=False):
        self._fd = os.open(path, os.O_RDWR if release else os.O_RDONLY)
        self._size = size
        self._feed = feed
        self._chunk_size = chunk_size
        self._release = release
        self._released = 0
        self._offset = 0
        self._prefix = 0
        self._generation = None
        self._ended = False

    def read(self, size=-1):
        if self._ended:
            return b''
        if self._offset >= self._size:
            self._feed.verdict()
            self._ended = True
            return b''
        if self._prefix <= self._offset:
            self._prefix = self._wait()
        wanted = size if size is not None and size > 0 else self._chunk_size
        count = min(wanted, self._prefix - self._offset)
        data = os.pread(self._fd, count, self._offset)
        if len(data) != count:
            raise errors.TransferError(
                'The staging area returned fewer bytes than were written '
                'to it. ' + errors.afterword())
        self._offset += count
        if self._release and (
                self._offset - self._released >= overlap.RELEASE_BLOCK):
            self._drop()
        return data

    def _drop(self):
        """Drop the bytes served that the feed lets go, from the file."""
        allowed = self._feed.release(self._offset)
        if allowed > self._released:
            self._release = partfile.punch(self._fd, self._released,
                                           allowed - self._released)
            self._released = allowed

    def _wait(self):
        """The written prefix, once it passed the bytes served."""
        while True:
            seen = self._feed.await_prefix(self._offset, self._generation)
            if seen is None:
                # Stopped: a failure raises; a success wrote every byte.
                self._feed.verdict()
                return self._size
            generation, prefix = seen
            if self._generation is None:
                self._generation = generation
            elif generation != self._generation:
                # The bytes served are gone from the file; the store holds
                # them, and only a new import can start over.
                raise errors.TransferError(
                    'The download started over from the first byte while '
                    'Glance was already storing the data, which it cannot '
                    'take back. ' + errors.afterword())
            if prefix > self._offset:
                return prefix

    def __iter__(self):
        return self

    def __next__(self):
        data = self.read(self._chunk_size)
        if not data:
            raise StopIteration
        return data

    def close(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
