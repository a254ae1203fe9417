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

"""``openstack image copy`` end to end: the real CLI, with the plugin.

The commands run as a user runs them: the ``openstack`` of the cloud's
virtual environment, with clouds.yaml written by tools/cloud and
``--os-cloud gd-demo``. REGION2 and REGION4 offer glance-download, REGION3
does not; SLOW-REGION1 is a throttling proxy in front of REGION1 (see
test_faults), so that progress can be watched.
"""

import json
import os
import pty
import re
import select
import signal
import subprocess
import threading
import time
import uuid

from tests.functional import base
from tests.functional import proxy

MIB = 1024 * 1024
# Exit statuses of the commands (glance_download.client.plan).
OK, ERROR, PARTIAL, TIMEOUT = 0, 1, 3, 4
PROVENANCE = 'glance_download_source_image_id'
PTY_TIMEOUT = 120


class ClientTest(base.FunctionalTest):
    """Runs image copy and sync; removes the copies they made."""

    def run_cli(self, *args, region='REGION1', cloud='gd-demo'):
        """(exit status, rows of -f json or None, stderr)."""
        result = self.openstack('--os-region-name', region, *args,
                                cloud=cloud, check=False)
        rows = None
        if '-f' in args and args[args.index('-f') + 1] == 'json':
            try:
                rows = json.loads(result.stdout)
            except ValueError:
                self.fail(f'not JSON ({result.returncode}): '
                          f'{result.stdout} {result.stderr}')
        return result.returncode, rows, result.stderr

    def copy(self, image, *args, region='REGION1'):
        return self.run_cli('image', 'copy', image, '-f', 'json', *args,
                            region=region)

    def copies(self, region, source_id, identity=None):
        """The copies of source_id in region, found by provenance."""
        glance = self.glance(region, identity)
        response = glance.call('GET', '/v2/images', params={
            PROVENANCE: source_id, 'visibility': 'all'})
        self.assertEqual(200, response.status_code, response.text)
        return response.json()['images']

    def clean_copies(self, source_id, regions=('REGION2', 'REGION4'),
                     identity=None):
        """At the end: delete every copy of source_id in regions."""
        def clean():
            for region in regions:
                glance = self.glance(region, identity)
                for image in self.copies(region, source_id, identity):
                    glance.delete(image['id'])
        self.addCleanup(clean)

    def small_source(self, size=MIB, **fields):
        source = self.source_image(data=os.urandom(size), **fields)
        self.clean_copies(source['id'])
        return source

    def by_region(self, rows):
        return {row['Region']: row for row in rows}


