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

"""Imports over a slow or faulty link between the regions.

The catalog region SLOW-REGION1 has an image endpoint where these tests run
a FaultProxy in front of REGION1's Glance: REGION2's Glance downloads
through it, with the user's token, as from any remote region.  The proxy
slows the data down or breaks it the way a long-distance link or an
overloaded server does, and records what REGION2 asked for, which shows
whether a broken transfer resumed or started over.

REGION2's ``[glance_download]`` waits are short in the test cloud
(read_timeout 3 s, max_attempts 4, retry delays from 0.2 to 1 s), so each
fault plays out in seconds.  All these tests use the one proxy port:
.stestr.conf has them run in one worker, one after the other.
"""

import os

from tests import fake_glance
from tests.functional import base
from tests.functional import proxy

MIB = 1024 * 1024
SIZE = 6 * MIB
# REGION2 reads the data in 1 MiB chunks (chunk_size's default), and a
# break inside the first chunk can only resume from byte 0: breaks are put
# past it, off any chunk boundary.
BREAK = 5 * MIB + 4321
# Longer than REGION2's read_timeout; stop() ends it when the test is done.
STALL = 30
DIGEST_MISMATCH = ('The image data received does not match the sha512 '
                   'digest declared by the source image')


class ProxyTestCase(base.FunctionalTest):
    """A FaultProxy in front of REGION1, as region SLOW-REGION1."""

    def setUp(self):
        super().setUp()
        self.region, self.proxy = self.slow_region_proxy()
        self.region2 = self.glance('REGION2')

    def start_import(self, source, target):
        response = self.region2.import_image(
            target['id'], base.glance_download(source['id'], self.region))
        self.assertEqual(202, response.status_code, response.text)

    def import_through_proxy(self, source, target=None, messages=None):
        target = target or self.target_image()
        self.start_import(source, target)
        return self.wait_for(self.region2, target['id'], messages)

    def assert_verified_copy(self, source, image, task):
        self.assertEqual('success', task['status'], task['message'])
        self.assertEqual('active', image['status'])
        self.assertEqual(source['size'], image['size'])
        self.assertEqual(source['os_hash_value'], image['os_hash_value'])
        self.assertEqual(self.region, image['glance_download_source_region'])
        self.assertNotIn(image['id'], self.staged_files())
        # The proxy is the catalog's endpoint: the token goes to it.
        self.assertTrue(all(r.token for r in self.proxy.requests),
                        self.proxy.requests)


class ProgressTest(ProxyTestCase):

    def test_task_message_shows_progress(self):
        # Per stream: REGION2 fetches these 12 MiB over 3 streams.
        self.proxy.rate = 1 * MIB
        source = self.source_image(data=os.urandom(12 * MIB))
        messages = []
        image, task = self.import_through_proxy(source, messages=messages)
        self.assert_verified_copy(source, image, task)
        progress = [m for m in messages if m.startswith(
            f'Downloading from region {self.region}: ')]
        # Several updates, growing, each with total, percentage and rate.
        self.assertGreaterEqual(len(progress), 2, messages)
        for message in progress:
            self.assertIn(' of 12.0 MiB (', message)
            self.assertRegex(message, r'\(\d+%\) at [\d.]+ (B|KiB|MiB)/s'
                                      r'( over \d+ streams)?$')
        self.assertNotIn(self.demo.token, '\n'.join(messages))


