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

"""What a run reports: one Row per step, printed as the command's table.

A row is made when its step is done (runner, actions), completed when the
import it waits for ends (polling), and printed with COLUMNS; --dry-run
prints the planned_row of each step instead. The reason of each failed
row, and on Ctrl-C what goes on where, are written to stderr as well.
"""

import dataclasses

from glance_download.client import plan

COLUMNS = ('Region', 'Source Image', 'Image ID', 'Action', 'Status', 'Size',
           'Hash Verified', 'Seconds', 'Task ID', 'Request ID', 'Message')


@dataclasses.dataclass
class Row:
    """The outcome of one step."""

    region: str
    source_id: str
    image_id: str | None = None
    action: str = ''
    status: str = ''
    size: int | None = None
    hash_verified: bool = False
    seconds: float = 0.0
    task_id: str | None = None
    request_id: str | None = None
    message: str = ''
    outcome: str = 'ok'
    """'ok', 'failed' or 'timeout': what the exit status is made of."""
    started: float = dataclasses.field(default=0.0, repr=False)
    waiting: bool = dataclasses.field(default=False, repr=False)
    owned: bool = dataclasses.field(default=False, repr=False)
    """This run started the import the row waits for."""
    replaced: tuple = dataclasses.field(default=(), repr=False)
    """Copies to delete once this row's new copy is verified."""
    label: str = dataclasses.field(default='', repr=False)
    """How the progress display names it."""
    downloaded: str = dataclasses.field(default='', repr=False)
    """The method's closing task message, when a poll saw it."""
    origin: tuple = dataclasses.field(default=(), repr=False)
    """(region, image id) the import pulls from, in a relay tree."""

    def values(self):
        return (self.region, self.source_id, self.image_id, self.action,
                self.status, self.size, self.hash_verified,
                round(self.seconds, 1), self.task_id, self.request_id,
                self.message)


def planned_row(step, source, origin=None):
    """The row --dry-run prints for a step; origin: where it would pull."""
    row = Row(step.region, step.source_id, step.image_id,
              plan.PLANNED[step.action], 'dry-run', source.get('size'),
              message=step.reason)
    if origin:
        row.message = ' '.join(filter(None, (
            row.message, f'(pulls from region {origin})')))
    if step.action == plan.FAIL:
        row.outcome = 'failed'
    return row


def failure_lines(rows, dry_run=False):
    """One line per failed or timed-out row: region, source, reason.

    Written to stderr, so that the reason shows whatever columns and
    format the table is printed with.
    """
    lines = []
    for row in rows:
        if row.outcome == 'timeout':
            what = 'timed out'
        elif row.outcome == 'failed':
            what = 'would fail' if dry_run else 'failed'
        else:
            continue
        source = f' (source image {row.source_id})' if row.source_id else ''
        reason = ' '.join((row.message or 'no reason given').split())
        lines.append(f'{row.region}: {what}{source}: {reason}')
    return lines


def interrupted_lines(rows):
    """What to tell a user who interrupted the wait: what goes on where."""
    going = [row for row in rows if row.waiting]
    if not going:
        return ['Interrupted; no import was still in progress.']
    lines = ['Interrupted. These imports go on in Glance, server-side:']
    for row in going:
        task = f', task {row.task_id}' if row.task_id else ''
        lines.append(f'  {row.region}: image {row.image_id}{task}, a copy '
                     f'of {row.source_id}')
    lines.append('Run the same command again with --wait to follow them, '
                 'or without it to see where they are.')
    return lines
