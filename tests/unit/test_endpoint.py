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

from glance_download import endpoint
from glance_download import errors


def v2_catalog():
    return [
        {'type': 'identity', 'name': 'keystone', 'endpoints': [
            {'region': 'REGION1', 'publicURL': 'http://127.0.0.1:5000/v3'}]},
        {'type': 'image', 'name': 'glance', 'endpoints': [
            {'region': 'REGION1',
             'publicURL': 'http://127.0.0.1:9292/v2/',
             'internalURL': 'http://127.0.0.1:9294',
             'adminURL': 'http://127.0.0.1:9295/v2.16'},
            {'region': 'REGION2', 'publicURL': 'http://127.0.0.1:9393'}]},
    ]


class ResolveTest(unittest.TestCase):

    def test_public_is_the_default_and_version_is_stripped(self):
        found = endpoint.resolve(v2_catalog(), 'REGION1', None)
        self.assertEqual(
            endpoint.Endpoint('REGION1', 'public', 'http://127.0.0.1:9292'),
            found)
        self.assertEqual('http://127.0.0.1:9292/v2/images/abc/file',
                         found.file_url('abc'))

    def test_each_interface(self):
        self.assertEqual('http://127.0.0.1:9294', endpoint.resolve(
            v2_catalog(), 'REGION1', 'internal').url)
        self.assertEqual('http://127.0.0.1:9295', endpoint.resolve(
            v2_catalog(), 'REGION1', 'adminURL').url)

    def test_region_case_is_forgiven_and_reported_as_catalogued(self):
        found = endpoint.resolve(v2_catalog(), 'region2', 'public')
        self.assertEqual('REGION2', found.region)

    def test_v3_catalog(self):
        catalog = [{'type': 'image', 'id': 'x', 'endpoints': [
            {'id': '1', 'interface': 'public', 'region': 'RegionOne',
             'region_id': 'RegionOne',
             'url': 'https://glance.example/image/v2'},
        ]}]
        found = endpoint.resolve(catalog, 'RegionOne', 'public')
        self.assertEqual('https://glance.example/image', found.url)

    def test_unknown_region_names_the_regions_that_have_one(self):
        with self.assertRaises(errors.InvalidRequest) as ctx:
            endpoint.resolve(v2_catalog(), 'REGION9', 'public')
        message = str(ctx.exception)
        self.assertIn("'REGION9'", message)
        self.assertIn('REGION1, REGION2', message)

    def test_missing_interface_names_those_available(self):
        with self.assertRaises(errors.InvalidRequest) as ctx:
            endpoint.resolve(v2_catalog(), 'REGION2', 'admin')
        self.assertIn('it has: public', str(ctx.exception))

    def test_bad_interface(self):
        for bad in ('private', 'PUBLICX', 7):
            with self.assertRaises(errors.InvalidRequest) as ctx:
                endpoint.resolve(v2_catalog(), 'REGION1', bad)
            self.assertIn('public, internal, admin', str(ctx.exception))

    def test_missing_region(self):
        for bad in (None, '', '  ', 3):
            self.assertRaises(errors.InvalidRequest, endpoint.resolve,
                              v2_catalog(), bad, 'public')

    def test_no_image_service(self):
        for catalog in (None, [], v2_catalog()[:1]):
            with self.assertRaises(errors.InvalidRequest) as ctx:
                endpoint.resolve(catalog, 'REGION1', 'public')
            self.assertIn('no image service', str(ctx.exception))


class HelpersTest(unittest.TestCase):

    def test_strip_version(self):
        for url, expected in [
                ('http://h:9292', 'http://h:9292'),
                ('http://h:9292/', 'http://h:9292'),
                ('http://h:9292/v2', 'http://h:9292'),
                ('http://h:9292/v2/', 'http://h:9292'),
                ('http://h/image/v2.1', 'http://h/image'),
                ('http://h/image/v1', 'http://h/image'),
                ('http://h/v2images', 'http://h/v2images')]:
            self.assertEqual(expected, endpoint.strip_version(url), url)

    def test_image_id_is_quoted_in_urls(self):
        found = endpoint.Endpoint('R', 'public', 'http://h')
        self.assertEqual('http://h/v2/images/a%2F..%2Fb',
                         found.image_url('a/../b'))