class CopyTest(ClientTest):

    def test_two_regions_copied_while_a_third_refuses(self):
        source = self.small_source(tags=['base'], min_ram=64)
        code, rows, stderr = self.copy(
            source['id'], '--to-region', 'REGION2', '--to-region', 'REGION4',
            '--to-region', 'REGION3', '--wait')
        self.assertEqual(PARTIAL, code, stderr)
        rows = self.by_region(rows)
        self.assertEqual({'REGION2', 'REGION3', 'REGION4'}, set(rows))
        for region in ('REGION2', 'REGION4'):
            row = rows[region]
            self.assertEqual(('created', 'active', source['size'], True),
                             (row['Action'], row['Status'], row['Size'],
                              row['Hash Verified']), row)
            self.assertTrue(row['Task ID'])
            self.assertTrue(row['Request ID'].startswith('req-'), row)
            self.assertGreater(row['Seconds'], 0)
            [copy] = self.copies(region, source['id'])
            self.assertEqual(row['Image ID'], copy['id'])
            self.assertEqual(source['os_hash_value'], copy['os_hash_value'])
            self.assertEqual(('private', source['name'], ['base'], 64),
                             (copy['visibility'], copy['name'],
                              copy['tags'], copy['min_ram']))
            self.assertEqual('REGION1',
                             copy['glance_download_source_region'])
            # Plain lines of progress on stderr, which is not a terminal.
            self.assertIn(f'{region}: active', stderr)
        refused = rows['REGION3']
        self.assertEqual('failed', refused['Action'])
        self.assertIn('REGION3 does not offer the glance-download import '
                      'method', refused['Message'])
        self.assertIsNone(refused['Image ID'])
        self.assertEqual([], self.copies('REGION3', source['id']))

        # The same again is a no-op: the copies are found and kept.
        code, again, stderr = self.copy(
            source['id'], '--to-region', 'REGION2', '--to-region', 'REGION4',
            '--wait')
        self.assertEqual(OK, code, stderr)
        for region, row in self.by_region(again).items():
            self.assertEqual(('skipped', rows[region]['Image ID'], True),
                             (row['Action'], row['Image ID'],
                              row['Hash Verified']))
            self.assertEqual(1, len(self.copies(region, source['id'])))

    def test_without_wait_then_attach(self):
        source = self.small_source(size=8 * MIB)
        code, rows, stderr = self.copy(source['id'], '--to-region',
                                       'REGION4')
        self.assertEqual(OK, code, stderr)
        [row] = rows
        self.assertEqual(('created', 'importing'),
                         (row['Action'], row['Status']))
        code, rows, stderr = self.copy(source['id'], '--to-region',
                                       'REGION4', '--wait')
        self.assertEqual(OK, code, stderr)
        [again] = rows
        # Attached to the import while it runs, or skipped once it ended.
        self.assertIn(again['Action'], ('attached', 'skipped'))
        self.assertEqual((row['Image ID'], 'active', True),
                         (again['Image ID'], again['Status'],
                          again['Hash Verified']))
        self.assertEqual(1, len(self.copies('REGION4', source['id'])))

    def test_existing_copy_fail_or_replace(self):
        source = self.small_source()
        args = (source['id'], '--to-region', 'REGION4', '--wait')
        code, [first], stderr = self.copy(*args)
        self.assertEqual(OK, code, stderr)
        code, [refused], stderr = self.copy(*args, '--existing', 'fail')
        self.assertEqual(ERROR, code, stderr)
        self.assertIn('already has a copy', refused['Message'])
        code, [replaced], stderr = self.copy(*args, '--existing', 'replace')
        self.assertEqual(OK, code, stderr)
        self.assertEqual(('replaced', 'active', True),
                         (replaced['Action'], replaced['Status'],
                          replaced['Hash Verified']))
        [copy] = self.copies('REGION4', source['id'])
        self.assertEqual(replaced['Image ID'], copy['id'])
        self.assertNotEqual(first['Image ID'], copy['id'])

    def test_a_replacement_that_cannot_be_made_keeps_the_old_copy(self):
        source = self.small_source()
        args = (source['id'], '--to-region', 'REGION4', '--wait')
        code, [first], stderr = self.copy(*args)
        self.assertEqual(OK, code, stderr)
        # demo may not publicize: the new copy is refused.
        code, [refused], stderr = self.copy(*args, '--existing', 'replace',
                                            '--visibility', 'public')
        self.assertEqual(ERROR, code, stderr)
        self.assertIn('You may not create this copy', refused['Message'])
        [copy] = self.copies('REGION4', source['id'])
        self.assertEqual((first['Image ID'], 'active',
                          source['os_hash_value']),
                         (copy['id'], copy['status'], copy['os_hash_value']))

    def test_same_id(self):
        source = self.small_source()
        code, rows, stderr = self.copy(source['id'], '--to-region',
                                       'REGION4', '--same-id', '--wait',
                                       '--name', 'same-id-copy')
        self.assertEqual(OK, code, stderr)
        [row] = rows
        self.assertEqual(source['id'], row['Image ID'])
        copy = self.glance('REGION4').get(source['id'])
        self.assertEqual(('active', 'same-id-copy'),
                         (copy['status'], copy['name']))

    def test_same_id_held_by_another_project_s_image(self):
        source = self.small_source()
        # alt takes the id first, with provenance that names the source.
        region4 = self.glance('REGION4', self.alt)
        decoy = region4.create(
            id=source['id'], visibility='community',
            glance_download_source_region='REGION1',
            glance_download_source_image_id=source['id'])
        self.addCleanup(region4.delete, decoy['id'])
        code, [row], stderr = self.copy(source['id'], '--to-region',
                                        'REGION4', '--same-id', '--wait')
        self.assertEqual(ERROR, code, stderr)
        self.assertEqual('failed', row['Action'])
        self.assertIn('holds that id but is not a copy', row['Message'])
        self.assertIn(f"owned by project {decoy['owner']}", row['Message'])
        self.assertEqual(('queued', decoy['owner']), (
            region4.get(decoy['id'])['status'],
            region4.get(decoy['id'])['owner']))

    def test_same_id_clash(self):
        source = self.small_source()
        # The id existed in REGION2 once: Glance never gives it again.
        region2 = self.glance('REGION2')
        region2.create(id=source['id'])
        region2.delete(source['id'])
        code, rows, stderr = self.copy(source['id'], '--to-region',
                                       'REGION2', '--same-id', '--wait')
        self.assertEqual(ERROR, code, stderr)
        [row] = rows
        self.assertEqual('failed', row['Action'])
        self.assertIn(f"Image id {source['id']} exists in region REGION2, or "
                      "existed", row['Message'])
        self.assertEqual([], self.copies('REGION2', source['id']))

    def test_dry_run_changes_nothing(self):
        source = self.small_source()
        code, rows, stderr = self.copy(
            source['id'], '--to-region', 'REGION2', '--to-region', 'REGION3',
            '--dry-run')
        self.assertEqual(PARTIAL, code, stderr)
        rows = self.by_region(rows)
        self.assertEqual('would create', rows['REGION2']['Action'])
        self.assertEqual('would fail', rows['REGION3']['Action'])
        for region in ('REGION2', 'REGION3'):
            self.assertEqual('dry-run', rows[region]['Status'])
            self.assertEqual([], self.copies(region, source['id']))

    def test_publicize_needs_the_right(self):
        source = self.small_source()
        code, rows, stderr = self.copy(source['id'], '--to-region',
                                       'REGION2', '--visibility', 'public')
        self.assertEqual(ERROR, code, stderr)
        self.assertIn('You may not create this copy in region REGION2',
                      rows[0]['Message'])
        self.assertEqual([], self.copies('REGION2', source['id']))

    def assert_refused(self, args, text, region='REGION1'):
        result = self.openstack('--os-region-name', region, 'image', 'copy',
                                *args, check=False)
        self.assertEqual(ERROR, result.returncode, result.stderr)
        self.assertIn(text, result.stderr)
        return result.stderr

    def test_bad_input(self):
        source = self.small_source()
        stderr = self.assert_refused([source['id'], '--to-region',
                                      'REGION9'], 'Region REGION9 has no')
        self.assertIn('REGION1, REGION2, REGION3, REGION4', stderr)
        self.assert_refused([source['id'], '--to-region', 'REGION1'],
                            'Region REGION1 is the source')
        self.assert_refused([str(uuid.uuid4()), '--to-region', 'REGION2'],
                            'that you can see')
        queued = self.target_image(region='REGION1')
        self.assert_refused([queued['id'], '--to-region', 'REGION2'],
                            "is 'queued', not 'active'")
        glance = self.glance('REGION1')
        snapshot = glance.create(block_device_mapping='[{"boot_index": 0}]',
                                 bdm_v2='True', root_device_name='/dev/vda')
        self.addCleanup(glance.delete, snapshot['id'])
        glance.upload(snapshot['id'], b'')
        self.assert_refused([snapshot['id'], '--to-region', 'REGION2'],
                            'snapshot of a volume-backed instance')
        for image in (source, queued, snapshot):
            self.assertEqual([], self.copies('REGION2', image['id']))

    def test_os_variables_instead_of_clouds_yaml(self):
        source = self.small_source()
        user = self.env['users']['demo']
        env = {key: value for key, value in os.environ.items()
               if not key.startswith('OS_')}
        env.update(OS_AUTH_URL=self.env['keystone_url'],
                   OS_USERNAME=user['username'],
                   OS_PASSWORD=user['password'],
                   OS_PROJECT_NAME=user['project_name'],
                   OS_USER_DOMAIN_NAME='Default',
                   OS_PROJECT_DOMAIN_NAME='Default',
                   OS_IDENTITY_API_VERSION='3', OS_REGION_NAME='REGION1',
                   OS_CLIENT_CONFIG_FILE=os.devnull)
        result = subprocess.run(
            [os.path.join(self.env['venv'], 'bin', 'openstack'), 'image',
             'copy', source['name'], '--to-region', 'REGION2', '--dry-run',
             '-f', 'json'], env=env, capture_output=True, text=True,
            timeout=300, stdin=subprocess.DEVNULL)
        self.assertEqual(OK, result.returncode, result.stderr)
        [row] = json.loads(result.stdout)
        self.assertEqual(('REGION2', source['id'], 'would create'),
                         (row['Region'], row['Source Image'], row['Action']))

    def test_help(self):
        result = self.openstack('help', 'image', 'copy')
        self.assertIn('--to-region', result.stdout)
        self.assertIn('Exit status: 0', result.stdout)
        self.assertIn('glance_download_source_image_id',
                      ' '.join(result.stdout.split()))
        result = self.openstack('help', 'image', 'sync')
        self.assertIn('--to-all-regions', result.stdout)
        self.assertIn('--confirm-delete', result.stdout)
        self.assertIn('Exit status: 0', result.stdout)


