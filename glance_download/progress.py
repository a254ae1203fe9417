"""Progress of a download, told to the user through the task's message."""

import time

_UNITS = ('B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB')


def human_size(count):
    value = float(count)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            break
        value /= 1024
    return '%d B' % count if unit == 'B' else '%.1f %s' % (value, unit)


def describe(done, total, seconds, region, streams=1):
    """One line: bytes, total, percentage, throughput and streams."""
    percent = 100.0 * done / total if total else 100.0
    rate = done / seconds if seconds > 0 else 0.0
    line = ('Downloading from region %s: %s of %s (%.0f%%) at %s/s'
            % (region, human_size(done), human_size(total), percent,
               human_size(int(rate))))
    if streams > 1:
        line += ' over %d streams' % streams
    return line


def describe_done(result, region):
    """The closing line, saying what was verified."""
    rate = result.bytes / result.seconds if result.seconds > 0 else 0.0
    check = ('%s verified' % result.algorithm if result.algorithm
             else 'size verified')
    streams = getattr(result, 'streams', 1)
    over = ' over up to %d streams' % streams if streams > 1 else ''
    line = ('Downloaded %s from region %s%s in %.1f s (%s/s), %s'
            % (human_size(result.bytes), region, over, result.seconds,
               human_size(int(rate)), check))
    if result.resumes or result.restarts:
        line += '; %d resumed, %d restarted' % (result.resumes,
                                                result.restarts)
    return line


class Progress(object):
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
