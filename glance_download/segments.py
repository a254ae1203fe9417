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
the sidecar and the follower rely on: a segment is cut in two when an idle
stream takes over the second half of the largest one outstanding, and
both halves are recorded like any other segment, so a download resumed
after a crash finds them as they were.
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

    ``min_split`` (None: never) is the fewest bytes each half of a split
    segment gets; it is at least ``margin``, the most bytes a stream may
    be writing at once past the position the split sees, so that a stream
    never writes into the half taken from it.
    """

    def __init__(self, size, kept, min_split=None, margin=0):
        self.size = size
        self._lock = threading.Lock()
        self._advanced = threading.Condition(self._lock)
        self._segments = [Segment(s, e, w) for s, e, w in kept]
        self._generation = 0
        self._min_split = (max(min_split, margin, 1)
                           if min_split is not None else None)

    @classmethod
    def plan(cls, size, segment_size, streams, kept=None, min_split=None,
             margin=0):
        """The table of a new download, or of a residue's ``kept`` ranges.

        Segments are split only when ``streams`` is above 1.
        """
        if kept is None:
            kept = [(start, end, start) for start, end in ranges.segments(
                size, segment_size, streams)]
        return cls(size, kept, min_split if streams > 1 else None, margin)

    @property
    def multi(self):
        """True while the image may be fetched over more than one stream.

        That is, while it is cut into several segments or one can still
        be split.
        """
        with self._lock:
            return len(self._segments) > 1 or (
                self._min_split is not None
                and self.size >= 2 * self._min_split)

    @property
    def generation(self):
        with self._lock:
            return self._generation

    def claim(self):
        """A segment with bytes left, now held by the caller; or None.

        The first one nobody holds, or else the second half of the largest
        one still outstanding, split at the middle of its remaining bytes.
        """
        with self._lock:
            for segment in self._segments:
                if not segment.taken and not segment.done:
                    segment.taken = True
                    return segment
            return self._split()

    def _split(self):
        """Cut the held segment with the most bytes left (lock held)."""
        index = self._largest()
        if index is None:
            return None
        segment = self._segments[index]
        middle = segment.pos + (segment.end - segment.pos) // 2
        tail = Segment(middle, segment.end, middle, taken=True)
        segment.end = middle
        self._segments.insert(index + 1, tail)
        return tail

    def _largest(self):
        """Index of the segment worth splitting, or None (lock held)."""
        if self._min_split is None:
            return None
        best, most = None, 2 * self._min_split - 1
        for index, segment in enumerate(self._segments):
            left = segment.end - segment.pos
            if segment.taken and left > most:
                best, most = index, left
        return best

    def can_claim(self):
        """True when :meth:`claim` would find work: a free or a split."""
        with self._lock:
            return any(not s.taken and not s.done
                       for s in self._segments) or (
                self._largest() is not None)

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

    def rewind(self, segment):
        """Make ``segment`` the whole image, the only one, from byte 0.

        For a source that answered the whole image: it ignores Range, and
        the image is never split again.  The bytes already written from 0
        on may have been read (by the hash follower, by Glance's store
        step), so they are not dropped: the stream compares them with the
        new answer, and the generation stays.  How many bytes from 0 are to
        be compared.
        """
        with self._lock:
            checked = self._prefix()
            segment.start, segment.end, segment.pos = 0, self.size, 0
            self._segments = [segment]
            self._min_split = None
            self._advanced.notify_all()
            return checked

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
