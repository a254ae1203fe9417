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

The messages are written here and read back here: the ``openstack``
commands draw their progress bars from :func:`parse`, and recognise the
closing message by :data:`DONE_PREFIX`, so that the format has one home.
"""

import re
import time

_UNITS = ('B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB')


# How the closing message (describe_done) starts.
DONE_PREFIX = 'Downloaded '
_PROGRESS = re.compile(
    r'Downloading from region (?P<source>\S+): (?P<done>[\d.]+ \S+) of '
    r'(?P<total>[\d.]+ \S+) \((?P<percent>\d+)%\) at (?P<rate>[\d.]+ \S+?)/s')


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
    line = (f'{DONE_PREFIX}{human_size(result.bytes)} from region '
            f'{region}{over} in {result.seconds:.1f} s '
            f'({human_size(int(rate))}/s), {check}')
    if result.resumes or result.restarts:
        line += f'; {result.resumes} resumed, {result.restarts} restarted'
    return line


def parse(message):
    """(percent, done, total, rate) of a describe() message, else None."""
    match = _PROGRESS.search(message or '')
    if not match:
        return None
    return (int(match.group('percent')), match.group('done'),
            match.group('total'), match.group('rate'))


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
