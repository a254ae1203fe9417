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

"""``openstack image copy`` when a region misbehaves or the user stops it.

The real CLI against the test cloud. The Slow* classes serve SLOW-REGION1's
port themselves (a server that never answers, a plain or throttling proxy
to REGION1): they share that port with test_faults and the others of the
one serial group of .stestr.conf.
"""

import json
import os
import select
import signal
import subprocess
import threading
import time

from tests.functional import silent
from tests.functional import test_client

KIB = 1024
MIB = 1024 * KIB
INTERRUPTED = 130
# Bounds of a CLI run that waits for a dead region: the command's own
# --timeout plus the CLI's start (Python, Keystone) on a busy machine.
STARTUP = 20
SIGINT_TIMEOUT = 60
# --read-timeout of the dead-region tests that wait for it, and the bound
# of the live copy meanwhile: well under it on a busy machine, and under
# it at all only when the live copy is not made to wait for the dead
# region's checks.
DEAD_READ = 20
LIVE_BOUND = 15


class OutputTest(test_client.ClientTest):
    """What the user sees; no test here uses SLOW-REGION1."""

    def test_quiet_hides_the_progress_not_the_failures(self):
        source = self.small_source(size=64 * KIB)
        code, rows, stderr = self.copy(
            source['id'], '--to-region', 'REGION4', '--to-region', 'REGION3',
            '--wait', '-q')
        self.assertEqual(test_client.PARTIAL, code, stderr)
        rows = self.by_region(rows)
        self.assertEqual('active', rows['REGION4']['Status'])
        self.assertNotIn('REGION4: ', stderr)
        # The failure's reason, on one line of its own.
        self.assertIn(f"REGION3: failed (source image {source['id']}): "
                      'Glance in region REGION3 does not offer the '
                      'glance-download import method', stderr)

    def test_timeouts_must_be_positive(self):
        for command, option, value in (
                (['copy', 'any', '--to-region', 'REGION2'], '--timeout', '-1'),
                (['sync', '--to-region', 'REGION2'], '--read-timeout', '0')):
            result = self.openstack('image', *command, option, value,
                                    check=False)
            self.assertEqual(2, result.returncode, result.stderr)
            self.assertIn(f'argument {option}: {value} ', result.stderr)
            self.assertIn('greater than 0', result.stderr)

    def test_counts_must_be_in_range(self):
        for command, option, value, wanted in (
                (['copy', 'any', '--to-region', 'REGION2'], '--max-parallel',
                 '0', 'greater than 0'),
                (['sync', '--to-region', 'REGION2'],
                 '--max-imports-per-region', '-1', 'greater than 0'),
                (['sync', '--tag', 't', '--to-region', 'REGION2'],
                 '--max-delete', '-1', '0 or more')):
            result = self.openstack('image', *command, option, value,
                                    check=False)
            self.assertEqual(2, result.returncode, result.stderr)
            self.assertIn(f'argument {option}: {value} is too small: give '
                          f'a whole number {wanted}', result.stderr)


