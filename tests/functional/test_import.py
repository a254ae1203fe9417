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

"""Successful glance-download imports, through each client users have."""

import os

import openstack.config
from openstack import connection

from tests.functional import base


class CliImportTest(base.FunctionalTest):

    def test_openstack_image_import(self):
        source = self.source_image()
        target = self.target_image()
        result = self.openstack(
            '--os-region-name', 'REGION2', 'image', 'import',
            '--method', 'glance-download', '--remote-image', source['id'],
            '--remote-region', 'REGION1', '--remote-service-interface',
            'public', target['id'])
        self.assertIn(target['id'], result.stdout)
        image, task = self.wait_for(self.glance('REGION2'), target['id'])
        self.assertEqual('success', task['status'], task['message'])
        self.assert_copied(source, image)

    def test_without_interface_the_cli_sends_an_incomplete_request(self):
        # openstacksdk sends glance_region and glance_image_id only when
        # the interface is given too; Glance then refuses the request
        # (HTTP 400) yet the CLI prints the image, still queued, and
        # exits 0. Users must pass --remote-service-interface.
        source = self.source_image()
        target = self.target_image()
        result = self.openstack(
            '--os-region-name', 'REGION2', 'image', 'import',
            '--method', 'glance-download', '--remote-image', source['id'],
            '--remote-region', 'REGION1', target['id'], check=False)
        self.assertEqual(0, result.returncode, result.stderr)
        glance = self.glance('REGION2')
        self.assertEqual('queued', glance.get(target['id'])['status'])
        self.assertEqual([], glance.tasks(target['id']))

    def test_source_created_with_image_create_import(self):
        data = b'\0' * (1024 * 1024)
        path = self.env['logs'] + '/cli-source.raw'
        with open(path, 'wb') as f:
            f.write(data)
        result = self.openstack(
            '--os-region-name', 'REGION1', 'image', 'create', '--import',
            '--disk-format', 'raw', '--container-format', 'bare',
            '--property', 'hw_disk_bus=scsi', '--file', path,
            '-f', 'value', '-c', 'id', 'gd-cli-source')
        source_id = result.stdout.strip()
        region1 = self.glance('REGION1')
        self.addCleanup(region1.delete, source_id)
        source, _ = self.wait_for(region1, source_id)
        self.assertEqual('active', source['status'])
        target = self.target_image()
        self.openstack(
            '--os-region-name', 'REGION2', 'image', 'import',
            '--method', 'glance-download', '--remote-image', source_id,
            '--remote-region', 'REGION1', '--remote-service-interface',
            'internal', target['id'])
        image, task = self.wait_for(self.glance('REGION2'), target['id'])
        self.assertEqual('success', task['status'], task['message'])
        self.assertEqual(source['os_hash_value'], image['os_hash_value'])
        self.assertEqual('scsi', image['hw_disk_bus'])


class SdkImportTest(base.FunctionalTest):

    def connect(self, region):
        config = openstack.config.OpenStackConfig(
            config_files=[self.env['clouds_yaml']])
        return connection.Connection(
            config=config.get_one(cloud='gd-demo', region_name=region))

    def test_openstacksdk_import_image(self):
        source = self.source_image()
        target = self.target_image()
        conn = self.connect('REGION2')
        self.addCleanup(conn.close)
        conn.image.import_image(
            conn.image.get_image(target['id']), method='glance-download',
            remote_region='REGION1', remote_image_id=source['id'],
            remote_service_interface='public')
        image, task = self.wait_for(self.glance('REGION2'), target['id'])
        self.assertEqual('success', task['status'], task['message'])
        self.assert_copied(source, image)


class HttpImportTest(base.FunctionalTest):

    def test_plain_http_import(self):
        source = self.source_image()
        target = self.target_image()
        image = self.import_succeeds(self.glance('REGION2'), target, source)
        self.assert_copied(source, image)

    def test_interface_may_be_left_out_of_the_request(self):
        source = self.source_image()
        target = self.target_image()
        image = self.import_succeeds(self.glance('REGION2'), target, source,
                                     interface=None)
        self.assertEqual(source['os_hash_value'], image['os_hash_value'])

    def test_into_a_single_store_region_with_legacy_staging(self):
        source = self.source_image(region='REGION2')
        target = self.target_image(region='REGION1')
        image = self.import_succeeds(self.glance('REGION1'), target, source,
                                     'REGION2')
        self.assertEqual(source['os_hash_value'], image['os_hash_value'])
        self.assertEqual('REGION2', image['glance_download_source_region'])
        self.assertEqual([], [f for f in self.staged_files('REGION1')
                              if f.startswith(target['id'])])


class MultiStoreTest(base.FunctionalTest):

    def import_to(self, **body):
        source = self.source_image(data=os.urandom(65536))
        target = self.target_image()
        image = self.import_succeeds(self.glance('REGION2'), target, source,
                                     **body)
        self.assertEqual(source['os_hash_value'], image['os_hash_value'])
        return image

    def test_named_store(self):
        self.assertEqual('cheap', self.import_to(stores=['cheap'])['stores'])

    def test_all_stores(self):
        image = self.import_to(all_stores=True)
        self.assertEqual(['cheap', 'fast'], sorted(image['stores'].split(',')))

    def test_cli_store_option(self):
        source = self.source_image(data=os.urandom(65536))
        target = self.target_image()
        # --store takes several values: the image goes before it.
        self.openstack(
            '--os-region-name', 'REGION2', 'image', 'import', target['id'],
            '--method', 'glance-download', '--remote-image', source['id'],
            '--remote-region', 'REGION1', '--remote-service-interface',
            'public', '--store', 'cheap')
        image, task = self.wait_for(self.glance('REGION2'), target['id'])
        self.assertEqual('success', task['status'], task['message'])
        self.assertEqual('cheap', image['stores'])
