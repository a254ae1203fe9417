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

"""The digest of the image data, computed as the data arrives.

The digest is computed once, over every byte in order, by a follower
reading back the contiguous written prefix of the part file as it grows:
it ends moments after the last byte, and memory stays bounded by streams
x chunk size whatever order the segments arrive in.
"""

import threading

from glance_download import errors
from glance_download import verify

# Seconds a wait for more written bytes lasts before the stop is looked at.
_TICK = 0.25
# Thread name, so that tests can see none is left behind.
HASH_THREAD = 'glance-download-hash'


class HashFollower:
    """Hash the contiguous written prefix, in order, as it grows.

    It reads the bytes back from the part file, so nothing is queued for
    it: memory stays bounded whatever the streams do.  When a restart
    drops the prefix, the generation changes and the hash starts over.
    It uses the ``crew``'s segment table, part file, chunk size and stop
    flag, and hands a failure over under ``crew.changed``.
    """

    def __init__(self, crew, algorithm):
        self._crew = crew
        self._algorithm = algorithm
        self._hash = verify.new_hash(algorithm)
        self._hashed = 0
        self._generation = None
        self._error = None
        self._thread = threading.Thread(target=self._run, name=HASH_THREAD,
                                        daemon=True)
        self._thread.start()

    def _run(self):
        crew = self._crew
        table = crew.table
        try:
            while True:
                seen = table.await_prefix(self._hashed, self._generation,
                                          crew.stopping, _TICK)
                if seen is None:
                    return
                generation, prefix = seen
                if generation != self._generation:
                    self._hash = verify.new_hash(self._algorithm)
                    self._hashed = 0
                    self._generation = generation
                    continue
                data = crew.part.read(
                    self._hashed, min(crew.chunk_size, prefix - self._hashed))
                if generation != table.generation:
                    continue
                if not data:
                    raise errors.TransferError(
                        'The staging area returned fewer bytes than were '
                        'written to it. ' + errors.afterword())
                self._hash.update(data)
                self._hashed += len(data)
        except BaseException as exc:  # handed over to the watching thread
            with crew.changed:
                self._error = exc
                crew.changed.notify_all()

    @property
    def error(self):
        return self._error

    @property
    def hashed(self):
        """Bytes from 0 hashed so far."""
        return self._hashed

    def hexdigest(self):
        """The digest of every byte, once the follower has read them all."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._hash.hexdigest()

    def join(self):
        self._thread.join()