class SlowDeadRegionTest(test_client.ClientTest):
    """SLOW-REGION1's endpoint accepts connections and never answers."""

    def setUp(self):
        super().setUp()
        self.server = silent.Silent(self.env['slow_region']['port']).start()
        self.addCleanup(self.server.stop)

    def timed_copy(self, *args):
        started = time.monotonic()
        result = self.copy(*args)
        return result, time.monotonic() - started

    def test_the_other_regions_are_copied_and_reported(self):
        source = self.small_source(size=64 * KIB)
        (code, rows, stderr), took = self.timed_copy(
            source['id'], '--to-region', 'REGION4', '--to-region',
            'SLOW-REGION1', '--wait', '--timeout', '60', '--read-timeout',
            '3')
        self.assertEqual(test_client.PARTIAL, code, stderr)
        self.assertLess(took, 60 + STARTUP)
        self.assertGreater(self.server.connections, 0)
        rows = self.by_region(rows)
        self.assertEqual(('created', 'active', True), (
            rows['REGION4']['Action'], rows['REGION4']['Status'],
            rows['REGION4']['Hash Verified']))
        dead = rows['SLOW-REGION1']
        self.assertEqual(('failed', None), (dead['Action'],
                                            dead['Image ID']))
        said = ('Glance in region SLOW-REGION1 (http://127.0.0.1:'
                f"{self.env['slow_region']['port']}) did not answer within "
                '3 s (--read-timeout)')
        self.assertIn(said, dead['Message'])
        self.assertIn(f"SLOW-REGION1: failed (source image {source['id']})",
                      stderr)

    def first_active(self, source, command):
        """(command's result, its seconds, when REGION4's copy was active).

        The last is in seconds from the command's start, None if never.
        """
        active = []
        stop = threading.Event()

        def sample():
            while not stop.is_set() and not active:
                if any(copy['status'] == 'active'
                       for copy in self.copies('REGION4', source['id'])):
                    active.append(time.monotonic())
                stop.wait(0.2)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.monotonic()
        try:
            result = command()
        finally:
            stop.set()
            sampler.join(timeout=10)
        took = time.monotonic() - started
        return result, took, active[0] - started if active else None

    def test_a_dead_region_holds_back_no_other_copy(self):
        source = self.small_source(size=64 * KIB)
        (code, rows, stderr), took, active = self.first_active(
            source, lambda: self.copy(
                source['id'], '--to-region', 'SLOW-REGION1', '--to-region',
                'REGION4', '--wait', '--read-timeout', str(DEAD_READ)))
        self.assertEqual(test_client.PARTIAL, code, stderr)
        rows = self.by_region(rows)
        self.assertEqual(('created', 'active', True), (
            rows['REGION4']['Action'], rows['REGION4']['Status'],
            rows['REGION4']['Hash Verified']))
        self.assertIn(f'did not answer within {DEAD_READ} s '
                      '(--read-timeout)', rows['SLOW-REGION1']['Message'])
        # The dead region's check took its read timeout; the live copy was
        # active long before, while it waited.
        self.assertGreaterEqual(took, DEAD_READ)
        self.assertIsNotNone(active, 'REGION4 was never seen active')
        self.assertLess(active, LIVE_BOUND)

    def test_a_dead_region_holds_back_no_other_region_s_sync(self):
        # Two sources: one row per source in REGION4, one for the region
        # that never answered; its orphans are looked for once it failed.
        first = self.small_source(size=64 * KIB)
        second = self.small_source(size=64 * KIB)
        (code, rows, stderr), took, active = self.first_active(
            first, lambda: self.run_cli(
                'image', 'sync', '--image', first['id'], '--image',
                second['id'], '--to-region', 'SLOW-REGION1', '--to-region',
                'REGION4', '--wait', '--read-timeout', str(DEAD_READ),
                '-f', 'json'))
        self.assertEqual(test_client.PARTIAL, code, stderr)
        self.assertEqual(
            [('REGION4', 'created', 'active')] * 2,
            [(r['Region'], r['Action'], r['Status']) for r in rows
             if r['Region'] == 'REGION4'])
        dead = [r for r in rows if r['Region'] == 'SLOW-REGION1']
        self.assertEqual(1, len(dead), dead)
        self.assertEqual(('failed', ''), (dead[0]['Action'],
                                          dead[0]['Source Image']))
        self.assertIn(f'did not answer within {DEAD_READ} s '
                      '(--read-timeout)', dead[0]['Message'])
        self.assertEqual(1, stderr.count('SLOW-REGION1: failed: '), stderr)
        self.assertGreaterEqual(took, DEAD_READ)
        self.assertIsNotNone(active, 'REGION4 was never seen active')
        self.assertLess(active, LIVE_BOUND)

    def test_sync_too(self):
        source = self.small_source(size=64 * KIB)
        started = time.monotonic()
        code, rows, stderr = self.run_cli(
            'image', 'sync', '--image', source['id'], '--to-region',
            'REGION4', '--to-region', 'SLOW-REGION1', '--wait',
            '--read-timeout', '3', '-f', 'json')
        self.assertLess(time.monotonic() - started, 30 + STARTUP)
        self.assertEqual(test_client.PARTIAL, code, stderr)
        rows = self.by_region(rows)
        self.assertEqual(('created', 'active'), (rows['REGION4']['Action'],
                                                 rows['REGION4']['Status']))
        self.assertIn('did not answer within 3 s (--read-timeout)',
                      rows['SLOW-REGION1']['Message'])
        self.assertIn('SLOW-REGION1: failed: ', stderr)

    def test_timeout_bounds_the_whole_command(self):
        # The read timeout is longer than the command may take: --timeout
        # cuts the dead region's request short, while REGION4 is copied.
        source = self.small_source(size=64 * KIB)
        (code, rows, stderr), took = self.timed_copy(
            source['id'], '--to-region', 'REGION4', '--to-region',
            'SLOW-REGION1', '--wait', '--timeout', '10')
        self.assertEqual(test_client.PARTIAL, code, stderr)
        self.assertLess(took, 10 + STARTUP)
        rows = self.by_region(rows)
        self.assertIn('did not answer before the end of the 10 s of '
                      '--timeout', rows['SLOW-REGION1']['Message'])
        self.assertEqual(('created', 'active', True), (
            rows['REGION4']['Action'], rows['REGION4']['Status'],
            rows['REGION4']['Hash Verified']))


