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

"""Progress of a download, told to the user through the task's message.

Also the heartbeat that shows, through the task, that an import is alive.
"""

import logging
import threading
import time

LOG = logging.getLogger(__name__)

_UNITS = ('B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB')


def human_size(count):
    value = float(count)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            break
        value /= 1024
    return f'{int(count)} B' if unit == 'B' else f'{value:.1f} {unit}'


def describe(done, total, seconds, region, streams=1):
    """One line: bytes, total, percentage, throughput and streams."""
    percent = 100.0 * done / total if total else 100.0
    rate = done / seconds if seconds > 0 else 0.0
    line = (f'Downloading from region {region}: {human_size(done)} of '
            f'{human_size(total)} ({percent:.0f}%) at '
            f'{human_size(int(rate))}/s')
    if streams > 1:
        line += f' over {streams} streams'
    return line


def describe_done(result, region):
    """The closing line, saying what was verified."""
    rate = result.bytes / result.seconds if result.seconds > 0 else 0.0
    check = (f'{result.algorithm} verified' if result.algorithm
             else 'size verified')
    streams = getattr(result, 'streams', 1)
    over = f' over up to {streams} streams' if streams > 1 else ''
    line = (f'Downloaded {human_size(result.bytes)} from region '
            f'{region}{over} in {result.seconds:.1f} s '
            f'({human_size(int(rate))}/s), {check}')
    if result.resumes or result.restarts:
        line += f'; {result.resumes} resumed, {result.restarts} restarted'
    return line


class Progress:
    """Calls ``report(message)`` at most once per ``interval`` seconds.

    The first report comes ``first_after`` seconds into the download (or
    after ``interval``, if shorter): a download over by then has nothing to
    show, and each report costs a read and a write of the task.

    ``report`` may raise (errors.Aborted) to stop the download: it is where
    the task and the image are checked, so the check runs at the same pace.
    """

    def __init__(self, report, interval, region, first_after=1.0,
                 clock=time.monotonic):
        self.report = report
        self.interval = interval
        self.region = region
        self.clock = clock
        self.started = clock()
        self.due = self.started + min(first_after, interval)

    def __call__(self, done, total, streams=1):
        now = self.clock()
        if now < self.due:
            return
        self.due = now + self.interval
        self.report(describe(done, total, now - self.started, self.region,
                             streams))


class Heartbeat:
    """Calls ``beat()`` every ``interval`` seconds in a thread of its own.

    An import writes to its task through this while it lives, whatever its
    own thread is doing: waiting for the source's record or data, sleeping
    before a retry, or running Glance's steps after ours. A task left
    unwritten for many intervals therefore belongs to a process that is
    gone (see recovery.py). The thread ends when ``beat()`` returns False
    (the task ended or is no longer ours) or on :meth:`stop`; a beat that
    raises (the database busy or away) is logged and the next one tried.
    It never keeps the process alive.
    """

    def __init__(self, beat, interval, name='glance-download-heartbeat'):
        self.beat = beat
        self.interval = interval
        self.beats = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name,
                                        daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stopped.set()

    def join(self, timeout=None):
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self):
        while not self._stopped.wait(self.interval):
            try:
                alive = self.beat()
            except Exception as exc:
                LOG.warning('Import heartbeat failed (%s: %s); trying again '
                            'in %g s', type(exc).__name__, exc,
                            self.interval)
                continue
            self.beats += 1
            if not alive:
                return
