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

"""Follow the imports that rows wait for, until each ended.

A row waits for an import this run started, or one another run started
that it attached to. Polling reads the image's newest task, and the image
itself once that task ended; once the import ended, the row says how (the
data compared with the source's, like with like: compare.compare_data),
and a replacement is completed: the earlier copies are deleted only now
that the new one is verified, and a new copy whose import this run started
and saw fail is deleted, the earlier ones kept.
"""

import concurrent.futures
import logging
import threading
import time

from glance_download.client import compare
from glance_download.client import image_fields
from glance_download.client import images
from glance_download.client import pace
from glance_download import progress

LOG = logging.getLogger(__name__)

# The wait between two polls of an import when nothing says its end is
# near (pace.interval).
POLL = 1.0
# Polls sent at the same time.
MAX_POLLS = 8


class Follower:
    """Polls the regions' Glance for the imports of rows."""

    def __init__(self, regions, clock=time.monotonic, timeout=None):
        self.regions = regions
        """{region name: images.RegionImages}"""
        self.clock = clock
        self.timeout = timeout
        """The command's --timeout, which the deadline was made of."""
        self.due = {}
        """{id(row): clock value of its next poll}"""

    def is_due(self, row, now=None):
        """Whether row's import is to be polled now (a clock value).

        A row not polled yet is due a first interval after its start: the
        step that started the import has just read its task.
        """
        return (self.clock() if now is None else now) >= self._due_at(row)

    def next_due(self, rows, default=None, now=None):
        """Seconds until the first of rows is due; default if none."""
        if not rows:
            return default
        now = self.clock() if now is None else now
        return max(0.0, min(map(self._due_at, rows)) - now)

    def _due_at(self, row):
        due = self.due.get(id(row))
        if due is None:
            return row.started + pace.interval(0, longest=POLL)
        return due

    def follow(self, rows, sources, deadline, display=None):
        """Poll the waiting rows until each ended or deadline passed.

        sources: {source id: source image}. Rows still importing at the
        deadline end as 'timeout', with what to do about it.
        """
        pending = [row for row in rows if row.waiting]
        several = len({row.source_id for row in pending}) > 1
        for row in pending:
            row.label = (f'{row.region} {row.source_id}' if several
                         else row.region)
        shown = _Locked(display) if display else None
        with concurrent.futures.ThreadPoolExecutor(
                max(1, min(MAX_POLLS, len(pending)))) as pool:
            now = self.clock()
            while pending:
                due = [row for row in pending if self.is_due(row, now)]
                counts = in_region(pending)
                # Side by side: a region that stopped answering costs its
                # own rows a read timeout, not every other region's.
                ended = set(id(row) for row, done in zip(due, pool.map(
                    lambda row: self.poll(
                        row, sources[row.source_id], shown,
                        in_region=counts[row.region], now=now), due))
                    if done)
                pending = [row for row in pending if id(row) not in ended]
                if not pending:
                    break
                now = self.clock()
                if now >= deadline:
                    for row in pending:
                        self.time_out(row, shown)
                    break
                wait = min(self.next_due(pending, now=now), deadline - now)
                time.sleep(wait)
                now += wait
        return rows

    def time_out(self, row, display=None):
        row.outcome = 'timeout'
        row.waiting = False
        row.seconds = self.clock() - row.started
        row.message = (f'Still importing when the {self.timeout} s of '
                       '--timeout were over; run the same command again '
                       'with --wait to follow it.')
        if row.replaced:
            row.message += (' The earlier copies are kept until the new one '
                            'is verified.')
        if display:
            display.update(row.label, 'timed out', row.message,
                           via=row.via)

    def poll(self, row, source, display=None, gating=False, in_region=1,
             now=None):
        """True once the import of row ended; the row is then complete.

        gating: regions wait for this copy to relay it; in_region: imports
        of row's region being polled. Both set when it is next due, from
        now (a clock value: the poll's round, by default this moment).
        """
        now = self.clock() if now is None else now
        glance = self.regions[row.region]
        try:
            task = glance.newest_task(row.image_id)
            ended = task and task.get('status') in ('success', 'failure')
            # While its task runs, the image is importing: it is read only
            # once the task ended, or when no task says (Glance answers
            # 404 for the tasks of an image that is gone). Half the
            # requests of a poll, in every region, for every import.
            image = (glance.get(row.image_id) if ended or not task
                     else {'status': 'importing'})
        except images.GlanceError as e:
            self._pace(row, now, '', gating, in_region)
            if display:
                display.update(row.label, 'importing', str(e),
                               via=row.via)
            return False
        if image is None:
            row.outcome = 'failed'
            row.status = 'deleted'
            row.message = (f'Image {row.image_id} was deleted during its '
                           'import.')
            self._ended(row)
            return True
        if task:
            row.task_id = task['id']
        message = (task or {}).get('message') or ''
        # Its task ended before the image is seen active, or no task was
        # there to read and the image is active: Glance is saving the last
        # of it. While the task runs, its message says when the end is
        # near (pace.interval).
        self._pace(row, now, message, gating, in_region,
                   ending=bool(ended) or image['status'] == 'active')
        if display:
            display.update(row.label or row.region, image['status'],
                           message, via=row.via)
        if message.startswith(progress.DONE_PREFIX):
            row.downloaded = message
        if not ended or image['status'] == 'importing':
            return False
        row.status = image['status']
        row.size = image.get('size')
        check = compare.compare_data(
            source, image, verified='verified' in row.downloaded)
        row.hash_verified = image['status'] == 'active' and check.same
        if task['status'] == 'success' and image['status'] == 'active':
            # Glance's own last step overwrites the method's closing
            # message, which says what was verified: keep that one.
            row.message = (row.downloaded or message).rstrip('.')
            if row.hash_verified:
                row.message += f'; the copy matches by {check.basis}.'
                record_origin(glance, image, row)
            else:
                row.outcome = 'failed'
                row.message = (f'The copy is active but its data differs '
                               f"from the source image's ({check.basis}).")
        else:
            row.outcome = 'failed'
            row.message = message or 'The import task failed.'
        self._ended(row)
        return True

    def _pace(self, row, now, message, gating, in_region, ending=False):
        self.due[id(row)] = now + pace.interval(
            now - row.started, message, gating, in_region, longest=POLL,
            ending=ending)

    def _ended(self, row):
        row.waiting = False
        row.seconds = self.clock() - row.started
        if row.replaced:
            complete_replacement(self.regions[row.region], row)


