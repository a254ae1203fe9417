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

"""What ``image copy`` and ``image sync`` do in a region: pure decisions.

Every function here takes image records (the JSON of ``GET /v2/images``)
and options, and returns what to do; nothing here talks to a cloud, so
each decision can be tested on its own. What a copy found there is worth
is compare's to say, what a copy is created with and what drifted
image_fields'.
"""

import dataclasses

from glance_download.client import compare
from glance_download.client import ids
from glance_download.client import image_fields
from glance_download import errors
from glance_download import metadata
from glance_download import protocol

METHOD = protocol.METHOD

# What a step does in a region.
CREATE = 'create'
SKIP = 'skip'
ATTACH = 'attach'
REIMPORT = 'reimport'
REPLACE = 'replace'
UPDATE = 'update'
FAIL = 'fail'
ORPHAN = 'orphan'
DEACTIVATE = 'deactivate'
DELETE = 'delete'

# The action reported once a step is done, and before (--dry-run).
DONE = {CREATE: 'created', SKIP: 'skipped', ATTACH: 'attached',
        REIMPORT: 're-imported', REPLACE: 'replaced', UPDATE: 'updated',
        FAIL: 'failed', ORPHAN: 'orphan', DEACTIVATE: 'deactivated',
        DELETE: 'deleted'}
PLANNED = {CREATE: 'would create', SKIP: 'would skip',
           ATTACH: 'would attach', REIMPORT: 'would re-import',
           REPLACE: 'would replace', UPDATE: 'would update',
           FAIL: 'would fail', ORPHAN: 'orphan',
           DEACTIVATE: 'would deactivate', DELETE: 'would delete'}
# Steps that start an import.
IMPORTS = frozenset({CREATE, REIMPORT, REPLACE})

# --existing: what to do when a region already has a copy.
EXISTING_CHOICES = ('skip', 'fail', 'replace')
# Orphans (copies whose source is gone): --orphans of image sync.
ORPHAN_CHOICES = ('report', 'deactivate', 'delete')
VISIBILITIES = ('private', 'shared', 'public', 'community')

# Exit statuses, documented in the commands' help.
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_PARTIAL = 3
EXIT_TIMEOUT = 4

# Properties of a volume-backed instance snapshot: its disks are volume
# snapshots in Cinder, the image itself has no data.
_VOLUME_SNAPSHOT_PROPERTIES = ('block_device_mapping', 'bdm_v2')


class PlanError(Exception):
    """The request cannot be carried out at all; nothing was changed."""


@dataclasses.dataclass(frozen=True)
class Step:
    """What to do in one region for one source image."""

    region: str
    action: str
    source_id: str
    image_id: str | None = None
    """The copy acted on, when there is one already."""
    reason: str = ''
    delete: tuple = ()
    """Copies removed once the new copy is verified (REPLACE)."""
    replaces: str | None = None
    """The copy whose successor id the new copy takes (REPLACE)."""
    changes: tuple = ()
    """JSON-patch operations (UPDATE)."""
    copy: dict | None = dataclasses.field(default=None, compare=False)
    """The record of that copy, as it was listed."""
    origin: tuple = ()
    """(region, image id) the import pulls from, chosen by the relay tree
    (glance_download.client.relay); empty: the source, as in a star."""


def check_regions(source_region, targets, catalog_regions):
    """Raise PlanError for an unknown region or a target equal to source."""
    known = sorted(catalog_regions)
    listed = ', '.join(known) or 'none'
    if not targets:
        raise PlanError('No target region: give --to-region.')
    for region in [source_region] + list(targets):
        if region not in catalog_regions:
            raise PlanError(
                f'Region {region} has no image service in your catalog. '
                f'Regions that have one: {listed}.')
    if source_region in targets:
        raise PlanError(
            f'Region {source_region} is the source: an image cannot be '
            'copied to the region it is in. Give other --to-region values.')
    if len(set(targets)) != len(targets):
        raise PlanError(
            f'A target region is given twice: {", ".join(targets)}.')


def source_problem(source, region):
    """Why the source image cannot be copied, or None when it can.

    Beyond a volume-backed snapshot, the same checks as the import method
    makes in the target region: what it would refuse is refused here,
    before anything is created.
    """
    image_id = source.get('id')
    if any(source.get(name) for name in _VOLUME_SNAPSHOT_PROPERTIES) or (
            source.get('status') == 'active' and not source.get('size')
            and not source.get('disk_format')):
        return (f'Image {image_id} in region {region} is a snapshot of a '
                'volume-backed instance: it holds no data (its disks are '
                'volume snapshots in the block storage service), so there is '
                'nothing to copy. Copy the volumes with the block storage '
                'service instead.')
    try:
        metadata.check_importable(source, image_id, region)
    except errors.GlanceDownloadError as e:
        return str(e)
    return None


