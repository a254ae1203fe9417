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

"""What is copied from the source image, and whether it can be copied at all.

Pure functions over the source image's JSON (``GET /v2/images/<id>``) and
what the importing Glance accepts, which the caller reads from the host.
"""

import unicodedata

from glance_download import errors

# Image attributes Glance owns or computes, and names its API refuses: never
# copied, whatever prefix an operator configures (a prefix of ``os_`` must
# not carry os_hash_value, a prefix of ``o`` must not carry owner).  The
# lists of the running Glance are added to these (see Reserved); these stay
# as the floor should a Glance release drop one of its lists.
CORE_ATTRIBUTES = frozenset({
    'checksum', 'container_format', 'created_at', 'deleted', 'deleted_at',
    'direct_url', 'disk_format', 'file', 'id', 'location', 'locations',
    'member_status', 'min_disk', 'min_ram', 'name', 'os_hash_algo',
    'os_hash_value', 'os_hidden', 'owner', 'protected', 'schema', 'self',
    'size', 'status', 'stores', 'tags', 'updated_at', 'virtual_size',
    'visibility',
})
RESERVED_PREFIXES = ('os_glance',)

# Glance's API refuses longer property names; its database column holds 255.
MAX_NAME_LENGTH = 255

# Properties copied when an operator configures no prefixes: those that
# tell Nova how to boot the image.
DEFAULT_PREFIXES = ['hw_', 'trait:', 'os_distro', 'os_secure_boot', 'os_type']

SOURCE_REGION_PROPERTY = 'glance_download_source_region'
SOURCE_IMAGE_PROPERTY = 'glance_download_source_image_id'
# Set by the client when it creates a copy: once the source is gone, it
# tells whose image it was (see glance_download.client.orphans).
SOURCE_OWNER_PROPERTY = 'glance_download_source_owner'
PROVENANCE_PROPERTIES = (SOURCE_REGION_PROPERTY, SOURCE_IMAGE_PROPERTY,
                         SOURCE_OWNER_PROPERTY)
# Set by the client on a copy: the region its data was pulled from, the
# source region or one that relayed it (glance_download.client.relay).
# The provenance proper names the original in either case.
PULLED_FROM_PROPERTY = 'glance_download_pulled_from'

# What Glance's image schema says each attribute of a record is; None
# stands for null, accepted wherever a Glance release might leave one out.
_TEXT = (str, None)
_INTEGER = (int, None)
_BOOLEAN = (bool, None)
_TEXT_LIST = (list, None)
FIELD_TYPES = {
    'id': _TEXT, 'name': _TEXT, 'visibility': _TEXT, 'owner': _TEXT,
    'checksum': _TEXT, 'os_hash_algo': _TEXT, 'os_hash_value': _TEXT,
    'created_at': _TEXT, 'updated_at': _TEXT, 'direct_url': _TEXT,
    'self': _TEXT, 'file': _TEXT, 'schema': _TEXT, 'stores': _TEXT,
    'virtual_size': _INTEGER, 'min_disk': _INTEGER, 'min_ram': _INTEGER,
    'protected': _BOOLEAN, 'os_hidden': _BOOLEAN, 'tags': _TEXT_LIST,
}
_KIND = {str: 'a string', int: 'an integer', bool: 'true or false',
         list: 'a list of strings'}


def fold(name):
    """``name`` as a case- and accent-insensitive comparison sees it.

    Glance compares names exactly, but its MySQL tables use such a
    collation: there ``OS_GLANCE_IMPORT_TASK`` is the import lock.
    """
    decomposed = unicodedata.normalize('NFKD', name)
    return ''.join(c for c in decomposed
                   if not unicodedata.combining(c)).casefold()


class Reserved:
    """The names never copied, compared without case or accents."""

    def __init__(self, names=(), prefixes=()):
        self.names = frozenset(fold(n) for n in CORE_ATTRIBUTES.union(names))
        self.prefixes = tuple(sorted(
            {fold(p) for p in RESERVED_PREFIXES + tuple(prefixes) if p}))

    def __contains__(self, name):
        folded = fold(name)
        return folded in self.names or folded.startswith(self.prefixes)


FLOOR = Reserved()


