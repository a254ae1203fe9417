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
        self.assertFalse(any(name in metadata.FLOOR for name in props))

    def test_provenance_with_the_source_owner(self):
        props = metadata.provenance('REGION1', 'b6f9', 'p1')
        self.assertEqual('p1', props['glance_download_source_owner'])
        self.assertEqual(set(metadata.PROVENANCE_PROPERTIES), set(props))
        self.assertFalse(any(name in metadata.FLOOR for name in props))
        # The import method records no owner: what the client set stays.
        self.assertNotIn('glance_download_source_owner',
                         metadata.provenance('REGION1', 'b6f9'))


class ImportableTest(unittest.TestCase):

    def test_active_image_passes(self):
        metadata.check_importable(source(), 'b6f9', 'R1')

    def test_not_active(self):
        for status in ('queued', 'deactivated', 'importing', None):
            with self.assertRaises(errors.RemoteImageError) as ctx:
                metadata.check_importable(source(status=status), 'b6f9', 'R1')
            self.assertIn(f"'{status}', not 'active'", str(ctx.exception))

    def test_size_must_be_known(self):
        for size in (None, '10', -1, True):
            self.assertRaises(errors.RemoteImageError,
                              metadata.check_importable,
                              source(size=size), 'b6f9', 'R1')

    def test_formats_must_be_known(self):
        self.assertRaises(errors.RemoteImageError, metadata.check_importable,
                          source(disk_format=None), 'b6f9', 'R1')


class ReservedTest(unittest.TestCase):

    def test_glance_reserved_names_are_refused_with_a_matching_prefix(self):
        for name in ('location', 'deleted', 'deleted_at', 'locations',
                     'direct_url', 'stores'):
            image = source(**{name: 'x'})
            self.assertNotIn(name, metadata.properties_to_copy(
                image, ['l', 'd', 's']))

    def test_case_and_accent_variants_are_refused(self):
        variants = {'OS_GLANCE_IMPORT_TASK': 'x', 'os_Glance_x': 'x',
                    'Os_hash_value': 'x', 'LOCATION': 'x', 'Owner': 'x',
                    '\u00f3s_glance_x': 'x', 'Lo\u0301cation': 'x'}
        copied = metadata.properties_to_copy(
            source(**variants), ['OS_', 'os_', 'Os_', 'L', 'O', '\u00f3'])
        self.assertEqual({'os_distro', 'os_type', 'os_secure_boot',
                          'os_admin_user'}, set(copied))

    def test_prefixes_match_case_sensitively(self):
        copied = metadata.properties_to_copy(source(HW_X='1'), ['hw_'])
        self.assertNotIn('HW_X', copied)
        self.assertIn('HW_X', metadata.properties_to_copy(source(HW_X='1'),
                                                          ['HW_']))

    def test_host_lists_are_added_to_the_floor(self):
        reserved = metadata.Reserved(names={'kernel_blob'},
                                     prefixes={'x_glance'})
        image = source(kernel_blob='k', X_Glance_q='q', x_other='o')
        copied = metadata.properties_to_copy(image, ['k', 'X', 'x', 'o'],
                                             reserved)
        self.assertEqual({'os_admin_user', 'os_distro', 'os_secure_boot',
                          'os_type', 'x_other'}, set(copied))
        # The floor stays whatever the host gives.
        self.assertIn('os_hash_value', reserved)
        self.assertIn('os_glance_x', reserved)

    def test_overlong_property_name_is_refused(self):
        name = 'hw_' + 'x' * 253
        with self.assertRaises(errors.RemoteImageError) as ctx:
            metadata.properties_to_copy(source(**{name: 'v'}), ['hw_'])
        self.assertIn('longer than the 255 characters', str(ctx.exception))
        # A name Glance can store is copied.
        name = 'hw_' + 'x' * 252
        self.assertIn(name, metadata.properties_to_copy(
            source(**{name: 'v'}), ['hw_']))


