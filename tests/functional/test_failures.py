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

"""Imports that cannot succeed: a clear message, and nothing lost."""

import os

from tests.functional import base

UNKNOWN_UUID = '0c1b6a8e-5f0e-4a51-9d5c-3f3b1e2a7d40'


class TaskFailureTest(base.FunctionalTest):
    """Refused while running: the task says why, the image stays queued."""

    def start(self, source_id, target=None, **method):
        target = target or self.target_image()
        glance = self.glance('REGION2')
        body = base.glance_download(source_id)
        body.update(method)
        response = glance.import_image(target['id'], body)
        self.assertEqual(202, response.status_code, response.text)
        return glance, target

    def fails_then_recovers(self, glance, target, text):
        """The clear failure, then a good import into the same image."""
        message = self.assert_failed_and_queued(glance, target['id'], text)
        self.retry_succeeds(glance, target,
                            self.source_image(data=os.urandom(8192)))
        return message

    def retry_succeeds(self, glance, target, source):
        self.assert_copied(source,
                           self.import_succeeds(glance, target, source))

    def test_source_queued(self):
        region1 = self.glance('REGION1')
        queued = region1.create()
        self.addCleanup(region1.delete, queued['id'])
        glance, target = self.start(queued['id'])
        self.fails_then_recovers(glance, target,
                                 "is 'queued', not 'active'")

    def test_source_deactivated_then_reactivated(self):
        source = self.source_image()
        admin = self.glance('REGION1', self.admin)
        response = admin.call(
            'POST', f"/v2/images/{source['id']}/actions/deactivate")
        self.assertEqual(204, response.status_code, response.text)
        glance, target = self.start(source['id'])
        self.assert_failed_and_queued(glance, target['id'],
                                      "is 'deactivated', not 'active'")
        admin.call('POST', f"/v2/images/{source['id']}/actions/reactivate")
        self.retry_succeeds(glance, target, source)

    def test_unknown_region(self):
        glance, target = self.start(UNKNOWN_UUID, glance_region='REGION9')
        message = self.fails_then_recovers(
            glance, target, "Region 'REGION9' has no image service")
        self.assertIn('REGION1, REGION2, REGION3', message)

    def test_bad_interface(self):
        glance, target = self.start(UNKNOWN_UUID,
                                    glance_service_interface='private')
        self.fails_then_recovers(
            glance, target, "glance_service_interface 'private' is not "
            "valid: use one of public, internal, admin")

    def test_image_unknown_in_source_region(self):
        glance, target = self.start(UNKNOWN_UUID)
        self.fails_then_recovers(
            glance, target, 'was not found in region REGION1')

    def test_source_private_to_another_project(self):
        private = self.source_image(data=os.urandom(4096), identity=self.alt,
                                    visibility='private')
        glance, target = self.start(private['id'])
        self.fails_then_recovers(
            glance, target,
            'was not found in region REGION1 (HTTP 404): it does not exist '
            'there or your project cannot see it')


class ApiRefusalTest(base.FunctionalTest):
    """Refused by the API at once: HTTP 4xx, nothing started."""

    def assert_refused(self, glance, target, body, status, text):
        response = glance.import_image(target['id'], body)
        self.assertEqual(status, response.status_code, response.text)
        self.assertIn(text, response.text)
        self.assertEqual([], glance.tasks(target['id']))
        self.assertEqual('queued', glance.get(target['id'])['status'])

    def test_malformed_uuid(self):
        target = self.target_image()
        self.assert_refused(self.glance('REGION2'), target,
                            base.glance_download('not-a-uuid'), 400,
                            'does not look like a UUID')

    def test_region_missing(self):
        target = self.target_image()
        body = base.glance_download(UNKNOWN_UUID)
        del body['glance_region']
        self.assert_refused(self.glance('REGION2'), target, body, 400,
                            'glance_region&#x27; needs to be set')

    def test_method_disabled_in_config(self):
        source = self.source_image(data=os.urandom(4096))
        target = self.target_image(region='REGION3')
        glance = self.glance('REGION3')
        response = glance.import_image(target['id'],
                                       base.glance_download(source['id']))
        self.assertEqual(400, response.status_code, response.text)
        self.assertIn('glance-download', response.text)
        self.assertEqual('queued', glance.get(target['id'])['status'])
        result = self.openstack(
            '--os-region-name', 'REGION3', 'image', 'import',
            '--method', 'glance-download', '--remote-image', source['id'],
            '--remote-region', 'REGION1', '--remote-service-interface',
            'public', target['id'], check=False)
        self.assertNotEqual(0, result.returncode)
        self.assertIn('glance-download', result.stderr)

    def test_target_not_queued(self):
        source = self.source_image(data=os.urandom(4096))
        region1 = self.glance('REGION1')
        response = region1.import_image(
            source['id'], base.glance_download(source['id'], 'REGION2'))
        self.assertEqual(409, response.status_code, response.text)
        self.assertIn('cannot be target for import', response.text)
        self.assertEqual('active', region1.get(source['id'])['status'])
