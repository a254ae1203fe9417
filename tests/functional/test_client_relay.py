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

"""``image copy`` and ``image sync`` as a relay tree, with the real CLI.

LinkTest copies from SLOW-REGION1, a proxy in front of REGION1 that counts
what crosses it: the source's link. It restarts REGION3 with
glance-download enabled, for three targets: exclusive, which also gives
it the proxy's port alone. RelayTest copies from REGION1 to REGION2 and
REGION4, beside the other tests.
"""

import os
import subprocess

from tests.functional import base
from tests.functional import test_client

MIB = test_client.MIB
PULLED_FROM = 'glance_download_pulled_from'
TARGETS = ('REGION2', 'REGION3', 'REGION4')
METHODS = '[glance-direct,web-download,glance-download]'


def cloud(*args):
    tool = os.path.join(base.REPO, 'tools', 'cloud')
    result = subprocess.run([tool] + list(args), capture_output=True,
                            text=True, timeout=300, stdin=subprocess.DEVNULL)
    if result.returncode:
        raise AssertionError(f'tools/cloud {" ".join(args)}: '
                             f'{result.stderr}')


class Relayed(test_client.ClientTest):
    """Copies made by a relay tree, and what they say."""

    source_region = 'REGION1'

    def source(self, size=MIB):
        source = self.source_image(data=os.urandom(size))
        self.clean_copies(source['id'], TARGETS)
        return source

    def copy_of(self, region, source):
        [copy] = self.copies(region, source['id'])
        return copy

    def corrupt(self, region, image_id):
        """Flip bytes of image_id's data on disk, its size kept."""
        for directory in self.env['regions'][region]['stores'].values():
            path = os.path.join(directory, image_id)
            if os.path.exists(path):
                with open(path, 'r+b') as f:
                    f.seek(1000)
                    data = f.read(16)
                    f.seek(1000)
                    f.write(bytes(b ^ 0xFF for b in data))
                return
        self.fail(f'no data file of {image_id} in {region}')


class RelayTest(Relayed):

    def test_a_relay_whose_data_fails_falls_back_to_the_source(self):
        source = self.source()
        code, _, stderr = self.copy(source['id'], '--from-region',
                                    self.source_region, '--to-region',
                                    'REGION2', '--wait')
        self.assertEqual(test_client.OK, code, stderr)
        relay = self.copy_of('REGION2', source)
        # Its record still says the source's digest; its data no longer
        # matches: a pull from it fails verification mid-copy.
        self.corrupt('REGION2', relay['id'])
        code, rows, stderr = self.copy(
            source['id'], '--from-region', self.source_region, '--to-region',
            'REGION2', '--to-region', 'REGION4', '--wait')
        self.assertEqual(test_client.OK, code, stderr)
        row = self.by_region(rows)['REGION4']
        self.assertEqual(('active', True), (row['Status'],
                                            row['Hash Verified']), row)
        self.assertIn('The pull from region REGION2 failed', row['Message'])
        copy = self.copy_of('REGION4', source)
        self.assertEqual(source['os_hash_value'], copy['os_hash_value'])
        self.assertEqual(self.source_region, copy[PULLED_FROM])
        self.assertEqual((self.source_region, source['id']), (
            copy['glance_download_source_region'],
            copy['glance_download_source_image_id']))

    def test_dry_run_shows_the_tree(self):
        source = self.source()
        code, rows, stderr = self.copy(
            source['id'], '--from-region', self.source_region, '--to-region',
            'REGION2', '--to-region', 'REGION4', '--dry-run')
        self.assertEqual(test_client.OK, code, stderr)
        rows = self.by_region(rows)
        self.assertIn(f'(pulls from region {self.source_region})',
                      rows['REGION2']['Message'])
        self.assertIn('(pulls from region REGION2)',
                      rows['REGION4']['Message'])


class LinkTest(Relayed):

    exclusive = True

    def setUp(self):
        super().setUp()
        self.source_region, self.link = self.slow_region_proxy()

    def crossed(self):
        """Bytes of image data that crossed the source's link."""
        self.link.wait_idle()
        return sum(r.body_bytes for r in self.link.requests_to('/file'))

    def test_three_targets_relayed_the_source_sends_the_image_once(self):
        self.addCleanup(cloud, 'restart', 'REGION3')
        cloud('restart', 'REGION3', '--set',
              f'DEFAULT.enabled_import_methods={METHODS}')
        source = self.source()
        args = [a for r in TARGETS for a in ('--to-region', r)]
        code, rows, stderr = self.copy(source['id'], '--from-region',
                                       self.source_region, *args, '--wait')
        self.assertEqual(test_client.OK, code, stderr)
        rows = self.by_region(rows)
        pulled = {}
        for region in TARGETS:
            row = rows[region]
            self.assertEqual(('created', 'active', True),
                             (row['Action'], row['Status'],
                              row['Hash Verified']), row)
            copy = self.copy_of(region, source)
            self.assertEqual(source['os_hash_value'], copy['os_hash_value'])
            # Provenance names the original, whoever relayed the data.
            self.assertEqual((self.source_region, source['id']), (
                copy['glance_download_source_region'],
                copy['glance_download_source_image_id']))
            pulled[region] = copy[PULLED_FROM]
        [first] = [r for r, o in pulled.items() if o == self.source_region]
        self.assertEqual({first}, {o for r, o in pulled.items()
                                   if r != first}, pulled)
        for region in set(TARGETS) - {first}:
            self.assertIn(f'Pulled from region {first}',
                          rows[region]['Message'])
        self.assertLessEqual(self.crossed(), 1.1 * source['size'])

        # A second run finds the relayed copies: nothing to do.
        code, rows, stderr = self.copy(source['id'], '--from-region',
                                       self.source_region, *args)
        self.assertEqual(test_client.OK, code, stderr)
        self.assertEqual({'skipped'}, {r['Action'] for r in rows})
        code, rows, stderr = self.run_cli(
            'image', 'sync', '--image', source['id'], '--from-region',
            self.source_region, *args, '-f', 'json')
        self.assertEqual(test_client.OK, code, stderr)
        self.assertIn('Nothing to do', stderr)
        code, rows, stderr = self.copy(source['id'], '--from-region',
                                       self.source_region, *args,
                                       '--existing', 'fail')
        self.assertEqual(test_client.ERROR, code, stderr)

    def test_the_star_pulls_every_copy_from_the_source(self):
        source = self.source()
        code, rows, stderr = self.copy(
            source['id'], '--from-region', self.source_region, '--to-region',
            'REGION2', '--to-region', 'REGION4', '--topology', 'star',
            '--wait')
        self.assertEqual(test_client.OK, code, stderr)
        for region in ('REGION2', 'REGION4'):
            self.assertEqual(self.source_region,
                             self.copy_of(region, source)[PULLED_FROM])
        self.assertEqual(2 * source['size'], self.crossed())
