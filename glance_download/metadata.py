"""What is copied from the source image, and whether it can be copied at all.

Pure functions over the source image's JSON (``GET /v2/images/<id>``).
"""

from glance_download import errors

# Image attributes Glance owns or computes: never copied, whatever prefix an
# operator configures (a prefix of ``os_`` must not carry os_hash_value, a
# prefix of ``o`` must not carry owner).
CORE_ATTRIBUTES = frozenset({
    'checksum', 'container_format', 'created_at', 'deleted', 'deleted_at',
    'direct_url', 'disk_format', 'file', 'id', 'locations', 'member_status',
    'min_disk', 'min_ram', 'name', 'os_hash_algo', 'os_hash_value',
    'os_hidden', 'owner', 'protected', 'schema', 'self', 'size', 'status',
    'stores', 'tags', 'updated_at', 'virtual_size', 'visibility',
})
RESERVED_PREFIXES = ('os_glance',)

# Properties copied when an operator configures no prefixes: those that
# tell Nova how to boot the image.
DEFAULT_PREFIXES = ['hw_', 'trait:', 'os_distro', 'os_secure_boot', 'os_type']

SOURCE_REGION_PROPERTY = 'glance_download_source_region'
SOURCE_IMAGE_PROPERTY = 'glance_download_source_image_id'


def is_reserved(name):
    return name in CORE_ATTRIBUTES or name.startswith(RESERVED_PREFIXES)


def properties_to_copy(source_image, prefixes):
    """Source properties whose name starts with a configured prefix.

    Only string values are properties in Glance; anything else in the JSON
    is an attribute and is left alone.
    """
    prefixes = tuple(p for p in prefixes if p)
    return {
        name: value for name, value in source_image.items()
        if isinstance(value, str) and name.startswith(prefixes)
        and not is_reserved(name)
    }


def provenance(region, image_id):
    """Properties telling where the target image's data came from."""
    return {SOURCE_REGION_PROPERTY: region, SOURCE_IMAGE_PROPERTY: image_id}


def check_importable(source_image, image_id, region):
    """Raise RemoteImageError unless the source can be copied as it is."""
    status = source_image.get('status')
    if status != 'active':
        raise errors.RemoteImageError(
            "Image %s in region %s is '%s', not 'active': only active images "
            "can be imported. Retry once it is active." % (
                image_id, region, status))
    size = source_image.get('size')
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise errors.RemoteImageError(
            'Image %s in region %s does not state its size, so its data '
            'cannot be verified; it cannot be imported.' % (image_id, region))
    for field in ('disk_format', 'container_format'):
        if not isinstance(source_image.get(field), str):
            raise errors.RemoteImageError(
                'Image %s in region %s has no %s; it cannot be imported.'
                % (image_id, region, field))
