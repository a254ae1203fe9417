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

"""What a copy is worth to a run: its data and state against its source's.

Pure functions of image records, like plan, which decides with them: the
data compared like with like (compare_data), the order of preference
between several copies of one source (Rank), whether an image that
holds the id a run wanted is a copy the run may use (is_copy_of), and
whether a record read in a target region is the source itself
(same_glance).
"""

import dataclasses
import enum

from glance_download import metadata
from glance_download import protocol


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
                                 and copy.get(protocol.IMPORT_LOCK)):
        return Rank.IMPORTING
    if status == 'queued':
        return Rank.PLACEHOLDER
    return Rank.UNUSABLE


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


def same_glance(source, seen):
    """Whether seen, read in another region, is the source image itself.

    Two catalog regions can be served by one Glance (one endpoint behind
    two names, or a proxy): reading the source's id in the target region
    then returns the very same record, with the same creation time and
    data, and without the provenance a copy would carry. A copy made with
    --same-id has the id, but not the creation time nor the provenance.
    """
    if not seen or not source or seen.get('id') != source.get('id'):
        return False
    if any(seen.get(name) for name in metadata.PROVENANCE_PROPERTIES):
        return False
    fields = ('created_at', 'checksum', 'os_hash_value')
    return bool(source.get('created_at')) and all(
        seen.get(name) == source.get(name) for name in fields)
