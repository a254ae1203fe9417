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
each decision can be tested on its own.
"""

import dataclasses
import enum

from glance_download.client import ids
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


IMPORT_LOCK = protocol.IMPORT_LOCK
# The region a copy's data was pulled from: the source region, or a region
# that relayed it (glance_download.client.relay). The provenance proper,
# glance_download_source_*, names the original in either case.
PULLED_FROM_PROPERTY = 'glance_download_pulled_from'


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


class Rank(enum.IntEnum):
    """Order of preference between several copies of one source."""

    VERIFIED = 0
    """Active, with the source's data."""
    IMPORTING = 1
    """An import into it is accepted or running."""
    PLACEHOLDER = 2
    """Queued with no import: made by a run whose import did not end well."""
    UNUSABLE = 3
    """Active with other data, deactivated, killed: never used."""


@dataclasses.dataclass(frozen=True)
class DataCheck:
    """Whether a copy holds its source's data, and what decided it."""

    same: bool
    basis: str
    """What was compared, said in the row's message and the docs."""


def compare_data(source, copy, verified=False):
    """Compare like with like: the copy's data against the source's.

    The same os_hash_algo on both sides compares os_hash_value. Otherwise
    (a legacy source with only an md5 checksum, or a target region whose
    Glance hashes with another algorithm) the md5 checksums are compared
    where both have one. Otherwise the sizes, with the import's own
    verification (verified: the method's closing message said so).
    """
    algo = source.get('os_hash_algo')
    if (source.get('os_hash_value') and copy.get('os_hash_value')
            and algo == copy.get('os_hash_algo')):
        return DataCheck(source['os_hash_value'] == copy['os_hash_value'],
                         f'os_hash_value ({algo})')
    if source.get('checksum') and copy.get('checksum'):
        return DataCheck(source['checksum'] == copy['checksum'],
                         'checksum (md5)')
    same_size = source.get('size') is not None and (
        source.get('size') == copy.get('size'))
    if verified:
        return DataCheck(same_size, 'size, and the verification by the import')
    return DataCheck(False, 'nothing in common to compare (no os_hash_value '
                            'of the same algorithm, no checksum)')


def holds_source_data(source, copy, verified=False):
    """Whether copy is active with the source's data."""
    return copy.get('status') == 'active' and compare_data(
        source, copy, verified).same


def rank(copy, source):
    """The Rank of a copy of source."""
    status = copy.get('status')
    if status == 'active':
        return (Rank.VERIFIED if holds_source_data(source, copy)
                else Rank.UNUSABLE)
    # Glance sets the lock when it accepts an import, before the image
    # turns 'importing', and drops it when the import ended.
    if status == 'importing' or (status == 'queued'
                                 and copy.get(IMPORT_LOCK)):
        return Rank.IMPORTING
    if status == 'queued':
        return Rank.PLACEHOLDER
    return Rank.UNUSABLE


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
    best = min(copies, key=lambda c: rank(c, source))
    status = best.get('status')
    if existing == 'fail':
        return Step(region, FAIL, source_id, best['id'], reason=(
            f'Region {region} already has a copy of image {source_id}: '
            f"{best['id']} ({status}). Run without --existing fail to keep "
            'it, or with --existing replace to copy again.'))
    best_rank = rank(best, source)
    if best_rank == Rank.VERIFIED:
        return Step(region, SKIP, source_id, best['id'], copy=best,
                    reason='an active copy with the same data exists')
    if best_rank == Rank.IMPORTING:
        return Step(region, ATTACH, source_id, best['id'],
                    reason='an import into it is in progress')
    if best_rank == Rank.PLACEHOLDER:
        return Step(region, REIMPORT, source_id, best['id'],
                    reason='a placeholder left by an earlier run')
    if status == 'active':
        return Step(region, FAIL, source_id, best['id'], reason=(
            f"Copy {best['id']} in region {region} is active but its data "
            f'differs from image {source_id} '
            f'({compare_data(source, best).basis}). Delete it, or use '
            '--existing replace.'))
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


