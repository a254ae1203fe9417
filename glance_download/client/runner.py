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

"""Carry out the steps of a plan in the target regions, and wait for them.

Steps run side by side, bounded overall and per region; one region's
failure never stops the others. Each step ends as a Row: what was done,
where, and how it went.
"""

import concurrent.futures
import dataclasses
import logging
import threading
import time

from glance_download.client import images
from glance_download.client import plan

LOG = logging.getLogger(__name__)

POLL = 1.0
# How the import method's closing task message starts.
_DOWNLOADED = 'Downloaded '
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
    label: str = dataclasses.field(default='', repr=False)
    """How the progress display names it."""
    downloaded: str = dataclasses.field(default='', repr=False)
    """The method's closing task message, when a poll saw it."""

    def values(self):
        return (self.region, self.source_id, self.image_id, self.action,
                self.status, self.size, self.hash_verified,
                round(self.seconds, 1), self.task_id, self.request_id,
                self.message)


def planned_row(step, source):
    """The row --dry-run prints for a step."""
    row = Row(step.region, step.source_id, step.image_id,
              plan.PLANNED[step.action], 'dry-run', source.get('size'),
              message=step.reason)
    if step.action == plan.FAIL:
        row.outcome = 'failed'
    return row


class Runner:
    """Does the steps with the regions' image services."""

    def __init__(self, regions, source_region, interface, max_parallel=4,
                 max_per_region=2, clock=time.monotonic, owner=None):
        self.regions = regions
        """{region name: images.RegionImages}"""
        self.source_region = source_region
        self.owner = owner
        """The project whose copies are looked for after a creation."""
        self.interface = interface
        self.max_parallel = max(1, max_parallel)
        self.limits = {name: threading.Semaphore(max(1, max_per_region))
                       for name in regions}
        self.clock = clock

    def run(self, work):
        """Rows of work, a list of (step, source, fields) in that order."""
        if not work:
            return []
        with concurrent.futures.ThreadPoolExecutor(
                min(self.max_parallel, len(work))) as pool:
            return list(pool.map(lambda item: self._bounded(*item), work))

    def _bounded(self, step, source, fields):
        with self.limits[step.region]:
            return self.do(step, source, fields)

    def do(self, step, source, fields):
        """One step; never raises for a Glance error, the row says it."""
        row = Row(step.region, step.source_id, step.image_id,
                  plan.DONE[step.action], size=source.get('size'),
                  message=step.reason, started=self.clock())
        glance = self.regions[step.region]
        try:
            self._do(glance, step, source, fields, row)
        except images.GlanceError as e:
            row.outcome = 'failed'
            row.action = plan.DONE[plan.FAIL]
            row.message = str(e)
            row.request_id = e.request_id or row.request_id
        row.seconds = self.clock() - row.started
        return row

    def _do(self, glance, step, source, fields, row):
        action = step.action
        if action == plan.FAIL:
            row.outcome = 'failed'
            row.status = 'unchanged'
            return
        if action in (plan.SKIP, plan.ORPHAN):
            copy = step.copy or glance.get(step.image_id) or {}
            row.status = copy.get('status', 'deleted')
            row.size = copy.get('size')
            row.hash_verified = self._same_data(source, copy)
            return
        if action == plan.ATTACH:
            row.status = 'importing'
            row.waiting = True
            task = glance.newest_task(step.image_id)
            row.task_id = task and task['id']
            return
        if action == plan.UPDATE:
            row.request_id = glance.update(step.image_id, step.changes)
            row.status = 'active'
            row.hash_verified = True
            return
        if action == plan.DEACTIVATE:
            row.request_id = glance.deactivate(step.image_id)
            row.status = 'deactivated'
            return
        if action == plan.DELETE:
            row.request_id = glance.delete(step.image_id)
            row.status = 'deleted'
            return
        for image_id in step.delete:
            glance.delete(image_id)
        created = False
        if action in (plan.CREATE, plan.REPLACE):
            try:
                image, row.request_id = glance.create(fields)
            except images.GlanceError as e:
                if e.status == 409 and self._id_taken_by_a_copy(
                        glance, fields, source, row):
                    return
                raise images.GlanceError(
                    create_failure(e, fields, step.region), e.status,
                    e.request_id)
            row.image_id = image['id']
            created = True
            if self._give_way(glance, image, source, row):
                return
        try:
            row.request_id = glance.start_import(
                row.image_id, source['id'], self.source_region,
                self.interface)
        except images.GlanceError as e:
            if created:
                # Refused before anything started: take the placeholder
                # back, so that nothing half-made is left.
                glance.delete(row.image_id)
                e = images.GlanceError(
                    f'{e} The copy created for it was deleted.',
                    e.status, e.request_id)
                row.image_id = None
            raise e
        row.status = 'importing'
        row.waiting = True
        task = glance.newest_task(row.image_id)
        row.task_id = task and task['id']

    def _give_way(self, glance, created, source, row):
        """Whether a copy made at the same time elsewhere replaces created.

        True once created is deleted and row tells of the other copy.
        """
        try:
            copies = glance.copies(self.owner, self.source_region,
                                   source['id'])
        except images.GlanceError as e:
            LOG.debug('Copies of %s not listed again (%s): importing into '
                      '%s', source['id'], e, created['id'])
            return False
        other = plan.race_winner(created, copies, source)
        if other is None:
            return False
        glance.delete(created['id'])
        self._use(glance, other, source, row, (
            f"Copy {other['id']} was made at the same time by another run, "
            f"so the copy {created['id']} this run created was deleted."))
        return True

    def _id_taken_by_a_copy(self, glance, fields, source, row):
        """Whether a --same-id copy made at the same time holds the id.

        True once row tells of that copy.
        """
        if 'id' not in fields:
            return False
        try:
            other = glance.get(fields['id'])
        except images.GlanceError:
            return False
        if not plan.is_usable_copy(other, source, self.source_region,
                                   self.owner):
            return False
        self._use(glance, other, source, row, (
            f"Copy {other['id']} was made at the same time by another "
            'run.'))
        return True

    def _use(self, glance, other, source, row, message):
        """Make row tell of other, a copy made by another run."""
        row.image_id = other['id']
        row.status = other.get('status')
        row.message = message
        if self._same_data(source, other):
            row.action = plan.DONE[plan.SKIP]
            row.size = other.get('size')
            row.hash_verified = True
            return True
        row.action = plan.DONE[plan.ATTACH]
        row.waiting = True
        task = glance.newest_task(other['id'])
        row.task_id = task and task['id']
        return True

    @staticmethod
    def _same_data(source, copy):
        return bool(copy.get('status') == 'active'
                    and copy.get('os_hash_value')
                    and copy.get('os_hash_value') ==
                    source.get('os_hash_value'))

    def wait(self, rows, sources, timeout, display=None):
        """Follow the imports of rows until each ended or timeout passed.

        sources: {source id: source image}, to check what each copy holds.
        """
        pending = [row for row in rows if row.waiting]
        deadline = self.clock() + timeout
        several = len({row.source_id for row in pending}) > 1
        for row in pending:
            row.label = (f'{row.region} {row.source_id}' if several
                         else row.region)
        while pending:
            for row in list(pending):
                if self._poll(row, sources[row.source_id], display):
                    pending.remove(row)
                    row.waiting = False
                    row.seconds = self.clock() - row.started
            if not pending:
                break
            if self.clock() >= deadline:
                for row in pending:
                    row.outcome = 'timeout'
                    row.waiting = False
                    row.seconds = self.clock() - row.started
                    row.message = (
                        f'Still importing after the {timeout} s of '
                        '--timeout; run the same command again with --wait '
                        'to wait for it.')
                    if display:
                        display.update(row.label, 'timed out', row.message)
                break
            time.sleep(POLL)
        return rows

    def _poll(self, row, source, display):
        """True once the import of row ended; the row is then complete."""
        glance = self.regions[row.region]
        try:
            task = glance.newest_task(row.image_id)
            image = glance.get(row.image_id)
        except images.GlanceError as e:
            if display:
                display.update(row.label, 'importing', str(e))
            return False
        if image is None:
            row.outcome = 'failed'
            row.status = 'deleted'
            row.message = (f'Image {row.image_id} was deleted during its '
                           'import.')
            return True
        if task:
            row.task_id = task['id']
        message = (task or {}).get('message') or ''
        ended = task and task.get('status') in ('success', 'failure')
        if display:
            display.update(row.label, image['status'], message)
        if message.startswith(_DOWNLOADED):
            row.downloaded = message
        if not ended or image['status'] == 'importing':
            return False
        row.status = image['status']
        row.size = image.get('size')
        row.hash_verified = self._same_data(source, image)
        if task['status'] == 'success' and image['status'] == 'active':
            # Glance's own last step overwrites the method's closing
            # message, which says what was verified: keep that one.
            row.message = row.downloaded or message
            if not row.hash_verified:
                row.outcome = 'failed'
                row.message = ('The copy is active but its os_hash_value '
                               'differs from the source image\'s.')
        else:
            row.outcome = 'failed'
            row.message = message or 'The import task failed.'
        return True


def create_failure(error, fields, region):
    """The message for a copy that could not be created."""
    if error.status == 409 and 'id' in fields:
        return (f"Image id {fields['id']} exists in region {region}, or "
                "existed there: Glance never gives a deleted image's id "
                f'again. Copy without --same-id. ({error})')
    if error.status == 403:
        return (f'You may not create this copy in region {region} '
                f"(visibility {fields.get('visibility')} needs a role you do "
                'not have: "public" needs admin by default). Choose '
                f'--visibility private or shared. ({error})')
    return str(error)
