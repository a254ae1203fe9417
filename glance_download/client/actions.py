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

"""Do one step of a plan with its region's Glance; the Row it ends as.

A table of handlers, one per action of plan. A new copy is created with
the first free id of the sequence every run derives (ids), so that runs
at the same time make one copy; a copy another run made, or is importing
into, is used (attached to), never removed. A run deletes an image only
when it created it or started its import itself and saw that fail.
"""

from glance_download.client import compare
from glance_download.client import ids
from glance_download.client import image_fields
from glance_download.client import images
from glance_download.client import plan
from glance_download.client import polling
from glance_download.client import report


class _Gone(Exception):
    """The image a step was to import into no longer exists."""


class Actions:
    """Does the steps in the regions, one at a time per call."""

    def __init__(self, regions, source_region, interface, clock,
                 owner=None):
        self.regions = regions
        """{region name: images.RegionImages}"""
        self.source_region = source_region
        self.interface = interface
        self.clock = clock
        self.owner = owner
        """The project the copies are made for."""
        self.handlers = {
            plan.FAIL: self._fail, plan.SKIP: self._report,
            plan.ORPHAN: self._report, plan.ATTACH: self._attach,
            plan.UPDATE: self._update, plan.DEACTIVATE: self._deactivate,
            plan.DELETE: self._delete, plan.CREATE: self._create,
            plan.REIMPORT: self._reimport, plan.REPLACE: self._replace,
        }

    def do(self, step, source, fields):
        """One step; never raises for a Glance error, the row says it."""
        row = report.Row(step.region, step.source_id, step.image_id,
                         plan.DONE[step.action], size=source.get('size'),
                         message=step.reason, started=self.clock(),
                         origin=step.origin)
        glance = self.regions[step.region]
        try:
            self.handlers[step.action](glance, step, source, fields, row)
        except images.GlanceError as e:
            row.outcome = 'failed'
            row.action = plan.DONE[plan.FAIL]
            row.message = str(e)
            row.request_id = e.request_id or row.request_id
        row.seconds = self.clock() - row.started
        return row

    @staticmethod
    def _fail(glance, step, source, fields, row):
        row.outcome = 'failed'
        row.status = 'unchanged'

    @staticmethod
    def _report(glance, step, source, fields, row):
        copy = step.copy or glance.get(step.image_id) or {}
        row.status = copy.get('status', 'deleted')
        row.size = copy.get('size')
        row.hash_verified = compare.holds_source_data(source, copy)

    @staticmethod
    def _attach(glance, step, source, fields, row):
        row.status = 'importing'
        row.waiting = True
        task = glance.newest_task(step.image_id)
        row.task_id = task and task['id']

    @staticmethod
    def _update(glance, step, source, fields, row):
        row.request_id = glance.update(step.image_id, step.changes)
        row.status = 'active'
        row.hash_verified = True

    @staticmethod
    def _deactivate(glance, step, source, fields, row):
        row.request_id = glance.deactivate(step.image_id)
        row.status = 'deactivated'

    @staticmethod
    def _delete(glance, step, source, fields, row):
        row.request_id = glance.delete(step.image_id)
        row.status = 'deleted'

    def _create(self, glance, step, source, fields, row):
        if 'id' in fields:
            candidates = [fields['id']]
        else:
            candidates = ids.copy_ids(self.source_region, source['id'],
                                      self.owner, step.region)
        self._make(glance, step, source, fields, row, candidates)

    def _reimport(self, glance, step, source, fields, row):
        try:
            self._start(glance, step.image_id, source, row, created=False)
        except _Gone:
            # Deleted since it was listed: a new copy, as if none existed.
            row.action = plan.DONE[plan.CREATE]
            self._create(glance, step, source, fields, row)

    def _replace(self, glance, step, source, fields, row):
        row.replaced = step.delete
        if step.copy is not None:
            self._adopt(glance, step.copy, source, row, (
                f"Continues the replacement {step.copy['id']}, made by an "
                'earlier or a concurrent run.'))
        else:
            self._make(glance, step, source, fields, row,
                       ids.successor_ids(step.replaces))
        if row.outcome == 'ok':
            row.action = plan.DONE[plan.REPLACE]
        if not row.waiting:
            polling.complete_replacement(glance, row)

    def _make(self, glance, step, source, fields, row, candidates):
        """Create the copy with the first free id of candidates.

        An id another run took at the same time holds its copy: that copy
        is used. An id held by a deleted image, or one the caller cannot
        see, is passed over.
        """
        for image_id in candidates:
            try:
                image, row.request_id = glance.create(dict(
                    fields, id=image_id, **{
                        image_fields.PULLED_FROM_PROPERTY: self._origin(
                            source, row)[0]}))
            except images.GlanceError as e:
                if e.status != 409:
                    raise images.GlanceError(
                        create_failure(e, fields, step.region), e.status,
                        e.request_id)
                other = glance.get(image_id)
                if compare.is_copy_of(other, source, self.source_region,
                                      self.owner):
                    self._adopt(glance, other, source, row, (
                        f'Copy {image_id} was made at the same time by '
                        'another run.'))
                    return
                if 'id' in fields:
                    if other is not None:
                        raise images.GlanceError(compare.not_a_copy(
                            other, source, self.source_region, step.region),
                            e.status, e.request_id)
                    raise images.GlanceError(
                        create_failure(e, fields, step.region), e.status,
                        e.request_id)
                continue
            row.image_id = image['id']
            self._start(glance, image['id'], source, row, created=True)
            return
        raise images.GlanceError(
            f'No id is left for a new copy of image {source["id"]} in region '
            f'{step.region}: the {len(candidates)} ids this command derives '
            'for it are held by deleted images or by images you cannot see. '
            'Ask the region\'s operator which images hold them.')

    def _adopt(self, glance, other, source, row, message):
        """Make row tell of other, a copy another run made."""
        row.image_id = other['id']
        row.status = other.get('status')
        row.message = message
        found = compare.rank(other, source)
        if found == compare.Rank.VERIFIED:
            row.action = plan.DONE[plan.SKIP]
            row.size = other.get('size')
            row.hash_verified = True
            return
        row.action = plan.DONE[plan.ATTACH]
        if found == compare.Rank.IMPORTING:
            self._attach(glance, plan.Step(row.region, plan.ATTACH,
                                           row.source_id, other['id']),
                         source, None, row)
            return
        row.message += ' This run started its import.'
        self._start(glance, other['id'], source, row, created=False)

    def _origin(self, source, row):
        """(region, image id) the import of row pulls from."""
        return row.origin or (self.source_region, source['id'])

    def _start(self, glance, image_id, source, row, created):
        """Start the import into image_id, or use the one that runs.

        Glance lets one import at a time into an image: a 409 means another
        run's import got there first, and the row attaches to it. A copy
        this run created whose import is refused otherwise is deleted, so
        that nothing half-made is left.
        """
        origin_region, origin_id = self._origin(source, row)
        try:
            # The origin of a copy this run did not create is recorded once
            # its import ended (polling): a PATCH while another run's import
            # runs would race with Glance's own saves of the image.
            row.request_id = glance.start_import(
                image_id, origin_id, origin_region, self.interface)
        except images.GlanceError as e:
            if e.status not in (404, 409) and not created:
                raise
            current = glance.get(image_id)
            if current is None:
                if created:
                    raise images.GlanceError(
                        f'{e} The copy {image_id} created for it was '
                        'deleted meanwhile.', e.status, e.request_id)
                raise _Gone(image_id)
            if compare.rank(current, source) < compare.Rank.PLACEHOLDER:
                action = row.action
                self._adopt(glance, current, source, row, (
                    f'Another run started the import into {image_id} at '
                    'the same time.'))
                if created:
                    row.action = action
                return
            if created and e.status != 409:
                glance.delete(image_id)
                row.image_id = None
                raise images.GlanceError(
                    f'{e} The copy created for it was deleted.', e.status,
                    e.request_id)
            raise
        row.owned = True
        row.status = 'importing'
        row.waiting = True
        task = glance.newest_task(image_id)
        row.task_id = task and task['id']


def create_failure(error, fields, region):
    """The message for a copy that could not be created."""
    if error.status == 409 and 'id' in fields:
        return (f"Image id {fields['id']} exists in region {region}, or "
                "existed there: Glance never gives a deleted image's id "
                f'again. Copy without --same-id. ({error})')
    if error.status == 403:
        visibility = fields.get('visibility')
        if visibility == 'public':
            return (f'You may not create this copy in region {region}: '
                    'visibility public needs the right to publicize images, '
                    "which Glance's default policy gives to admins only. "
                    'Choose another visibility (private, shared or '
                    'community): --visibility of image copy, '
                    f'--copy-visibility of image sync. ({error})')
        return (f'You may not create this copy in region {region} '
                f'(visibility {visibility}): creating an image there needs '
                f'the member role in your project. ({error})')
    return str(error)