def is_copy_of(image, source, source_region, owner):
    """Whether image is a copy of source that a run can use as its own.

    It is owner's, its provenance names source, and it is active with the
    same data, being imported into, or a placeholder. An image that holds
    the id a run wanted (a copy's derived id, or the source's id with
    --same-id) is used only then: an id proves nothing by itself.
    """
    return bool(image and image.get('owner') == owner
                and image.get(metadata.SOURCE_IMAGE_PROPERTY) == source['id']
                and image.get(metadata.SOURCE_REGION_PROPERTY) ==
                source_region
                and rank(image, source) < Rank.UNUSABLE)


def not_a_copy(image, source, source_region, region):
    """Why image, holding the id wanted for a copy of source, is not one."""
    found = []
    if image.get(metadata.SOURCE_IMAGE_PROPERTY) != source['id'] or (
            image.get(metadata.SOURCE_REGION_PROPERTY) != source_region):
        found.append('its provenance does not name the source')
    else:
        found.append(f"it is owned by project {image.get('owner')}")
        if image.get('status') == 'active' and not holds_source_data(
                source, image):
            found.append('its data differs')
    return (f"Image {image['id']} in region {region} holds that id but is "
            f"not a copy of image {source['id']} of region {source_region} "
            f"that you own ({', '.join(found)}); it was left alone.")


def target_fields(source, source_region, name=None, visibility='private',
                  same_id=False, properties=None):
    """The body of ``POST /v2/images`` for a copy of source.

    The provenance properties are set at creation, so that a placeholder
    left by a failed import is found by the next run.
    """
    fields = {
        'name': name if name is not None else source.get('name'),
        'disk_format': source['disk_format'],
        'container_format': source['container_format'],
        'min_disk': source.get('min_disk') or 0,
        'min_ram': source.get('min_ram') or 0,
        'tags': list(source.get('tags') or []),
        'visibility': visibility,
    }
    if fields['name'] is None:
        del fields['name']
    fields.update(properties or {})
    fields.update(metadata.provenance(source_region, source['id'],
                                      source.get('owner')))
    if same_id:
        fields['id'] = source['id']
    return fields


def managed_changes(source, copy, prefixes):
    """JSON-patch operations that bring the copy's managed metadata back.

    Managed: name, tags, min_disk, min_ram and the properties whose name
    starts with one of prefixes (never a reserved attribute).
    """
    ops = []
    for field in ('name', 'min_disk', 'min_ram'):
        wanted = source.get(field)
        if field != 'name':
            wanted = wanted or 0
        if copy.get(field) != wanted:
            ops.append({'op': 'replace', 'path': '/' + field,
                        'value': wanted})
    if sorted(copy.get('tags') or []) != sorted(source.get('tags') or []):
        ops.append({'op': 'replace', 'path': '/tags',
                    'value': sorted(source.get('tags') or [])})
    wanted = _managed_properties(source, prefixes)
    present = _managed_properties(copy, prefixes)
    for key in sorted(wanted):
        if key not in present:
            ops.append({'op': 'add', 'path': '/' + key,
                        'value': wanted[key]})
        elif present[key] != wanted[key]:
            ops.append({'op': 'replace', 'path': '/' + key,
                        'value': wanted[key]})
    for key in sorted(set(present) - set(wanted)):
        ops.append({'op': 'remove', 'path': '/' + key})
    return tuple(ops)


def _managed_properties(image, prefixes):
    """Properties kept the same, never the provenance of a copy."""
    found = metadata.properties_to_copy(image, prefixes)
    for name in metadata.PROVENANCE_PROPERTIES + (PULLED_FROM_PROPERTY,):
        found.pop(name, None)
    return found


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
            ops = managed_changes(source, best, prefixes)
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
