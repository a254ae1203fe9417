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

"""The segments of one download: which are claimed, how far each is written.

Bookkeeping only, without I/O: the streams claim the next segment, say how
far they wrote it and give it back when the source refuses them; the hash
follower waits for the contiguous written prefix to grow; the sidecar
records each segment as ``(start, end, written_up_to)``.  One lock guards
the table, so each answer is consistent with the others.

The segments stay in order and cover the image end to end, which is all
the sidecar and the follower rely on: a segment may be cut in two (an
idle stream taking over the tail of the largest one outstanding) without
either of them changing.
"""

import dataclasses
import threading

from glance_download import ranges


@dataclasses.dataclass(eq=False)
class Segment:
    """Bytes [start, end) of the image; ``pos`` is the next one to write.

    ``attempts`` is what the stream holding it has spent on it, so that a
    segment given back and claimed again keeps its count.
    """

    start: int
    end: int
    pos: int
    taken: bool = False
    attempts: int = 0

    @property
    def done(self):
        return self.pos >= self.end


class SegmentTable:
    """The segments of ``size`` bytes, from ``[(start, end, written), ...]``.

    The generation changes each time written bytes are dropped (a restart
    from zero), so that whoever read them knows to start over.
    """

    def __init__(self, size, kept):
        self.size = size
        self._lock = threading.Lock()
        self._advanced = threading.Condition(self._lock)
        self._segments = [Segment(s, e, w) for s, e, w in kept]
        self._generation = 0

    @classmethod
    def plan(cls, size, segment_size, streams, kept=None):
        """The table of a new download, or of a residue's ``kept`` ranges."""
        if kept is None:
            kept = [(start, end, start) for start, end in ranges.segments(
                size, segment_size, streams)]
        return cls(size, kept)

    @property
    def multi(self):
        """True while the image is cut into more than one segment."""
        with self._lock:
            return len(self._segments) > 1

    @property
    def generation(self):
        with self._lock:
            return self._generation

    def claim(self):
        """The next segment nobody holds with bytes left, now held; or None."""
        with self._lock:
            for segment in self._segments:
                if not segment.taken and not segment.done:
                    segment.taken = True
                    return segment
        return None

    def give_back(self, segment):
        """Let another stream claim ``segment``, from where it was left."""
        with self._lock:
            segment.taken = False

    def waiting(self):
        """How many segments with bytes left nobody holds."""
        with self._lock:
            return sum(1 for s in self._segments
                       if not s.taken and not s.done)

    def wrote(self, segment, end):
        """The bytes of ``segment`` are written up to ``end``; True if all."""
        with self._lock:
            segment.pos = end
            self._advanced.notify_all()
            return end >= segment.end

    def restart(self, segment):
        """Drop what ``segment`` holds: it is written again from its start."""
        with self._lock:
            segment.pos = segment.start
            self._generation += 1
            self._advanced.notify_all()

    def whole(self, segment):
        """Make ``segment`` the whole image, the only one, from byte 0."""
        with self._lock:
            segment.start, segment.end = 0, self.size
            self._segments = [segment]
            self._generation += 1
            self._advanced.notify_all()

    def written(self):
        """How many bytes are written, in every segment."""
        with self._lock:
            return sum(s.pos - s.start for s in self._segments)

    def complete(self):
        """True once every segment is written."""
        with self._lock:
            return all(s.done for s in self._segments)

    def record(self):
        """``[(start, end, written_up_to), ...]``, for the sidecar."""
        with self._lock:
            return [(s.start, s.end, s.pos) for s in self._segments]

    def _prefix(self):
        """End of the written bytes counted from 0 (lock held)."""
        for segment in self._segments:
            if not segment.done:
                return segment.pos
        return self.size

    def await_prefix(self, read, generation, stopping, timeout):
        """Wait until there is more to read than ``read`` bytes from 0.

        ``(generation, prefix)`` once the prefix passed ``read`` or the
        generation is no longer ``generation``; None once ``stopping`` is
        set or all ``size`` bytes were read in the same generation.  Each
        wait lasts ``timeout`` seconds at most, so ``stopping`` is seen.
        """
        with self._lock:
            while not stopping.is_set():
                prefix = self._prefix()
                if self._generation != generation:
                    return self._generation, prefix
                if read >= self.size:
                    return None
                if prefix > read:
                    return generation, prefix
                self._advanced.wait(timeout)
        return None

    def wake(self):
        """Wake whoever waits in :meth:`await_prefix`, to look again."""
        with self._lock:
            self._advanced.notify_all()