def in_region(rows):
    """{region: how many of rows import there}."""
    counts = {}
    for row in rows:
        counts[row.region] = counts.get(row.region, 0) + 1
    return counts


def record_origin(glance, image, row):
    """Say in the verified copy which region its data was pulled from.

    Only now that its import ended: no import flow then saves the image
    at the same time, and the property cannot be lost to one.
    """
    if not (row.owned and row.origin):
        return
    region = row.origin[0]
    if image.get(image_fields.PULLED_FROM_PROPERTY) == region:
        return
    try:
        glance.update(row.image_id, ({
            'op': 'add', 'path': '/' + image_fields.PULLED_FROM_PROPERTY,
            'value': region},))
    except images.GlanceError as e:
        LOG.debug('Origin of %s not recorded: %s', row.image_id, e)


class _Locked:
    """A display that the polls of several threads update in turn."""

    def __init__(self, display):
        self.display = display
        self.lock = threading.Lock()

    def update(self, label, status, message, via=''):
        with self.lock:
            self.display.update(label, status, message, via=via)


def complete_replacement(glance, row):
    """Break after make: remove what a verified new copy replaces.

    When the new copy failed, the earlier copies stay, and the new one is
    deleted only if this run started its import (another run's is not this
    run's to delete).
    """
    if row.outcome == 'ok' and row.hash_verified:
        for image_id in row.replaced:
            try:
                glance.delete(image_id)
            except images.GlanceError as e:
                row.outcome = 'failed'
                row.message += (f' The earlier copy {image_id} could not be '
                                f'deleted: {e}')
                return
        row.message += (f" The earlier copies ({', '.join(row.replaced)}) "
                        'were deleted.')
        return
    row.message += (f" The earlier copies ({', '.join(row.replaced)}) were "
                    'kept.')
    if row.owned and row.status != 'active':
        try:
            glance.delete(row.image_id)
            row.message += f' The new copy {row.image_id} was deleted.'
        except images.GlanceError as e:
            LOG.debug('Failed new copy %s not deleted: %s', row.image_id, e)