class SlowLinkTest(ClientTest):
    """Copies from SLOW-REGION1, through the tests' proxy.

    These tests and test_faults share its port (see .stestr.conf).
    """

    def setUp(self):
        super().setUp()
        self.slow, self.proxy = self.slow_region_proxy()

    def test_failed_copy_fixed_and_rerun_reuses_its_placeholder(self):
        source = self.small_source(size=4 * MIB)
        self.proxy.add(proxy.FlipByte(offset=2 * MIB + 7))
        code, rows, stderr = self.copy(source['id'], '--from-region',
                                       self.slow, '--to-region', 'REGION2',
                                       '--wait')
        self.assertEqual(ERROR, code, stderr)
        [failed] = rows
        self.assertEqual(('created', 'queued'),
                         (failed['Action'], failed['Status']))
        self.assertIn('does not match the sha512 digest', failed['Message'])
        [placeholder] = self.copies('REGION2', source['id'])
        self.assertEqual((failed['Image ID'], 'queued'),
                         (placeholder['id'], placeholder['status']))

        # The link behaves again: the same command imports into it.
        code, rows, stderr = self.copy(source['id'], '--from-region',
                                       self.slow, '--to-region', 'REGION2',
                                       '--wait')
        self.assertEqual(OK, code, stderr)
        [row] = rows
        self.assertEqual(('re-imported', placeholder['id'], 'active', True),
                         (row['Action'], row['Image ID'], row['Status'],
                          row['Hash Verified']))
        self.assertEqual(1, len(self.copies('REGION2', source['id'])))

    def test_timed_out_then_attached(self):
        # Sixteen seconds of transfer (a 4 MiB segment on each of two
        # streams): the second command starts well before the import ends,
        # even on a busy machine.
        self.proxy.rate = MIB // 4
        source = self.small_source(size=6 * MIB)
        args = (source['id'], '--from-region', self.slow, '--to-region',
                'REGION2', '--wait')
        code, rows, stderr = self.copy(*args, '--timeout', '10')
        self.assertEqual(TIMEOUT, code, stderr)
        [row] = rows
        self.assertEqual(('created', 'importing'),
                         (row['Action'], row['Status']))
        self.assertIn('run the same command again with --wait',
                      row['Message'])
        # The same command, given the time, waits for that import.
        code, rows, stderr = self.copy(*args)
        self.assertEqual(OK, code, stderr)
        [again] = rows
        self.assertEqual(('attached', row['Image ID'], 'active', True),
                         (again['Action'], again['Image ID'],
                          again['Status'], again['Hash Verified']))
        self.assertEqual(1, len(self.copies('REGION2', source['id'])))

    def test_live_progress_on_a_terminal(self):
        # Each ranged stream gets this rate: eight seconds over two.
        self.proxy.rate = MIB // 2
        source = self.small_source(size=8 * MIB)
        output, code = self.run_on_terminal(
            '--os-region-name', 'REGION1', 'image', 'copy', source['id'],
            '--from-region', self.slow, '--to-region', 'REGION2', '--wait',
            '-f', 'value', '-c', 'Region', '-c', 'Action', '-c', 'Status')
        self.assertEqual(OK, code, output)
        # Redrawn in place: cursor up, line erased, a bar with the bytes.
        self.assertIn('\x1b[1A', output)
        bars = re.findall(r'REGION2  \[[#.]+\] +(\d+)%  [\d.]+ \S+ of '
                          r'8\.0 MiB at [\d.]+ \S+/s', output)
        self.assertGreaterEqual(len(set(bars)), 2, output)
        self.assertEqual(sorted(bars, key=int), bars)
        self.assertIn('REGION2 created active', output)

    def test_imports_in_flight_per_region_are_bounded(self):
        # Four imports of a few seconds each, two at a time at most.
        self.proxy.rate = MIB
        tag = 'gd-cap-' + uuid.uuid4().hex[:8]
        sources = [self.small_source(size=3 * MIB, tags=[tag],
                                     name=f'{tag}-{number}')
                   for number in range(4)]
        region2 = self.glance('REGION2')
        seen = []
        stop = threading.Event()

        def sample():
            deadline = time.monotonic() + PTY_TIMEOUT
            while not stop.is_set() and time.monotonic() < deadline:
                response = region2.call('GET', '/v2/images', params={
                    'tag': tag, 'visibility': 'all'})
                seen.append(sum(
                    1 for image in response.json()['images']
                    if image['status'] == 'importing'
                    or image.get('os_glance_import_task')))
                time.sleep(0.1)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            code, rows, stderr = self.run_cli(
                'image', 'sync', '-f', 'json', '--tag', tag, '--from-region',
                self.slow, '--to-region', 'REGION2', '--wait',
                '--max-imports-per-region', '2')
        finally:
            stop.set()
            sampler.join(timeout=10)
        self.assertEqual(OK, code, stderr)
        self.assertEqual(len(sources), len(rows))
        self.assertEqual([('created', 'active', True)] * 4,
                         [(r['Action'], r['Status'], r['Hash Verified'])
                          for r in rows])
        self.assertTrue(seen)
        self.assertLessEqual(max(seen), 2, seen)
        self.assertGreaterEqual(max(seen), 1, seen)

    def run_on_terminal(self, *args):
        """Output and exit status of the CLI on a pseudo-terminal."""
        env = dict(os.environ, OS_CLIENT_CONFIG_FILE=self.env['clouds_yaml'],
                   COLUMNS='120', LINES='30', TERM='xterm')
        command = [os.path.join(self.env['venv'], 'bin', 'openstack'),
                   '--os-cloud', 'gd-demo'] + list(args)
        master, slave = pty.openpty()
        process = subprocess.Popen(command, stdin=slave, stdout=slave,
                                   stderr=slave, env=env,
                                   start_new_session=True)
        os.close(slave)
        chunks = []
        deadline = time.monotonic() + PTY_TIMEOUT
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([master], [], [], 0.5)
                if not ready:
                    if process.poll() is not None:
                        break
                    continue
                try:
                    data = os.read(master, 65536)
                except OSError:
                    break
                if not data:
                    break
                chunks.append(data)
            else:
                os.killpg(process.pid, signal.SIGKILL)
                self.fail(f'the CLI did not end within {int(PTY_TIMEOUT)} s')
        finally:
            os.close(master)
            code = process.wait(timeout=30)
        return b''.join(chunks).decode('utf-8', 'replace'), code
