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

"""The fake Glance's own behaviour, which the other tests rely on."""

import hashlib
import json
import time
import unittest

import requests

from tests import fake_glance
from tests.fake_glance import Cut
from tests.fake_glance import FakeGlance
from tests.fake_glance import IgnoreRange
from tests.fake_glance import Redirect
from tests.fake_glance import Stall
from tests.fake_glance import Status


class FakeGlanceTest(unittest.TestCase):
    """The fake's own behaviour, which other tests rely on."""

    def setUp(self):
        self.glance = FakeGlance(prefix='/image').start()
        self.addCleanup(self.glance.stop)
        self.session = requests.Session()
        self.addCleanup(self.session.close)
        self.headers = {'X-Auth-Token': fake_glance.DEFAULT_TOKEN}

    def get(self, url, token=fake_glance.DEFAULT_TOKEN, **headers):
        if token:
            headers['X-Auth-Token'] = token
        return self.session.get(url, headers=headers, timeout=(1, 2),
                                allow_redirects=False)

    def test_record_and_data(self):
        image = self.glance.add_image(b'abc', name='cirros', hw_foo='bar')
        self.assertTrue(self.glance.url.endswith('/image'))
        record = self.get(self.glance.image_url(image['id'])).json()
        self.assertEqual(image, record)
        self.assertEqual(('active', 3, 'raw', 'bare', 'sha512', 'bar'),
                         (record['status'], record['size'],
                          record['disk_format'], record['container_format'],
                          record['os_hash_algo'], record['hw_foo']))
        self.assertEqual(hashlib.sha512(b'abc').hexdigest(),
                         record['os_hash_value'])
        response = self.get(self.glance.file_url(image['id']))
        self.assertEqual((200, b'abc', 'application/octet-stream', '3'),
                         (response.status_code, response.content,
                          response.headers['Content-Type'],
                          response.headers['Content-Length']))
        method, path, headers = self.glance.requests[-1]
        self.assertEqual(('GET', f'/image/v2/images/{image["id"]}/file'),
                         (method, path))
        self.assertEqual(fake_glance.DEFAULT_TOKEN, headers['x-auth-token'])

    def test_ranges(self):
        image = self.glance.add_image(b'0123456789')
        url = self.glance.file_url(image['id'])
        response = self.get(url, Range='bytes=4-')
        self.assertEqual((206, b'456789', 'bytes 4-9/10'),
                         (response.status_code, response.content,
                          response.headers['Content-Range']))
        self.assertEqual(b'45', self.get(url, Range='bytes=4-5').content)
        response = self.get(url, Range='bytes=10-')
        self.assertEqual((416, 'bytes */10'),
                         (response.status_code,
                          response.headers['Content-Range']))

    def test_auth_and_visibility(self):
        image = self.glance.add_image(b'x', visible_to={'a', 'b'},
                                      forbidden_to={'b'})
        self.glance.tokens |= {'a', 'b', 'c'}
        url = self.glance.file_url(image['id'])
        self.assertEqual(
            [401, 401, 200, 403, 404],
            [self.get(url, token=t).status_code
             for t in (None, 'unknown', 'a', 'b', 'c')])
        self.assertEqual(404, self.get(self.glance.url + '/v2/other')
                         .status_code)

    def test_image_without_data(self):
        image = self.glance.add_image(b'', status='queued')
        self.assertEqual(204, self.get(self.glance.file_url(image['id']))
                         .status_code)

    def test_redirect_and_another_loopback_host(self):
        with FakeGlance(host='127.0.0.2', tokens=None) as other:
            copy = other.add_image(b'moved')
            image = self.glance.add_image(b'moved')
            self.glance.faults.append(
                Redirect(location=other.file_url(copy['id']), on='metadata'))
            response = self.get(self.glance.image_url(image['id']))
            self.assertEqual((302, other.file_url(copy['id'])),
                             (response.status_code,
                              response.headers['Location']))
            self.assertEqual(200, self.get(self.glance.image_url(image['id']))
                             .status_code)
            response = self.get(response.headers['Location'], token=None)
            self.assertEqual(b'moved', response.content)
            self.assertNotIn('X-Auth-Token', other.requests[-1].headers)
            self.assertTrue(other.url.startswith('http://127.0.0.2:'))

    def test_faults_are_consumed_in_order(self):
        image = self.glance.add_image(b'x')
        self.glance.faults += [Status(503, retry_after='1', times=2),
                               Status(500, on='metadata')]
        url = self.glance.file_url(image['id'])
        self.assertEqual(500, self.get(self.glance.image_url(image['id']))
                         .status_code)
        first = self.get(url)
        self.assertEqual((503, '1'),
                         (first.status_code, first.headers['Retry-After']))
        self.assertEqual([503, 200], [self.get(url).status_code
                                      for _ in range(2)])
        self.assertEqual([], self.glance.faults)

    def test_invalid_faults(self):
        self.assertRaises(ValueError, Cut, after=1, times=0)
        self.assertRaises(ValueError, IgnoreRange, on='metadata')

    def test_stop_is_prompt_during_a_stall(self):
        image = self.glance.add_image(b'x' * 100_000)
        self.glance.faults.append(Stall(after=10, seconds=60))
        self.assertRaises(requests.exceptions.ConnectionError,
                          lambda: self.session.get(
                              self.glance.file_url(image['id']),
                              headers=self.headers, timeout=(1, 0.2)).content)
        started = time.monotonic()
        self.glance.stop()
        self.assertLess(time.monotonic() - started, 2)

    def test_loopback_only(self):
        self.assertRaises(ValueError, FakeGlance, host='0.0.0.0')

    def test_json_record_is_live(self):
        image = self.glance.add_image(b'x')
        image['status'] = 'deactivated'
        url = self.glance.image_url(image['id'])
        self.assertEqual('deactivated',
                         json.loads(self.get(url).content)['status'])
        self.assertEqual(403, self.get(url + '/file').status_code)


if __name__ == '__main__':
    unittest.main()
