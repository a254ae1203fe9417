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

"""One stream of a download: its segments' attempts, and what answers mean.

A stream claims a segment from the table, asks for the rest of it, has
the body written at its offsets (:mod:`glance_download.body`), and claims
the next until none is left.  What an answer or a failure means is decided
once for every stream, by :func:`glance_download.ranges.use_answer` and
:func:`glance_download.breaks.failure`, and carried out here:

* a break or a transient status (429, 5xx) is another attempt, from the
  byte reached, with the retry policy's backoff and bounded attempts;
* 429 or 503 to an extra stream gives its segment back: the source wants
  fewer connections, so the download goes on with fewer streams;
* a source that ignores Range (200 to a ranged request) makes the
  download one stream, as the whole image;
* any other failure of the request is reported at once.
"""

import functools
import logging
import threading

from glance_download import body
from glance_download import breaks
from glance_download import errors
from glance_download import ranges
from glance_download import retry
from glance_download import streams as streams_mod

LOG = logging.getLogger(__name__)

# Thread name, so that tests can see none is left behind.
STREAM_THREAD = 'glance-download-stream'


class StreamWorker:
    """One stream, in a thread of its own, and its attempt under way.

    ``first`` is the download's first stream: it waits for a slot of the
    process, where an extra stream only starts once it holds one.
    """

    def __init__(self, crew, first):
        self.crew = crew
        self._holding = not first or crew.slots is None
        self._lock = threading.Lock()
        self._segment = None
        self._handle = None
        self._broken = None
        self._window_at = 0.0
        self._window_pos = 0
        self._thread = threading.Thread(target=self._run, name=STREAM_THREAD,
                                        daemon=True)

    def start(self):
        self._thread.start()

    def join(self):
        self._thread.join()

    def interrupt(self):
        """Wake the attempt under way, if blocked reading."""
        with self._lock:
            streams_mod.interrupt(self._handle)

    def check_rate(self, now, min_rate, period):
        """Break the attempt off if under ``min_rate`` over ``period``."""
        with self._lock:
            segment = self._segment
            if segment is None or self._broken:
                return
            elapsed = now - self._window_at
            if elapsed < period:
                return
            rate = (segment.pos - self._window_pos) / elapsed
            if rate >= min_rate:
                self._window_at = now
                self._window_pos = segment.pos
                return
            self._broken = (f'{rate:.0f} bytes/s for {elapsed:.0f} s, below '
                            f'the minimum of {min_rate} bytes/s')
            streams_mod.interrupt(self._handle)

    def _run(self):
        """Fetch segments one after the other until none is left."""
        crew = self.crew
        error = None
        retired = False
        try:
            if not self._holding:
                self._holding = crew.slots.acquire(wait=True,
                                                   stopping=crew.stopping)
                if not self._holding:
                    return
            while not crew.stopping.is_set():
                if crew.retire():
                    retired = True
                    return
                segment = crew.table.claim()
                if segment is None:
                    return
                try:
                    retry.run(crew.policy,
                              functools.partial(self._attempt, segment),
                              made=segment.attempts,
                              interrupt=crew.stopping)
                except breaks.Retired:
                    retired = True
                    return
                except breaks.GiveBack:
                    return
        except breaks.Stopped:
            pass
        except BaseException as exc:  # handed over to the watching thread
            error = exc
        finally:
            if self._holding and crew.slots is not None:
                crew.slots.release()
            crew.left(error, retired)

    def _open(self, segment):
        """Ask for the rest of the segment.

        The whole image is asked for without Range, unless it may be
        split: the answer then says whether the source serves ranges.
        """
        crew = self.crew
        if segment.end >= crew.size and (segment.pos or not crew.table.multi):
            return crew.opener(segment.pos)
        return crew.opener(segment.pos, segment.end)

    def _attempt(self, segment, number):
        """One request for the rest of the segment, and its body."""
        crew = self.crew
        if crew.stopping.is_set():
            raise breaks.Stopped()
        crew.count('attempts')
        segment.attempts = number
        start = segment.pos
        response = None
        try:
            asked = crew.clock()
            response = self._open(segment)
            crew.answered(crew.clock() - asked)
            with self._lock:
                self._segment = segment
                self._handle = streams_mod.handle_of(response)
                self._broken = None
                self._window_at = crew.clock()
                self._window_pos = segment.pos
            if crew.stopping.is_set():
                raise breaks.Stopped()
            compare = self._use(response, segment, start)
            body.BodyWriter(crew, segment, compare,
                            lambda: self._broken).copy(response)
            if segment.done:
                return
            raise breaks.Broken(f'the data stream ended after '
                                f'{segment.pos} of {crew.size} bytes')
        except (errors.GlanceDownloadError, breaks.Stopped, breaks.GiveBack):
            raise
        except Exception as exc:
            if crew.stopping.is_set():
                raise breaks.Stopped() from exc
            if self._broken:
                exc = breaks.Broken(self._broken)
            failure = breaks.failure(exc, segment.pos, crew.size,
                                     crew.dest_path, segment.pos > start)
            if failure is None:
                raise
            raise failure from exc
        finally:
            with self._lock:
                handle, self._handle = self._handle, None
                self._segment = None
            if response is not None:
                response.close()
            streams_mod.release(handle)

    def _use(self, response, segment, start):
        """Check the answer; make the segment ready for its body.

        How many bytes from 0 the body is to be compared with, being the
        whole image again.
        """
        crew = self.crew
        status = response.status_code
        if crew.dropped(segment):
            raise breaks.GiveBack()
        if retry.is_transient_status(status):
            if status in (429, 503) and crew.fewer():
                crew.table.give_back(segment)
                LOG.info('The source answered %s to an extra stream into '
                         '%s; going on with fewer streams',
                         ranges.describe_status(status), crew.dest_path)
                raise breaks.GiveBack()
            raise breaks.Broken(ranges.describe_status(status),
                                response.headers.get('Retry-After'))
        plan = ranges.plan_resume(status, response.headers, start, crew.size)
        use = ranges.use_answer(status, plan, crew.table.multi, crew.alone,
                                segment is crew.whole)
        if use is ranges.Use.ELSEWHERE:
            raise breaks.Broken('the source answered another byte range '
                                'than asked')
        if use is ranges.Use.REFETCH:
            crew.count('restarts')
            crew.table.restart(segment)
            raise breaks.Broken('the source answered another byte range '
                                'than asked; starting over')
        if use is ranges.Use.TAKE_OVER:
            self._single_stream(segment)
            return crew.table.rewind(segment)
        if use is ranges.Use.RESTART:
            crew.count('restarts')
            return crew.table.rewind(segment)
        if use is ranges.Use.RANGES:
            crew.found_ranges()
        if start > segment.start:
            crew.count('resumes')
        return 0

    def _single_stream(self, segment):
        """The remote sent the whole image: one stream takes it all."""
        if not self.crew.single(segment):
            if self.crew.alone:
                # An eager stream whose answer came after the winner's.
                raise breaks.GiveBack()
            raise breaks.Broken('the source answered the whole image to a '
                                'ranged request')
        LOG.info('The source ignores Range; downloading into %s over '
                 'one stream', self.crew.dest_path)
