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

"""Content already in the target region is copied there, not sent again.

The source is REGION1 behind the SLOW-REGION1 proxy, which counts what
crosses the link; the imports are plain ``openstack image import
--method glance-download`` as the demo user. A "twin" is an image of the
target region with the source's data, uploaded there beforehand.
"""

import os

from tests.functional import base

MIB = 1024 * 1024
SIZE = 2 * MIB


class TwinTest(base.FunctionalTest):

    def setUp(self):
        super().setUp()
        self.region, self.proxy = self.slow_region_proxy()
        self.data = os.urandom(SIZE)
        self.source = self.source_image(data=self.data)

    def import_into(self, target, region='REGION2'):
        if region == 'REGION2':
            self.openstack(
                '--os-region-name', region, 'image', 'import',
                '--method', 'glance-download', '--remote-image',
                self.source['id'], '--remote-region', self.region,
                '--remote-service-interface', 'public', target['id'])
        glance = self.glance(region)
        if region != 'REGION2':
            # The CLI sends all_stores_must_succeed, which a Glance with a
            # single store refuses (HTTP 400): the API's request instead.
            response = glance.import_image(
                target['id'], base.glance_download(self.source['id'],
                                                   self.region))
            self.assertEqual(202, response.status_code, response.text)
        image, task = self.wait_for(glance, target['id'])
        self.assertEqual('success', task['status'], task['message'])
        self.assertEqual('active', image['status'])
        for field in ('size', 'checksum', 'os_hash_algo', 'os_hash_value'):
            self.assertEqual(self.source[field], image[field], field)
        self.assertEqual(self.region, image['glance_download_source_region'])
        self.assertNotIn(target['id'], self.staged_files(region))
        self.proxy.wait_idle()
        self.task = task
        return image

    def link_bytes(self):
        return sum(r.body_bytes for r in self.proxy.requests)

    def data_requests(self):
        return self.proxy.requests_to('/file')

    def log_of(self, region):
        with open(self.env['regions'][region]['log'], errors='replace') as f:
            return f.read()

    def assert_twin_served(self, region):
        twin = self.source_image(data=self.data, region=region)
        target = self.target_image(region=region)
        self.import_into(target, region)
        self.assertEqual([], self.data_requests())
        # Two reads of the source's record, a few KiB: under 1 % of the
        # image crossed the link.
        self.assertLess(self.link_bytes(), SIZE // 100)
        self.assertIn(f'bytes copied from image {twin["id"]} in this region, '
                      f'none from image {self.source["id"]}',
                      self.log_of(region))
        # The task's last message still says so, after Glance's store step.
        self.assertIn(f'found in this region as image {twin["id"]}, 0 bytes '
                      'crossed the link', self.task['message'])
        self.assertIn('Copied', self.task['message'])

    def test_twin_present_nothing_crosses_the_link(self):
        # REGION2: multiple stores, the twin in its default store.
        self.assert_twin_served('REGION2')

    def test_twin_in_a_single_store_region(self):
        # REGION4: one store, legacy staging.
        self.assert_twin_served('REGION4')

    def test_twin_invisible_to_the_caller_is_not_used(self):
        hidden = self.source_image(data=self.data, region='REGION2',
                                   identity=self.alt, visibility='private')
        self.assertEqual(self.source['os_hash_value'],
                         hidden['os_hash_value'])
        target = self.target_image()
        self.import_into(target)
        # All of it came over the link; alt's image was never read.
        self.assertTrue(self.data_requests())
        self.assertGreaterEqual(self.link_bytes(), SIZE)
        log = self.log_of('REGION2')
        self.assertNotIn(f'copied from image {hidden["id"]}', log)
        self.assertNotIn(f'Image {hidden["id"]} in this region', log)

    def test_twin_with_other_data_than_its_hash_falls_back(self):
        twin = self.source_image(data=self.data, region='REGION2')
        path = os.path.join(self.env['regions']['REGION2']['stores']['fast'],
                            twin['id'])
        with open(path, 'r+b') as f:
            f.seek(SIZE // 2)
            byte = f.read(1)
            f.seek(SIZE // 2)
            f.write(bytes([byte[0] ^ 0xff]))
        target = self.target_image()
        image = self.import_into(target)
        # Downloaded and verified against the source after all.
        self.assertTrue(self.data_requests())
        self.assertGreaterEqual(self.link_bytes(), SIZE)
        self.assertEqual(self.source['os_hash_value'], image['os_hash_value'])
        log = self.log_of('REGION2')
        self.assertIn(f'Image {twin["id"]} in this region could not serve '
                      f'the data of import task', log)
        self.assertIn("its data differs from the source's digest", log)