def method_problem(region, methods):
    """Why a region cannot import with glance-download, or None."""
    if METHOD in methods:
        return None
    offered = ', '.join(methods) or 'none'
    return (f'Glance in region {region} does not offer the {METHOD} import '
            f'method (it offers: {offered}). Nothing was created there; ask '
            'its operator to enable the method, or choose another region.')


def replacement(copies):
    """(the successor already made, the copy it replaces) among copies.

    A copy made by --existing replace has an id derived from the copy it
    replaces (ids.successor_ids). A run that finds one, made by another
    run at the same time or left by a replacement that failed, continues
    it instead of replacing once more. (None, None) when there is none.
    """
    by_id = {c['id']: c for c in copies}
    made = {}
    for copy in copies:
        for successor in ids.successor_ids(copy['id']):
            if successor in by_id:
                made[successor] = copy['id']
    # The newest of a chain: the successor that no listed copy replaces.
    for successor, replaced in sorted(made.items()):
        if not any(made.get(s) == successor for s in made):
            return by_id[successor], replaced
    return None, None


def copy_step(region, source, copies, existing='skip'):
    """The step for one target region, given the copies it already has."""
    source_id = source['id']
    if not copies:
        return Step(region, CREATE, source_id)
    if existing == 'replace':
        return _replace_step(region, source_id, copies)
    best = min(copies, key=lambda c: compare.rank(c, source))
    status = best.get('status')
    if existing == 'fail':
        return Step(region, FAIL, source_id, best['id'], reason=(
            f'Region {region} already has a copy of image {source_id}: '
            f"{best['id']} ({status}). Run without --existing fail to keep "
            'it, or with --existing replace to copy again.'))
    best_rank = compare.rank(best, source)
    if best_rank == compare.Rank.VERIFIED:
        return Step(region, SKIP, source_id, best['id'], copy=best,
                    reason='an active copy with the same data exists')
    if best_rank == compare.Rank.IMPORTING:
        return Step(region, ATTACH, source_id, best['id'],
                    reason='an import into it is in progress')
    if best_rank == compare.Rank.PLACEHOLDER:
        return Step(region, REIMPORT, source_id, best['id'],
                    reason='a placeholder left by an earlier run')
    if status == 'active':
        return Step(region, FAIL, source_id, best['id'], reason=(
            f"Copy {best['id']} in region {region} is active but its data "
            f'differs from image {source_id} '
            f'({compare.compare_data(source, best).basis}). Delete it, or '
            'use --existing replace.'))
    return Step(region, FAIL, source_id, best['id'], reason=(
        f"Copy {best['id']} in region {region} is '{status}' and cannot be "
        "imported into. Delete it, or use --existing replace."))


def _replace_step(region, source_id, copies):
    """Make before break: a new copy first, the others removed after."""
    successor, replaced = replacement(copies)
    if successor is None:
        replaced = min(copies, key=_age)['id']
    old = tuple(sorted(c['id'] for c in copies
                       if successor is None or c['id'] != successor['id']))
    return Step(region, REPLACE, source_id,
                successor and successor['id'], delete=old,
                replaces=replaced, copy=successor, reason=(
                    f'{len(old)} earlier copy(ies) deleted once the new '
                    'copy is active and verified'))


def _age(copy):
    """Order of creation; Glance gives created_at to the second only."""
    return (copy.get('created_at') or '', copy['id'])


def sync_steps(sources, copies, region, prefixes):
    """Steps that bring one region in line with the selected sources.

    copies: the region's copies of images of the source region. Copies of
    other sources are left to glance_download.client.orphans.
    """
    by_source = {}
    for copy in copies:
        by_source.setdefault(
            copy.get(metadata.SOURCE_IMAGE_PROPERTY), []).append(copy)
    steps = []
    for source in sources:
        found = by_source.get(source['id'], [])
        step = copy_step(region, source, found)
        if step.action == SKIP:
            best = next(c for c in found if c['id'] == step.image_id)
            ops = image_fields.managed_changes(source, best, prefixes)
            if ops:
                step = dataclasses.replace(
                    step, action=UPDATE, changes=ops,
                    reason='metadata drifted: ' + ', '.join(
                        op['path'][1:] for op in ops))
            else:
                step = dataclasses.replace(step, reason='in sync')
        steps.append(step)
    return steps


def exit_code(outcomes):
    """The exit status from the outcome of each step.

    outcomes: 'ok', 'failed' or 'timeout' per step. Any timeout wins, then
    a mix of failures and successes (partial), then only failures.
    """
    outcomes = list(outcomes)
    if 'timeout' in outcomes:
        return EXIT_TIMEOUT
    if 'failed' in outcomes:
        return EXIT_PARTIAL if 'ok' in outcomes else EXIT_ERROR
    return EXIT_OK