def shown(value, limit=60):
    """A field's value for a message: its JSON-like repr, shortened."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + '...'


def properties_to_copy(source_image, prefixes, reserved=FLOOR):
    """Source properties whose name starts with a configured prefix.

    Prefixes match as written, case included, as in Glance's in-tree
    method; reserved names are refused in any case.  Only string values
    are properties in Glance; anything else in the JSON is an attribute and
    is left alone.
    """
    prefixes = tuple(p for p in prefixes if p)
    copied = {
        name: value for name, value in source_image.items()
        if isinstance(value, str) and name.startswith(prefixes)
        and name not in reserved
    }
    for name in copied:
        if len(name) > MAX_NAME_LENGTH:
            raise errors.RemoteImageError(
                'The source image has a property whose name is longer than '
                f'the {MAX_NAME_LENGTH} characters Glance allows '
                f'({shown(name)}); no Glance can store it, so the image '
                'cannot be imported.')
    return copied


def provenance(region, image_id, owner=None):
    """Properties telling where the target image's data came from.

    The source's owner only when given: the import method leaves what the
    client recorded at creation as it is.
    """
    found = {SOURCE_REGION_PROPERTY: region, SOURCE_IMAGE_PROPERTY: image_id}
    if owner:
        found[SOURCE_OWNER_PROPERTY] = owner
    return found


def _malformed(image_id, region, field, value, expected):
    return errors.RemoteImageError(
        f"The Glance in region {region} answered a malformed record for image "
        f"{image_id}: its '{field}' is {shown(value)}, where Glance gives "
        f"{expected}. The image cannot be imported; check that the catalog "
        f"endpoint of region {region} is a Glance.")


def _check_field_types(source_image, image_id, region):
    for field, types in sorted(FIELD_TYPES.items()):
        if field not in source_image:
            continue
        value = source_image[field]
        kind = types[0]
        expected = _KIND[kind] + (' or null' if None in types else '')
        if value is None and None in types:
            continue
        ok = isinstance(value, kind) and not (
            kind is int and isinstance(value, bool))
        if ok and kind is list:
            ok = all(isinstance(item, str) for item in value)
        if not ok:
            raise _malformed(image_id, region, field, value, expected)
    # UUIDs compare without case: a database may find the image by an id
    # spelled in capitals, and answer it in small letters.
    if source_image.get('id') not in (None, image_id) and (
            source_image['id'].lower() != image_id.lower()):
        raise errors.RemoteImageError(
            f"The Glance in region {region} answered the record of image "
            f"{shown(source_image['id'])} when asked for image {image_id}. "
            "The image cannot be imported; check that the catalog endpoint of "
            f"region {region} is a Glance.")


def check_importable(source_image, image_id, region):
    """Raise RemoteImageError unless the source can be copied as it is.

    Every attribute Glance defines must be of the type its schema gives,
    so that nothing later trips over a malformed record.
    """
    status = source_image.get('status')
    if status != 'active':
        raise errors.RemoteImageError(
            f"Image {image_id} in region {region} is {shown(str(status))}, "
            "not 'active': only active images can be imported. Retry once it "
            "is active.")
    size = source_image.get('size')
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise errors.RemoteImageError(
            f'Image {image_id} in region {region} does not state its size, so '
            'its data cannot be verified; it cannot be imported.')
    for field in ('disk_format', 'container_format'):
        if not isinstance(source_image.get(field), str):
            raise errors.RemoteImageError(
                f'Image {image_id} in region {region} has no {field}; it '
                'cannot be imported.')
    _check_field_types(source_image, image_id, region)


def check_formats(source_image, image_id, region, disk_formats,
                  container_formats):
    """Raise RemoteImageError unless this Glance accepts the source's formats.

    ``disk_formats`` and ``container_formats`` are this Glance's
    ``[image_format]`` lists: its API refuses any other value, and so must
    an import.
    """
    for field, accepted, option in (
            ('disk_format', disk_formats, 'disk_formats'),
            ('container_format', container_formats, 'container_formats')):
        value = source_image[field]
        if value not in accepted:
            raise errors.RemoteImageError(
                f"Image {image_id} in region {region} has the {field} "
                f"{shown(value)}, which this Glance does not accept; it "
                f"accepts {', '.join(accepted) or 'none'}. Nothing was "
                "copied. Import an image in one of these formats, or ask your "
                f"cloud operator to add it to [image_format] {option}.")


def check_still_active(source_image, image_id, region):
    """Raise SourceChanged unless the source is still ``active``.

    An administrator deactivates an image to stop it from being used; a
    copy started before must not be activated either.
    """
    status = source_image.get('status')
    if status == 'active':
        return
    if status == 'deactivated':
        raise errors.SourceChanged(
            f'Image {image_id} in region {region} was deactivated after this '
            'import started, so its data may no longer be used: nothing was '
            'activated and the data copied was removed. Import again once it '
            'is reactivated.')
    raise errors.SourceChanged(
        f"Image {image_id} in region {region} is {shown(str(status))} since "
        "this import started, no longer 'active': nothing was activated and "
        "the data copied was removed. Import again once it is active.")


def deleted_error(image_id, region):
    """The error for a source that disappeared after the import started."""
    return errors.SourceChanged(
        f'Image {image_id} in region {region} was deleted, or your project '
        'can no longer see it, after this import started: nothing was '
        'activated and the data copied was removed.')
