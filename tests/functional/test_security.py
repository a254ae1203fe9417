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

"""What the method must never do, whatever the request or the catalog."""

import contextlib
import os
import uuid

from tests.functional import base


class CatalogFilteringTest(base.FunctionalTest):
    """An image endpoint import filtering refuses gets nothing at all."""

    # It adds a region to the catalog, which every token issued meanwhile
    # lists (image sync --to-all-regions would act on it): the cloud alone.
    exclusive = True

    @contextlib.contextmanager
    def region_with_endpoint(self, url):
        """A catalog region, just made, whose image endpoint is ``url``."""
        keystone = base.Glance(self.env, 'REGION1', self.admin)
        keystone.url = self.env['keystone_url']
        region = 'FILTERED-' + uuid.uuid4().hex[:8]
        response = keystone.call('POST', '/regions',
                                 json={'region': {'id': region}})
        self.assertEqual(201, response.status_code, response.text)
        service = keystone.call('GET', '/services?type=image').json()[
            'services'][0]['id']
        endpoint = keystone.call('POST', '/endpoints', json={'endpoint': {
            'service_id': service, 'interface': 'public',
            'region_id': region, 'url': url}}).json()['endpoint']['id']
        try:
            yield region
        finally:
            keystone.call('DELETE', f'/endpoints/{endpoint}')
            keystone.call('DELETE', f'/regions/{region}')

    def assert_refused_unreached(self, host, port):
        source = self.source_image(data=os.urandom(4096))
        target = self.target_image()
        with base.Listener(host, port) as listener:
            with self.region_with_endpoint(listener.url) as region:
                # A token issued now has the new region in its catalog.
                user = base.Identity(self.env, 'demo')
                glance = self.glance('REGION2', user)
                response = glance.import_image(
                    target['id'], base.glance_download(source['id'], region))
                self.assertEqual(202, response.status_code, response.text)
                message = self.assert_failed_and_queued(
                    glance, target['id'], '[import_filtering_opts]')
        self.assertIn(listener.url.split('//')[1], message)
        self.assertEqual(0, listener.connections)

    def test_disallowed_port(self):
        self.assert_refused_unreached('127.0.0.1', 0)

    def test_disallowed_host(self):
        allowed_port = self.env['ports']['REGION1']
        self.assert_refused_unreached('127.0.0.2', allowed_port)


class ReservedAttributesTest(base.FunctionalTest):
    """REGION1 copies every os_ property; reserved ones still never."""

    def test_broad_prefix_never_copies_reserved_attributes(self):
        source = self.source_image(data=os.urandom(8192), region='REGION2',
                                   os_admin_user='root',
                                   architecture='x86_64')
        target = self.target_image(region='REGION1')
        image = self.import_succeeds(self.glance('REGION1'), target, source,
                                     'REGION2')
        # Copied through the broad prefixes:
        self.assertEqual('root', image['os_admin_user'])
        self.assertEqual('x86_64', image['architecture'])
        self.assertEqual('cirros', image['os_distro'])
        # Glance's own values, not the source's record:
        self.assertEqual(target['id'], image['id'])
        self.assertEqual(self.demo.project_id, image['owner'])
        self.assertEqual(target['name'], image['name'])
        self.assertEqual(target['created_at'], image['created_at'])
        self.assertNotEqual(source['visibility'], 'public')
        for name in ('os_glance_importing_to_stores',
                     'os_glance_failed_import'):
            self.assertEqual('', image.get(name, ''))
        self.assertEqual(source['os_hash_value'], image['os_hash_value'])
        self.assertNotIn('os_glance_import_task', image)


class OwnershipTest(base.FunctionalTest):
    """The method writes only the caller's images.

    That it reads only what the caller may read is shown by
    test_failures.TaskFailureTest.test_source_private_to_another_project.
    """

    def test_cannot_overwrite_another_projects_image(self):
        source = self.source_image(data=os.urandom(4096))
        for visibility in ('private', 'public'):
            kwargs = {'visibility': visibility}
            identity = self.admin if visibility == 'public' else self.alt
            theirs = self.target_image(identity=identity, **kwargs)
            response = self.glance('REGION2').import_image(
                theirs['id'], base.glance_download(source['id']))
            self.assertIn(response.status_code, (403, 404), response.text)
            owner = self.glance('REGION2', identity)
            self.assertEqual('queued', owner.get(theirs['id'])['status'])
            self.assertEqual([], owner.tasks(theirs['id']))