class FaultTest(ProxyTestCase):

    def assert_resumed(self):
        """Two data requests: the second asked for the rest, and got it."""
        first, second = self.proxy.requests_to('/file')
        self.assertIsNone(first.range)
        self.assertEqual(BREAK, first.body_bytes)
        offset = second.range_start
        self.assertIsNotNone(offset, second.range)
        self.assertGreater(offset, 0)
        self.assertLessEqual(offset, BREAK)
        self.assertEqual(206, second.status)
        self.assertEqual(SIZE - offset, second.body_bytes)
        self.assertLess(first.body_bytes + second.body_bytes, 2 * SIZE)

    def test_cut_connection_resumes(self):
        source = self.source_image(data=os.urandom(SIZE))
        self.proxy.add(proxy.Cut(after=BREAK))
        image, task = self.import_through_proxy(source)
        self.assert_verified_copy(source, image, task)
        self.assert_resumed()

    def test_stall_longer_than_read_timeout_resumes(self):
        source = self.source_image(data=os.urandom(SIZE))
        self.proxy.add(proxy.Stall(after=BREAK, seconds=STALL))
        image, task = self.import_through_proxy(source)
        self.assert_verified_copy(source, image, task)
        self.assert_resumed()

    def test_corrupted_byte_fails_the_import_then_retry_succeeds(self):
        source = self.source_image(data=os.urandom(SIZE))
        target = self.target_image()
        self.proxy.add(proxy.FlipByte(offset=3 * MIB + 7))
        self.start_import(source, target)
        message = self.assert_failed_and_queued(self.region2, target['id'],
                                                DIGEST_MISMATCH)
        self.assertIn(f"expected {source['os_hash_value']}", message)
        self.assertIn('Nothing was activated', message)
        image = self.region2.get(target['id'])
        self.assertIsNone(image['os_hash_value'])
        for store in self.env['regions']['REGION2']['stores'].values():
            self.assertNotIn(target['id'], os.listdir(store))
        corrupted, = self.proxy.requests_to('/file')
        self.assertEqual(SIZE, corrupted.body_bytes)

        # The same import again, over a link that now behaves.
        image, task = self.import_through_proxy(source, target)
        self.assert_verified_copy(source, image, task)

    def test_persistent_server_error_fails_after_max_attempts(self):
        source = self.source_image(data=os.urandom(SIZE))
        target = self.target_image()
        self.proxy.add(proxy.Status(code=500, times=10))
        self.start_import(source, target)
        self.assert_failed_and_queued(
            self.region2, target['id'],
            'The image data could not be downloaded from the source: '
            f'4 attempt(s) failed, the last one at byte 0 of {SIZE} with '
            'HTTP 500 Internal Server Error. Nothing was activated')
        self.assertEqual([500] * 4,
                         [r.status for r in self.proxy.requests_to('/file')])

    def test_unavailable_with_retry_after_then_success(self):
        source = self.source_image(data=os.urandom(SIZE))
        self.proxy.add(proxy.Status(code=503, retry_after='1', times=2))
        image, task = self.import_through_proxy(source)
        self.assert_verified_copy(source, image, task)
        data = self.proxy.requests_to('/file')
        self.assertEqual([503, 503, 200], [r.status for r in data])
        # Retry-After is obeyed: without it the first waits are 0.2 and
        # 0.4 s.
        for before, after in zip(data, data[1:]):
            self.assertGreaterEqual(after.at - before.at, 0.95)

    def test_server_ignoring_range_restarts_from_zero(self):
        source = self.source_image(data=os.urandom(SIZE))
        self.proxy.add(proxy.Cut(after=BREAK), proxy.IgnoreRange(times=3))
        image, task = self.import_through_proxy(source)
        self.assert_verified_copy(source, image, task)
        first, second = self.proxy.requests_to('/file')
        self.assertEqual(BREAK, first.body_bytes)
        # Asked for the rest, got the whole image, and used it from byte 0.
        self.assertGreater(second.range_start, 0)
        self.assertEqual(200, second.status)
        self.assertEqual(SIZE, second.body_bytes)


class RedirectTest(ProxyTestCase):
    """The catalog endpoint redirects to another origin.

    One that import filtering does not allow gets nothing, not even a
    connection, and the import fails saying so.  One it allows serves the
    data, and gets the request without the token.
    """

    def assert_redirect_refused(self, on, path_of):
        source = self.source_image(data=os.urandom(65536))
        target = self.target_image()
        with base.Listener('127.0.0.2') as elsewhere:
            self.proxy.add(proxy.Redirect(
                elsewhere.url + path_of(source['id']), on=on))
            self.start_import(source, target)
            message = self.assert_failed_and_queued(
                self.region2, target['id'], '[import_filtering_opts]')
        self.assertIn(elsewhere.url.split('//')[1], message)
        self.assertEqual(0, elsewhere.connections)

    def test_redirected_image_record(self):
        self.assert_redirect_refused(
            'metadata', lambda image_id: f'/v2/images/{image_id}')

    def test_redirected_image_data(self):
        self.assert_redirect_refused(
            'file', lambda image_id: f'/v2/images/{image_id}/file')

    def test_allowed_other_origin_serves_the_data_without_the_token(self):
        data = os.urandom(2 * MIB + 17)
        source = self.source_image(data=data)
        # Like a download service the source region hands data off to: an
        # allowed host and port, but not the catalog's endpoint.
        with fake_glance.FakeGlance(port=self.env['spare_port'],
                                    tokens=None) as elsewhere:
            copy = elsewhere.add_image(data)
            self.proxy.add(proxy.Redirect(elsewhere.file_url(copy['id']),
                                          on='file'))
            image, task = self.import_through_proxy(source)
        self.assert_verified_copy(source, image, task)
        (redirected,) = self.proxy.requests_to('/file')
        self.assertEqual(302, redirected.status)
        self.assertTrue(redirected.token)
        (served,) = elsewhere.requests_to('/file')
        self.assertEqual('GET', served.method)
        self.assertNotIn('X-Auth-Token', served.headers)
        self.assertNotIn('X-Service-Token', served.headers)
        self.assertNotIn('Authorization', served.headers)
        self.assertEqual(len(data), elsewhere.bytes_sent)
