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

"""Copies compared like with like: legacy images and other hash algorithms.

A source uploaded before Glance had os_hash_value has only an md5
``checksum``; a region whose Glance hashes with sha256 gives its copies
another os_hash_value than the source's sha512. Both copy, verify, and are
recognised as copies on the next run.
"""

import sqlite3

from tests.functional import test_client


class LegacySourceTest(test_client.ClientTest):

    def legacy_source(self):
        """A source with an md5 checksum only, as older Glance made them."""
        source = self.small_source(size=128 * 1024)
        database = self.env['regions']['REGION1']['database']
        with sqlite3.connect(database, timeout=30) as connection:
            connection.execute(
                'UPDATE images SET os_hash_algo = NULL, os_hash_value = NULL '
                'WHERE id = ?', (source['id'],))
        legacy = self.glance('REGION1').get(source['id'])
        self.assertEqual((None, source['checksum']),
                         (legacy['os_hash_value'], legacy['checksum']))
        return legacy

    def test_a_legacy_source_copies_and_is_found_again(self):
        source = self.legacy_source()
        args = (source['id'], '--to-region', 'REGION4', '--wait')
        code, [row], stderr = self.copy(*args)
        self.assertEqual(test_client.OK, code, stderr)
        self.assertEqual(('created', 'active', True),
                         (row['Action'], row['Status'], row['Hash Verified']),
                         row)
        self.assertIn('checksum (md5)', row['Message'])
        code, [again], stderr = self.copy(*args)
        self.assertEqual(test_client.OK, code, stderr)
        self.assertEqual(('skipped', row['Image ID'], True),
                         (again['Action'], again['Image ID'],
                          again['Hash Verified']))
        code, [replaced], stderr = self.copy(*args, '--existing', 'replace')
        self.assertEqual(test_client.OK, code, stderr)
        self.assertEqual(('replaced', 'active', True),
                         (replaced['Action'], replaced['Status'],
                          replaced['Hash Verified']), replaced)
        [copy] = self.copies('REGION4', source['id'])
        self.assertEqual(replaced['Image ID'], copy['id'])


class OtherAlgorithmTest(test_client.ClientTest):
    """REGION4 hashes with sha256 for these tests: the cloud alone."""

    exclusive = True

    def setUp(self):
        super().setUp()
        self.addCleanup(self.cloud, 'restart', 'REGION4')
        self.cloud('restart', 'REGION4', '--set',
                   'DEFAULT.hashing_algorithm=sha256')

    def test_copy_and_sync_into_a_sha256_region(self):
        source = self.small_source(size=128 * 1024)
        code, [row], stderr = self.copy(source['id'], '--to-region',
                                        'REGION4', '--wait')
        self.assertEqual(test_client.OK, code, stderr)
        self.assertEqual(('created', 'active', True),
                         (row['Action'], row['Status'], row['Hash Verified']),
                         row)
        self.assertIn('checksum (md5)', row['Message'])
        [copy] = self.copies('REGION4', source['id'])
        self.assertEqual('sha256', copy['os_hash_algo'])
        code, rows, stderr = self.run_cli(
            'image', 'sync', '-f', 'json', '--image', source['id'],
            '--to-region', 'REGION4', '--wait')
        self.assertEqual(test_client.OK, code, stderr)
        self.assertEqual([('skipped', copy['id'], True)],
                         [(r['Action'], r['Image ID'], r['Hash Verified'])
                          for r in rows])