class SlowSameGlanceTest(test_client.ClientTest):
    """SLOW-REGION1 forwards to REGION1 unchanged: the very same Glance."""

    def setUp(self):
        super().setUp()
        self.slow, self.proxy = self.slow_region_proxy()

    def test_no_copy_is_made_beside_the_source(self):
        source = self.small_source(size=64 * KIB)
        self.clean_copies(source['id'], regions=('REGION1', 'REGION4'))
        result = self.openstack(
            '--os-region-name', 'REGION1', 'image', 'copy', source['id'],
            '--to-region', self.slow, '--to-region', 'REGION4', '--wait',
            '-f', 'value', '-c', 'Region', '-c', 'Action', check=False)
        self.assertEqual(test_client.PARTIAL, result.returncode,
                         result.stderr)
        self.assertEqual(['REGION4 created', f'{self.slow} failed'],
                         sorted(result.stdout.splitlines()))
        # The reason, though the table shows no message column.
        self.assertIn(f"{self.slow}: failed (source image {source['id']}): "
                      f'Region {self.slow} is served by the same Glance as '
                      'the source region REGION1', result.stderr)
        self.assertEqual([], self.copies('REGION1', source['id']))
        self.assertEqual(1, len(self.copies('REGION4', source['id'])))


class SlowVersionedEndpointTest(test_client.ClientTest):
    """SLOW-REGION1's catalog URL ends in /v2, as many clouds list Glance."""

    # It changes the catalog every other test's tokens list: the cloud alone.
    exclusive = True

    def setUp(self):
        super().setUp()
        self.slow, self.proxy = self.slow_region_proxy()
        keystone = self.env['keystone_url']
        session = self.admin.session
        found = session.get(f'{keystone}/endpoints', params={
            'region_id': self.slow}).json()['endpoints']
        for endpoint in found:
            url = f"{keystone}/endpoints/{endpoint['id']}"
            self.addCleanup(session.patch, url, json={
                'endpoint': {'url': endpoint['url']}})
            session.patch(url, json={'endpoint': {
                'url': endpoint['url'].rstrip('/') + '/v2'}})

    def test_copy_from_a_region_listed_with_v2(self):
        source = self.small_source(size=64 * KIB)
        code, rows, stderr = self.copy(source['id'], '--from-region',
                                       self.slow, '--to-region', 'REGION4',
                                       '--wait')
        self.assertEqual(test_client.OK, code, stderr)
        [row] = rows
        self.assertEqual(('created', 'active', True), (
            row['Action'], row['Status'], row['Hash Verified']))
        paths = {request.path.split('?')[0]
                 for request in self.proxy.requests}
        self.assertIn(f"/v2/images/{source['id']}", paths)
        self.assertFalse([p for p in paths if p.startswith('/v2/v2')])


class SlowInterruptTest(test_client.ClientTest):
    """Ctrl-C while --wait waits for an import through a slow link."""

    def setUp(self):
        super().setUp()
        self.slow, self.proxy = self.slow_region_proxy()

    def start_cli(self, *args):
        env = dict(os.environ, OS_CLIENT_CONFIG_FILE=self.env['clouds_yaml'])
        command = [os.path.join(self.env['venv'], 'bin', 'openstack'),
                   '--os-cloud', 'gd-demo'] + list(args)
        process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE,
                                   start_new_session=True)
        self.addCleanup(self.end, process)
        return process

    @staticmethod
    def end(process):
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        process.stdout.close()
        process.stderr.close()

    def read_until(self, process, text):
        """Stderr of process up to a line that contains text."""
        seen = b''
        deadline = time.monotonic() + SIGINT_TIMEOUT
        while text.encode() not in seen:
            if time.monotonic() > deadline or process.poll() is not None:
                self.fail(f'no {text!r} from the CLI: {seen!r}')
            ready, _, _ = select.select([process.stderr], [], [], 0.5)
            if ready:
                seen += os.read(process.stderr.fileno(), 65536)
        return seen.decode()

    def test_says_what_goes_on_and_how_to_follow_it(self):
        # Eight seconds of transfer over two streams: the CLI is still
        # waiting when it is interrupted.
        self.proxy.rate = MIB // 4
        source = self.small_source(size=4 * MIB)
        args = ('--os-region-name', 'REGION1', 'image', 'copy', source['id'],
                '--from-region', self.slow, '--to-region', 'REGION2',
                '--wait', '-f', 'json')
        process = self.start_cli(*args)
        self.read_until(process, 'Downloading from region')
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=SIGINT_TIMEOUT)
        stderr = stderr.decode()
        self.assertEqual(INTERRUPTED, process.returncode, stderr)
        [row] = json.loads(stdout)
        self.assertEqual(('created', 'importing'),
                         (row['Action'], row['Status']))
        self.assertIn('Interrupted. These imports go on in Glance, '
                      'server-side:', stderr)
        self.assertIn(f"  REGION2: image {row['Image ID']}, task "
                      f"{row['Task ID']}, a copy of {source['id']}", stderr)
        self.assertIn('Run the same command again with --wait', stderr)
        self.assertNotIn('Traceback', stderr)

        # It went on in Glance: the same command waits for it.
        code, [again], stderr = self.copy(
            source['id'], '--from-region', self.slow, '--to-region',
            'REGION2', '--wait', '--timeout', '120')
        self.assertEqual(test_client.OK, code, stderr)
        self.assertEqual((row['Image ID'], 'active', True), (
            again['Image ID'], again['Status'], again['Hash Verified']))
        self.assertIn(again['Action'], ('attached', 'skipped'))
        self.assertEqual(1, len(self.copies('REGION2', source['id'])))
