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

"""Redirects a hostile source region sends, against the real cloud.

REGION2's Glance imports from SLOW-REGION1, a FaultProxy in front of
REGION1's Glance, which answers the record or the data with a redirect
crafted to be read one way by one URL parser and another way by the HTTP
library.  A real server listens where the HTTP library would connect:
127.0.0.2, which the cloud's import filtering does not allow, on the
spare port, which it does.  It must receive nothing, not even a
connection; the import fails saying why, and the image is queued again.

These tests use the proxy's port, as test_faults does: .stestr.conf runs
both modules in one worker.
"""

import os

from tests.functional import base
from tests.functional import proxy
from tests.functional import test_faults

SECRET = 'gd-location-secret'


class HostileRedirectTest(test_faults.ProxyTestCase):

    def path_of(self, on, image_id):
        path = f'/v2/images/{image_id}'
        return path + '/file' if on == 'file' else path

    def assert_refused(self, on, location_of, reason):
        """Import with one redirect; the task message, once failed."""
        source = self.source_image(data=os.urandom(65536))
        target = self.target_image()
        spare = self.env['spare_port']
        with base.Listener('127.0.0.2', spare) as elsewhere:
            location = location_of(spare, self.path_of(on, source['id']))
            self.proxy.add(proxy.Redirect(location, on=on))
            self.start_import(source, target)
            message = self.assert_failed_and_queued(
                self.region2, target['id'], reason)
        self.assertEqual(0, elsewhere.connections)
        self.assertIn('Nothing was sent there', message)
        self.assertNotIn('Internal Error', message)
        self.assertEqual([], self.proxy.faults)
        # A retry, without the redirect, succeeds.
        image, task = self.import_through_proxy(source, target)
        self.assert_verified_copy(source, image, task)
        return message

    def backslash_location(self, spare, path):
        """urllib.parse reads the proxy's origin, urllib3 127.0.0.2."""
        return (f'http://127.0.0.2:{spare}\\@127.0.0.1:{self.proxy.port}'
                f'{path}')

    def test_backslash_in_the_record_redirect(self):
        self.assert_refused('metadata', self.backslash_location,
                            'it contains a backslash')

    def test_backslash_in_the_data_redirect(self):
        self.assert_refused('file', self.backslash_location,
                            'it contains a backslash')

    def test_invalid_port(self):
        self.assert_refused(
            'file', lambda spare, path: f'http://127.0.0.1:99999{path}',
            'its port is not a number from 1 to 65535')

    def test_userinfo_is_refused_and_never_written_anywhere(self):
        message = self.assert_refused(
            'metadata',
            lambda spare, path: f'http://someone:{SECRET}@127.0.0.1:'
                                f'{spare}{path}',
            'it contains a user name or password')
        self.assertNotIn(SECRET, message)
        logs = self.env['logs']
        for name in sorted(os.listdir(logs)):
            with open(os.path.join(logs, name), 'rb') as f:
                self.assertNotIn(SECRET.encode(), f.read(), name)
