# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""Progress of the imports while ``--wait`` waits for them.

The import method writes its progress into the import task's message
(``Downloading from region X: 1.0 MiB of 8.0 MiB (12%) at 3.2 MiB/s``).
On a terminal one line per region is redrawn in place; anywhere else each
new message is printed once, as a plain line, so that logs stay readable.
A copy pulled from a relay region rather than the source says so
(``REGION4 via REGION2`` on a terminal, on the line it keeps if it falls
back; ``REGION4: importing via REGION2`` as a plain line).
"""

import shutil

from glance_download import progress


def named(label, via=''):
    """How a line names its row: the region, and the relay it pulls from."""
    return f'{label} via {via}' if via else label


def compact(region, status, message, width=30, via=''):
    """One short line for a region: a bar while downloading."""
    region = named(region, via)
    parsed = progress.parse(message)
    if parsed is None:
        return f'{region}  {status}' + (f': {message}' if message else '')
    percent, done, total, rate = parsed
    filled = width * min(percent, 100) // 100
    bar = '#' * filled + '.' * (width - filled)
    return f'{region}  [{bar}] {percent:3d}%  {done} of {total} at {rate}/s'


class Display:
    """Shows each region's latest status and task message on stream."""

    def __init__(self, stream, live=None):
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self.lines = {}
        self.drawn = 0

    def update(self, region, status, message, via=''):
        """Show a row's status; via: the relay region it pulls from."""
        line = (status, message or '', via)
        if self.lines.get(region) == line:
            return
        self.lines[region] = line
        if self.live:
            self._redraw()
        else:
            # The line starts with the region, however the row pulls.
            said = f' - {message}' if message else ''
            status = f'{status} via {via}' if via else status
            self.stream.write(f'{region}: {status}{said}\n')
        self.stream.flush()

    def _redraw(self):
        columns = shutil.get_terminal_size((100, 24)).columns
        if self.drawn:
            self.stream.write(f'\x1b[{self.drawn}A')
        for region in sorted(self.lines):
            status, message, via = self.lines[region]
            text = compact(region, status, message, via=via)[:columns - 1]
            self.stream.write(f'\r\x1b[2K{text}\n')
        self.drawn = len(self.lines)
