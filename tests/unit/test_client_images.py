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

import unittest

from keystoneauth1 import fixture
from keystoneauth1.identity import v3
from keystoneauth1 import session as ks_session
import requests_mock

from glance_download.client import images

AUTH_URL = 'http://keystone.test/v3'
R2 = 'http://glance-r2.test'


class RegionImagesTest(unittest.TestCase):

    def setUp(self):
        super().setUp()
        self.http = requests_mock.Mocker()
        self.http.start()
        self.addCleanup(self.http.stop)
        token = fixture.V3Token(project_id='p1')
        for region, url in (('R1', 'http://glance-r1.test'), ('R2', R2)):
            token.add_service('image', name='glance').add_standard_endpoints(
                public=url, internal=url, region=region)
        self.http.post(AUTH_URL + '/auth/tokens', json=token,
                       headers={'X-Subject-Token': 'tok'})
        auth = v3.Password(auth_url=AUTH_URL, username='u', password='p',
                           project_id='p1', user_domain_id='default')
        self.session = ks_session.Session(auth=auth)
        self.glance = images.RegionImages(self.session, 'R2')

    def test_import_sends_all_three_remote_parameters(self):
        self.http.post(R2 + '/v2/images/t1/import', status_code=202,
                       headers={'x-openstack-request-id': 'req-1'})
        request_id = self.glance.start_import('t1', 's1', 'R1', 'internal')
        self.assertEqual('req-1', request_id)
        self.assertEqual({'method': {
            'name': 'glance-download', 'glance_image_id': 's1',
            'glance_region': 'R1', 'glance_service_interface': 'internal'}},
            self.http.last_request.json())
        self.assertEqual('tok', self.http.last_request.headers[
            'X-Auth-Token'])

    def test_a_delete_under_way_elsewhere_is_a_delete(self):
        # Glance refuses a second delete while the first is under way.
        self.http.delete(R2 + '/v2/images/c1', status_code=400, json={
            'message': 'Image status transition from deleted to deleted is '
                       'not allowed'},
            headers={'x-openstack-request-id': 'req-2'})
        self.http.get(R2 + '/v2/images/c1', status_code=404)
        self.assertEqual('req-2', self.glance.delete('c1'))

    def test_a_refused_delete_of_an_image_still_there_fails(self):
        self.http.delete(R2 + '/v2/images/c1', status_code=400, json={
            'message': 'protected'})
        self.http.get(R2 + '/v2/images/c1', json={'id': 'c1',
                                                  'status': 'active'})
        with self.assertRaises(images.GlanceError) as ctx:
            self.glance.delete('c1')
        self.assertEqual(400, ctx.exception.status)

    def test_copies_are_found_by_a_property_filter(self):
        self.http.get(R2 + '/v2/images', json={'images': [{'id': 'c1'}]})
        self.assertEqual([{'id': 'c1'}],
                         self.glance.copies('p1', 'R1', 's1'))
        self.assertEqual({
            'glance_download_source_region': ['r1'],
            'glance_download_source_image_id': ['s1'],
            'owner': ['p1'], 'visibility': ['all'], 'limit': ['200']},
            [r.qs for r in self.http.request_history
             if r.path == '/v2/images'][0])

    def listing(self, shown, hidden):
        """Answer GET /v2/images as Glance does for os_hidden."""
        def answer(request, context):
            wanted = request.qs.get('os_hidden', ['false']) == ['true']
            return {'images': hidden if wanted else shown}
        self.http.get(R2 + '/v2/images', json=answer)

    def test_hidden_images_are_listed_too(self):
        self.listing([{'id': 'a'}], [{'id': 'h'}])
        self.assertEqual(['a', 'h'], [i['id'] for i in self.glance.list(
            [('owner', 'p1')])])
        self.assertEqual(['a', 'h'], [i['id'] for i in self.glance.copies(
            'p1', 'R1', 's1')])
        self.assertEqual(['true'], self.http.last_request.qs['os_hidden'])

    def test_a_listing_asking_for_os_hidden_is_made_once(self):
        self.listing([{'id': 'a'}], [{'id': 'h'}])
        self.assertEqual(['a'], [i['id'] for i in self.glance.list(
            [('os_hidden', 'false')])])
        self.assertEqual(1, len([r for r in self.http.request_history
                                 if r.path == '/v2/images']))

    def test_an_image_listed_twice_is_returned_once(self):
        self.listing([{'id': 'a'}], [{'id': 'a'}])
        self.assertEqual([{'id': 'a'}], self.glance.list([]))

    def test_find_a_hidden_image_by_name(self):
        self.listing([], [{'id': 'h', 'name': 'base'}])
        self.assertEqual('h', self.glance.find('base')['id'])
        self.assertEqual(['base'], self.http.last_request.qs['name'])

    def test_find_by_id_then_by_name(self):
        image_id = '5d0c4f2a-2b7e-4d43-9b1e-34a5c2c9f1aa'
        self.http.get(R2 + '/v2/images/' + image_id, json={'id': image_id})
        self.assertEqual(image_id, self.glance.find(image_id)['id'])
        self.listing([{'id': 'x'}], [{'id': 'y'}])
        with self.assertRaises(images.GlanceError) as caught:
            self.glance.find('base')
        self.assertIn('Several images are named base in region R2 (x, y)',
                      str(caught.exception))
        self.listing([], [])
        with self.assertRaises(images.GlanceError) as caught:
            self.glance.find('base')
        self.assertIn('No image base in region R2', str(caught.exception))

    def test_listing_follows_the_pages(self):
        self.http.get(R2 + '/v2/images', [
            {'json': {'images': [{'id': 'a'}], 'next': '/v2/images?m=a'}},
            {'json': {'images': [{'id': 'b'}]}}])
        self.assertEqual(['a', 'b'],
                         [i['id'] for i in self.glance.list([])])
        pages = [r.qs for r in self.http.request_history
                 if r.path == '/v2/images']
        self.assertEqual(['a'], pages[1]['marker'])
        self.assertNotIn('os_hidden', pages[1])

    def test_refusal_is_a_glance_error_with_the_reason(self):
        self.http.post(R2 + '/v2/images', status_code=409,
                       text='409 Conflict\n\nImage with identifier s1 '
                            'already exists!\n\n',
                       headers={'x-openstack-request-id': 'req-2'})
        with self.assertRaises(images.GlanceError) as caught:
            self.glance.create({'id': 's1'})
        error = caught.exception
        self.assertEqual((409, 'req-2'), (error.status, error.request_id))
        self.assertIn('in region R2: HTTP 409: Image with identifier s1 '
                      'already exists!', str(error))

    def test_catalog_regions(self):
        self.assertEqual(['R1', 'R2'],
                         images.catalog_regions(self.session))

    def test_missing_image_is_none(self):
        self.http.get(R2 + '/v2/images/x', status_code=404)
        self.assertIsNone(self.glance.get('x'))
