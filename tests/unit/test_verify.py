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

import hashlib
import unittest

from glance_download import errors
from glance_download import verify

DATA = b'image data'
SHA512 = hashlib.sha512(DATA).hexdigest()
SHA256 = hashlib.sha256(DATA).hexdigest()
MD5 = hashlib.md5(DATA, usedforsecurity=False).hexdigest()


class ExpectedDigestTest(unittest.TestCase):

    def test_multihash_is_preferred(self):
        image = {'os_hash_algo': 'sha512', 'os_hash_value': SHA512,
                 'checksum': MD5}
        self.assertEqual(('sha512', SHA512), verify.expected_digest(image))

    def test_other_multihash_algorithms(self):
        image = {'os_hash_algo': 'sha256', 'os_hash_value': SHA256}
        self.assertEqual(('sha256', SHA256), verify.expected_digest(image))

    def test_values_are_normalised(self):
        image = {'os_hash_algo': 'SHA512', 'os_hash_value': SHA512.upper()}
        self.assertEqual(('sha512', SHA512), verify.expected_digest(image))

    def test_md5_fallback_without_multihash(self):
        for image in ({'checksum': MD5},
                      {'os_hash_algo': 'sha512', 'os_hash_value': None,
                       'checksum': MD5},
                      {'os_hash_algo': None, 'os_hash_value': SHA512,
                       'checksum': MD5}):
            self.assertEqual(('md5', MD5), verify.expected_digest(image))

    def test_md5_fallback_for_unknown_algorithm(self):
        image = {'os_hash_algo': 'whirlpool-9000', 'os_hash_value': 'ab',
                 'checksum': MD5}
        with self.assertLogs('glance_download.verify', 'WARNING'):
            self.assertEqual(('md5', MD5), verify.expected_digest(image))

    def test_size_only_without_any_digest(self):
        self.assertIsNone(verify.expected_digest({'size': 3}))
        self.assertIsNone(verify.expected_digest(
            {'os_hash_algo': None, 'os_hash_value': None, 'checksum': None}))

    def test_unknown_algorithm_without_checksum(self):
        image = {'os_hash_algo': 'whirlpool-9000', 'os_hash_value': 'ab'}
        with self.assertRaises(errors.VerificationError) as caught:
            verify.expected_digest(image)
        self.assertIn("'whirlpool-9000'", str(caught.exception))
        self.assertIn('no md5 checksum', str(caught.exception))

    def test_variable_length_algorithm_is_not_usable(self):
        image = {'os_hash_algo': 'shake_128', 'os_hash_value': 'ab'}
        self.assertRaises(errors.VerificationError,
                          verify.expected_digest, image)

    def test_malformed_values_are_refused_up_front(self):
        for image in ({'os_hash_algo': 'sha512', 'os_hash_value': 'abc'},
                      {'os_hash_algo': 'sha512', 'os_hash_value': 'z' * 128},
                      {'checksum': 'not-an-md5'}):
            with self.assertRaises(errors.VerificationError) as caught:
                verify.expected_digest(image)
            self.assertIn('Nothing was activated', str(caught.exception))

    def test_non_string_fields_are_refused_by_name(self):
        for field, value in (('os_hash_value', 123), ('os_hash_algo', 512),
                             ('checksum', ['x']), ('os_hash_value', {}),
                             ('checksum', True)):
            image = {'os_hash_algo': 'sha512', 'os_hash_value': SHA512,
                     'checksum': MD5, field: value}
            with self.assertRaises(errors.VerificationError) as caught:
                verify.expected_digest(image)
            message = str(caught.exception)
            self.assertIn(f'declares a {field} that is not a string', message)
            self.assertIn('Nothing was activated', message)


class CheckTest(unittest.TestCase):

    def test_match(self):
        verify.check(len(DATA), ('sha512', SHA512), len(DATA), SHA512)
        verify.check(len(DATA), ('md5', MD5.upper()), len(DATA), MD5)
        verify.check(len(DATA), None, len(DATA), None)

    def test_size_mismatch(self):
        with self.assertRaises(errors.VerificationError) as caught:
            verify.check(10, None, 9, None)
        message = str(caught.exception)
        self.assertIn('expected 10 bytes, received 9 bytes', message)
        self.assertIn('Nothing was activated', message)
        self.assertIn('can be retried', message)

    def test_digest_mismatch(self):
        other = hashlib.sha512(b'other').hexdigest()
        with self.assertRaises(errors.VerificationError) as caught:
            verify.check(len(DATA), ('sha512', SHA512), len(DATA), other)
        message = str(caught.exception)
        self.assertIn('sha512 digest', message)
        self.assertIn(f'expected {SHA512}, received {other}', message)

    def test_oversize(self):
        message = str(verify.oversize_error(10, 12))
        self.assertIn('expected 10 bytes, received at least 12 bytes',
                      message)


class NewHashTest(unittest.TestCase):

    def test_new_hash(self):
        digest = verify.new_hash('sha512')
        digest.update(DATA)
        self.assertEqual(SHA512, digest.hexdigest())
        self.assertRaises(ValueError, verify.new_hash, 'whirlpool-9000')


if __name__ == '__main__':
    unittest.main()
