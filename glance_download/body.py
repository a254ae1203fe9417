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

"""An answer's body, written into the part file at its segment's offsets.

No byte is written past the segment, which a split may have shortened
while the body arrives; a body longer than the image is refused.  Where
the source sent the whole image again, the bytes already written are
compared with it instead of overwritten: they may have been read.
"""

import logging

from glance_download import breaks
from glance_download import streams as streams_mod
from glance_download import verify

LOG = logging.getLogger(__name__)


class BodyWriter:
    """The body of one answer, for ``segment``, until it ends.

    ``compare`` bytes from 0 were written by an earlier answer and are
    compared with this one; ``broken()`` is why the watching thread broke
    the attempt off, or None.
    """

    def __init__(self, crew, segment, compare, broken):
        self.crew = crew
        self.segment = segment
        self._compare = compare
        self._broken = broken

    def copy(self, response):
        """Write the body at the segment's position until it ends.

        The loop ends: every pass adds at least one byte and more than
        ``size`` bytes are refused; each read is bounded by the read
        timeout the opener set, and the watching thread breaks off a
        stream that trickles.  The crew counts the stream as flowing from
        its first byte written to the end of the body.
        """
        crew = self.crew
        segment = self.segment
        size = crew.size
        flowing = False
        try:
            while True:
                chunk = streams_mod.read(response, self._want())
                if not chunk:
                    return
                if crew.stopping.is_set():
                    raise breaks.Stopped()
                reason = self._broken()
                if reason:
                    raise breaks.Broken(reason)
                if crew.dropped(segment):
                    raise breaks.GiveBack()
                position = segment.pos
                end = position + len(chunk)
                if end > segment.end:
                    if segment.end >= size:
                        raise verify.oversize_error(size, end)
                    chunk = chunk[:segment.end - position]
                    end = segment.end
                self._write(chunk, position)
                if not flowing:
                    flowing = True
                    crew.flows(True)
                if crew.table.wrote(segment, end):
                    crew.notify()
                    if end < size:
                        return
                elif crew.promptly and crew.retire():
                    crew.table.give_back(segment)
                    LOG.debug('A stream into %s gives back bytes %d-%d: '
                              'fewer streams are wanted', crew.dest_path,
                              segment.pos, segment.end - 1)
                    raise breaks.Retired()
        finally:
            if flowing:
                crew.flows(False)

    def _write(self, chunk, position):
        """Write ``chunk`` at ``position``; compare what is there already.

        Bytes below ``compare`` were written by an earlier answer and may
        have been read: equal, they stay; different, the download starts
        over in a new generation.
        """
        crew = self.crew
        same = min(position + len(chunk), self._compare) - position
        if same > 0:
            if crew.part.read(position, same) != chunk[:same]:
                crew.table.restart(self.segment)
                raise breaks.Broken('the source sent other bytes than before '
                                    'for the same image; starting over')
            chunk, position = chunk[same:], position + same
        if chunk:
            crew.part.write(chunk, position)

    def _want(self):
        """Bytes to read next: a chunk, or what is left of the segment.

        A segment whose end was moved by a split ends where the other
        stream starts, and no byte past it is read.  The last segment is
        read by whole chunks, so that a source sending more than the
        image's size is seen.
        """
        crew = self.crew
        segment = self.segment
        if segment.end >= crew.size:
            return crew.chunk_size
        return max(1, min(crew.chunk_size, segment.end - segment.pos))
