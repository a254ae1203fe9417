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
REGION4, beside the other tests. KilledRelayTest kills a relay region's
glance-api while a target pulls from it: exclusive too.
"""

import os
import signal
import subprocess
import threading
import time
import urllib.parse

from tests.functional import base
from tests.functional import proxy
from tests.functional import test_client
from tests.functional import test_recovery

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

    def assert_pulled_from_the_source(self, region, source):
        """region's copy has the source's data, pulled from the source."""
        copy = self.copy_of(region, source)
        self.assertEqual(source['os_hash_value'], copy['os_hash_value'])
        self.assertEqual(self.source_region, copy[PULLED_FROM])
        self.assertEqual((self.source_region, source['id']), (
            copy['glance_download_source_region'],
            copy['glance_download_source_image_id']))

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
        self.assert_pulled_from_the_source('REGION4', source)

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


class KilledRelayTest(Relayed):
    """A relay region's glance-api killed while a target pulls from it.

    Here SLOW-REGION1 is a proxy to REGION2's Glance, capped at RELAY_RATE:
    a relay region behind a slow link. The copy goes from REGION1 to
    SLOW-REGION1 first (REGION2's Glance downloads from REGION1 directly),
    then REGION4 pulls from SLOW-REGION1 through the cap, slowly enough
    for the test to kill REGION2's uWSGI master and workers in the middle
    of that pull. REGION4's import fails, and the command pulls the copy
    again from the source. REGION2 is restarted at cleanup.
    """

    exclusive = True
    SIZE = 32 * MIB
    RELAY_RATE = 4 * MIB
    # Killed once this much of the relayed pull crossed: well before the
    # end, even with what the sockets hold.
    KILL_AT = 4 * MIB

    def setUp(self):
        super().setUp()
        slow = self.env['slow_region']
        upstream = urllib.parse.urlsplit(
            self.env['regions']['REGION2']['glance_url'])
        self.link = proxy.FaultProxy(
            slow['port'], (upstream.hostname, upstream.port),
            link=proxy.Link(aggregate=self.RELAY_RATE))
        self.link.start()
        self.addCleanup(self.link.stop)
        self.relay = slow['region']

    def relayed_bytes(self):
        return sum(r.body_bytes for r in self.link.requests_to('/file'))

    def kill(self, region):
        state = self.env['state_dir']
        processes = test_recovery.uwsgi_processes(state, region)
        self.assertGreaterEqual(len(processes), 2, processes)
        for pid in processes:
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while test_recovery.uwsgi_processes(state, region):
            if time.monotonic() > deadline:
                self.fail(f'{region} still runs after SIGKILL')
            time.sleep(base.POLL)

    def test_a_relay_killed_mid_copy_the_target_pulls_from_the_source(self):
        source = self.source(self.SIZE)
        ran = {}

        def copy():
            ran['result'] = self.copy(
                source['id'], '--from-region', self.source_region,
                '--to-region', self.relay, '--to-region', 'REGION4',
                '--wait')
        command = threading.Thread(target=copy, daemon=True)
        command.start()
        deadline = time.monotonic() + base.IMPORT_TIMEOUT
        while self.relayed_bytes() < self.KILL_AT:
            if not command.is_alive() or time.monotonic() > deadline:
                self.fail(f'REGION4 did not pull from {self.relay}: '
                          f'{ran.get("result")}')
            time.sleep(0.05)
        self.addCleanup(self.cloud, 'restart', 'REGION2')
        self.kill('REGION2')
        crossed = self.relayed_bytes()
        command.join(timeout=300)
        self.assertFalse(command.is_alive(), 'the command did not end')
        code, rows, stderr = ran['result']
        self.assertLess(crossed, self.SIZE)
        self.assertEqual(test_client.OK, code, stderr)
        rows = self.by_region(rows)
        self.assertEqual(('created', 'active', True), (
            rows[self.relay]['Action'], rows[self.relay]['Status'],
            rows[self.relay]['Hash Verified']))
        row = rows['REGION4']
        # Its copy was made by this run, then imported into again.
        self.assertEqual(('re-imported', 'active', True), (
            row['Action'], row['Status'], row['Hash Verified']), row)
        self.assertIn(f'The pull from region {self.relay} failed',
                      row['Message'])
        self.assertIn('Pulled again from the source region '
                      f'{self.source_region}.', row['Message'])
        # The progress said where the data came from, then fell back.
        self.assertIn(f'REGION4: importing via {self.relay}', stderr)
        self.assert_pulled_from_the_source('REGION4', source)