class MalformedRecordTest(unittest.TestCase):

    def assert_malformed(self, field, value, expected):
        with self.assertRaises(errors.RemoteImageError) as ctx:
            metadata.check_importable(source(**{field: value}), 'b6f9', 'R1')
        message = str(ctx.exception)
        self.assertIn(f"malformed record for image b6f9: its '{field}' "
                      "is ", message)
        self.assertIn(f'where Glance gives {expected}', message)

    def test_fields_of_the_wrong_type(self):
        for field, value, expected in [
                ('os_hash_value', 123, 'a string or null'),
                ('os_hash_value', ['ab'], 'a string or null'),
                ('checksum', {'md5': 'x'}, 'a string or null'),
                ('os_hash_algo', 512, 'a string or null'),
                ('name', 7, 'a string or null'),
                ('min_disk', 'big', 'an integer or null'),
                ('min_ram', True, 'an integer or null'),
                ('virtual_size', 1.5, 'an integer or null'),
                ('tags', 'a,b', 'a list of strings or null'),
                ('tags', ['a', 1], 'a list of strings or null'),
                ('protected', 'no', 'true or false or null'),
                ('visibility', 1, 'a string or null'),
                ('id', 42, 'a string or null')]:
            self.assert_malformed(field, value, expected)

    def test_long_values_are_shortened_in_the_message(self):
        with self.assertRaises(errors.RemoteImageError) as ctx:
            metadata.check_importable(source(name=['x' * 1000]), 'b6f9',
                                      'R1')
        self.assertLess(len(str(ctx.exception)), 400)

    def test_nulls_and_missing_fields_are_fine(self):
        image = source(name=None, tags=None, virtual_size=None,
                       os_hash_algo=None, os_hash_value=None, checksum=None)
        del image['min_disk'], image['visibility']
        metadata.check_importable(image, 'b6f9', 'R1')

    def test_malformed_status_and_size(self):
        with self.assertRaises(errors.RemoteImageError) as ctx:
            metadata.check_importable(source(status=['active']), 'b6f9',
                                      'R1')
        self.assertIn("not 'active'", str(ctx.exception))
        with self.assertRaises(errors.RemoteImageError) as ctx:
            metadata.check_importable(source(size=1.5), 'b6f9', 'R1')
        self.assertIn('does not state its size', str(ctx.exception))

    def test_record_of_another_image(self):
        with self.assertRaises(errors.RemoteImageError) as ctx:
            metadata.check_importable(source(id='other'), 'b6f9', 'R1')
        self.assertIn("record of image 'other' when asked for image b6f9",
                      str(ctx.exception))
        metadata.check_importable(source(id='b6f9'), 'B6F9', 'R1')


class FormatsTest(unittest.TestCase):

    DISK = ('raw', 'qcow2')
    CONTAINER = ('bare', 'ovf')

    def test_accepted_formats_pass(self):
        metadata.check_formats(source(disk_format='raw'), 'b6f9', 'R1',
                               self.DISK, self.CONTAINER)

    def test_refused_disk_format_names_what_is_accepted(self):
        with self.assertRaises(errors.RemoteImageError) as ctx:
            metadata.check_formats(source(disk_format='evil-format'),
                                   'b6f9', 'R1', self.DISK, self.CONTAINER)
        message = str(ctx.exception)
        self.assertIn("the disk_format 'evil-format', which this Glance "
                      "does not accept; it accepts raw, qcow2.", message)
        self.assertIn('[image_format] disk_formats', message)

    def test_refused_container_format(self):
        with self.assertRaises(errors.RemoteImageError) as ctx:
            metadata.check_formats(source(container_format='docker'),
                                   'b6f9', 'R1', self.DISK, self.CONTAINER)
        self.assertIn('it accepts bare, ovf.', str(ctx.exception))
        self.assertIn('container_formats', str(ctx.exception))

    def test_formats_compare_exactly(self):
        self.assertRaises(errors.RemoteImageError, metadata.check_formats,
                          source(disk_format='RAW'), 'b6f9', 'R1',
                          self.DISK, self.CONTAINER)


class StillActiveTest(unittest.TestCase):

    def test_active(self):
        metadata.check_still_active(source(), 'b6f9', 'R1')

    def test_deactivated(self):
        with self.assertRaises(errors.SourceChanged) as ctx:
            metadata.check_still_active(source(status='deactivated'),
                                        'b6f9', 'R1')
        self.assertIn('was deactivated after this import started',
                      str(ctx.exception))

    def test_other_status(self):
        with self.assertRaises(errors.SourceChanged) as ctx:
            metadata.check_still_active(source(status='pending_delete'),
                                        'b6f9', 'R1')
        self.assertIn("is 'pending_delete' since this import started",
                      str(ctx.exception))

    def test_deleted(self):
        exc = metadata.deleted_error('b6f9', 'R1')
        self.assertIsInstance(exc, errors.SourceChanged)
        self.assertIn('was deleted', str(exc))
