import unittest

from glance_download import errors
from glance_download import metadata
from glance_download import options


def source(**extra):
    image = {
        'id': 'b6f9', 'name': 'cirros', 'status': 'active', 'size': 10,
        'virtual_size': 10, 'checksum': 'c', 'os_hash_algo': 'sha512',
        'os_hash_value': 'h', 'os_hidden': False, 'owner': 'p',
        'visibility': 'shared', 'protected': False, 'tags': ['a'],
        'disk_format': 'qcow2', 'container_format': 'bare', 'min_disk': 0,
        'min_ram': 0, 'created_at': 't', 'updated_at': 't', 'file': '/f',
        'schema': '/s', 'self': '/i', 'locations': [], 'direct_url': 'x',
        'stores': 'fast', 'os_glance_importing_to_stores': '',
        'os_glance_failed_import': 'x',
        'hw_disk_bus': 'virtio', 'hw_qemu_guest_agent': 'yes',
        'trait:CUSTOM_X': 'required', 'os_distro': 'cirros',
        'os_type': 'linux', 'os_secure_boot': 'required',
        'os_admin_user': 'root', 'foo': 'bar',
    }
    image.update(extra)
    return image


class PropertiesTest(unittest.TestCase):

    def test_default_prefixes(self):
        copied = metadata.properties_to_copy(source(),
                                             options.DEFAULT_PREFIXES)
        self.assertEqual({
            'hw_disk_bus': 'virtio', 'hw_qemu_guest_agent': 'yes',
            'trait:CUSTOM_X': 'required', 'os_distro': 'cirros',
            'os_type': 'linux', 'os_secure_boot': 'required'}, copied)

    def test_reserved_never_copied_even_with_broad_prefixes(self):
        copied = metadata.properties_to_copy(source(), ['os_', 'o', 's', 'f'])
        for name in ('os_hash_algo', 'os_hash_value', 'os_hidden', 'owner',
                     'os_glance_importing_to_stores',
                     'os_glance_failed_import',
                     'status', 'size', 'schema', 'self', 'stores', 'id',
                     'checksum', 'visibility', 'created_at', 'file'):
            self.assertNotIn(name, copied)
        self.assertEqual('root', copied['os_admin_user'])
        self.assertEqual('bar', copied['foo'])

    def test_only_string_values_are_properties(self):
        copied = metadata.properties_to_copy(
            source(hw_list=['x'], hw_none=None, hw_num=3), ['hw_'])
        self.assertEqual({'hw_disk_bus', 'hw_qemu_guest_agent'}, set(copied))

    def test_no_prefixes_copies_nothing(self):
        self.assertEqual({}, metadata.properties_to_copy(source(), []))

    def test_empty_prefix_does_not_mean_everything(self):
        self.assertEqual({}, metadata.properties_to_copy(source(), ['']))

    def test_provenance_names_are_not_reserved(self):
        props = metadata.provenance('REGION1', 'b6f9')
        self.assertEqual({'glance_download_source_region': 'REGION1',
                          'glance_download_source_image_id': 'b6f9'}, props)
        self.assertFalse(any(metadata.is_reserved(name) for name in props))


class ImportableTest(unittest.TestCase):

    def test_active_image_passes(self):
        metadata.check_importable(source(), 'b6f9', 'R1')

    def test_not_active(self):
        for status in ('queued', 'deactivated', 'importing', None):
            with self.assertRaises(errors.RemoteImageError) as ctx:
                metadata.check_importable(source(status=status), 'b6f9', 'R1')
            self.assertIn("'%s', not 'active'" % status, str(ctx.exception))

    def test_size_must_be_known(self):
        for size in (None, '10', -1, True):
            self.assertRaises(errors.RemoteImageError,
                              metadata.check_importable,
                              source(size=size), 'b6f9', 'R1')

    def test_formats_must_be_known(self):
        self.assertRaises(errors.RemoteImageError, metadata.check_importable,
                          source(disk_format=None), 'b6f9', 'R1')
