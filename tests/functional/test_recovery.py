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

"""A glance-api killed in the middle of an import, and brought back.

REGION2 downloads from SLOW-REGION1, a throttling proxy in front of
REGION1, so that the download is still running when REGION2's uWSGI master
and workers get SIGKILL. Started again, REGION2 must recover the import by
itself within [glance_download] stale_after + recovery_interval (20 + 2 s
in the test cloud): the image queued, the task failed saying what
happened, and the same import must then resume from the partial download
kept in staging, which goes with its image otherwise.

These tests stop a service of the cloud: they run with the cloud to
themselves (base.hold_cloud).
"""

import configparser
import json
import os
import signal
import subprocess
import time

from tests.functional import base
from tests.functional import proxy
from tests.toolkit import procs

MIB = 1024 * 1024
SIZE = 8 * MIB
RATE = 512 * 1024
# Slack over the bound on this shared, busy machine.
SLACK = 30


def uwsgi_processes(state_dir, region):
    """PIDs of the region's uWSGI master and workers (one process group)."""
    with open(os.path.join(state_dir, 'run', f'{region}.pid')) as f:
        return procs.cloud_group(int(f.read()), state_dir)


def sidecar_bytes(path):
    """Bytes a download's sidecar records as written (0 without one)."""
    try:
        with open(path) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return 0
    return sum(written - start for start, _end, written
               in record.get('segments') or ())


class RecoveryTest(base.FunctionalTest):

    exclusive = True

    def setUp(self):
        super().setUp()
        self.slow_region, self.proxy = self.slow_region_proxy(rate=RATE)
        self.region2 = self.glance('REGION2')
        settings = configparser.ConfigParser(interpolation=None)
        settings.read(self.env['regions']['REGION2']['config'])
        self.bound = (settings.getfloat('glance_download', 'stale_after')
                      + settings.getfloat('glance_download',
                                          'recovery_interval'))

    def staged(self, image_id):
        return [name for name in self.staged_files()
                if name.startswith(image_id)]

    def import_killed_mid_download(self, size=SIZE, recorded=MIB):
        """(source, target): REGION2 killed with the target half staged.

        The kill comes right after the download's sidecar recorded at
        least ``recorded`` bytes, so that little of what crossed the link
        is lost to a resume.
        """
        source = self.source_image(data=os.urandom(size))
        target = self.target_image()
        response = self.region2.import_image(
            target['id'], base.glance_download(source['id'],
                                               self.slow_region))
        self.assertEqual(202, response.status_code, response.text)
        part = os.path.join(self.env['regions']['REGION2']['staging'],
                            target['id'] + '.part')
        sidecar = part + '.json'
        deadline = time.monotonic() + base.IMPORT_TIMEOUT
        while sidecar_bytes(sidecar) < recorded:
            if time.monotonic() > deadline:
                self.fail(f'no download into {part}')
            time.sleep(0.05)
        self.kill_region2()
        self.assertLess(sidecar_bytes(sidecar), size)
        return source, target

    def kill_region2(self):
        """SIGKILL to REGION2's uWSGI master and workers; once all are gone."""
        processes = uwsgi_processes(self.env['state_dir'], 'REGION2')
        self.assertGreaterEqual(len(processes), 2, processes)
        for pid in processes:
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while uwsgi_processes(self.env['state_dir'], 'REGION2'):
            if time.monotonic() > deadline:
                self.fail('REGION2 still runs after SIGKILL')
            time.sleep(base.POLL)

    def delete(self, image_id):
        response = self.region2.call('DELETE', f'/v2/images/{image_id}')
        self.assertEqual(204, response.status_code, response.text)

    def importable(self, image_id):
        image = self.region2.get(image_id)
        return (image['status'] == 'queued'
                and 'os_glance_import_task' not in image)

    def wait_until(self, condition, seconds, what):
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                self.fail(f'{what} not within {int(seconds)} s')
            time.sleep(base.POLL)
        return seconds - (deadline - time.monotonic())

    def test_killed_import_is_recovered_and_resumes(self):
        size = 3 * SIZE
        source, target = self.import_killed_mid_download(size, size // 4)
        killed = time.monotonic()
        self.cloud('restart', 'REGION2')
        restarted = time.monotonic()
        took = self.wait_until(lambda: self.importable(target['id']),
                               self.bound + SLACK,
                               'image queued again and unlocked')
        print(f'recovered {restarted - killed + took:.1f} s after the kill, '
              f'{took:.1f} s after the restart')
        task = self.newest_task(self.region2, target['id'])
        self.assertEqual('failure', task['status'])
        self.assertIn('The glance-api running this import stopped during '
                      'it', task['message'])
        self.assertIn('import it again', task['message'])
        image = self.region2.get(target['id'])
        self.assertEqual('fast', image['os_glance_failed_import'])
        self.assertEqual('', image['os_glance_importing_to_stores'])
        # The partial download stays, with its record, for the next import.
        self.assertEqual([target['id'] + '.part', target['id'] + '.part.json'],
                         self.staged(target['id']))

        # The same import again: it resumes from the bytes kept, and the
        # digest still covers every byte.
        self.proxy.rate = None
        image = self.import_succeeds(self.region2, target, source,
                                     region=self.slow_region)
        self.assert_copied(source, image, self.slow_region)
        self.assertEqual([], self.staged(target['id']))
        crossed = sum(r.body_bytes for r in self.proxy.requests_to('/file'))
        print(f'{crossed} bytes crossed for a {size} byte image '
              f'({crossed / size:.2f}x)')
        self.assertLess(crossed, 1.3 * size)

    def test_killed_while_storing_leaves_no_data_in_the_store(self):
        """A kill in Glance's store step: the retry is not refused.

        The store's file of the image is partial and has no location; left
        there, the file store would refuse the next import as a duplicate.
        """
        size = 128 * MIB
        source = self.source_image(data=os.urandom(size))
        target = self.target_image()
        stored = os.path.join(self.env['regions']['REGION2']['stores']['fast'],
                              target['id'])
        response = self.region2.import_image(
            target['id'], base.glance_download(source['id'], 'REGION1'))
        self.assertEqual(202, response.status_code, response.text)
        deadline = time.monotonic() + base.IMPORT_TIMEOUT
        while not os.path.exists(stored):
            if time.monotonic() > deadline:
                self.fail(f'nothing written to {stored}')
            time.sleep(0.005)
        self.kill_region2()
        self.assertLess(os.path.getsize(stored), size)
        self.cloud('restart', 'REGION2')
        self.wait_until(lambda: self.importable(target['id']),
                        self.bound + SLACK, 'image queued again and unlocked')
        self.assertFalse(os.path.exists(stored))

        image = self.import_succeeds(self.region2, target, source)
        self.assert_copied(source, image)
        self.assertEqual(size, os.path.getsize(stored))

    def test_image_deleted_while_stranded_leaves_no_part_file(self):
        _source, target = self.import_killed_mid_download()
        # A bound the test does not reach: the part file must go because
        # its image is deleted, not by the recovery of the import.
        self.addCleanup(self.cloud, 'restart', 'REGION2')
        self.cloud('restart', 'REGION2', '--set',
                   'glance_download.stale_after=3600')
        self.assertEqual('importing',
                         self.region2.get(target['id'])['status'])
        self.assertEqual([target['id'] + '.part', target['id'] + '.part.json'],
                         self.staged(target['id']))
        self.delete(target['id'])
        self.wait_until(lambda: not self.staged(target['id']),
                        self.bound + SLACK, 'part file removed')

    def test_image_deleted_during_the_download_leaves_no_part_file(self):
        source = self.source_image(data=os.urandom(SIZE))
        target = self.target_image()
        response = self.region2.import_image(
            target['id'], base.glance_download(source['id'],
                                               self.slow_region))
        self.assertEqual(202, response.status_code, response.text)
        self.wait_until(lambda: self.staged(target['id']),
                        base.IMPORT_TIMEOUT, 'download started')
        self.delete(target['id'])
        self.wait_until(lambda: not self.staged(target['id']),
                        self.bound + SLACK, 'part file removed')

    def test_silent_live_download_is_left_alone(self):
        # No byte for longer than stale_after: only the heartbeat shows
        # that the import lives. read_timeout is raised above the stall.
        self.addCleanup(self.cloud, 'restart', 'REGION2')
        self.cloud('restart', 'REGION2', '--set',
                   'glance_download.read_timeout=60')
        self.proxy.rate = None
        silence = self.bound + 10
        stalled_at = 2 * MIB + 4321
        self.proxy.add(proxy.Stall(after=stalled_at, seconds=silence))
        source = self.source_image(data=os.urandom(4 * MIB))
        target = self.target_image()
        response = self.region2.import_image(
            target['id'], base.glance_download(source['id'],
                                               self.slow_region))
        self.assertEqual(202, response.status_code, response.text)
        image, task = self.wait_for(self.region2, target['id'])
        self.assertEqual('success', task['status'], task['message'])
        self.assertEqual('active', image['status'])
        # The same import went on: one task, and after the silence (the
        # stall ends by closing) only ranged resumes, however many a
        # loaded machine needs. A recovered or restarted import would show
        # a second task or read from the start again.
        self.assertEqual(1, len(self.region2.tasks(target['id'])))
        first, *resumes = self.proxy.requests_to('/file')
        self.assertIsNone(first.range)
        self.assertEqual(stalled_at, first.body_bytes)
        self.assertTrue(resumes)
        for resume in resumes:
            self.assertIsNotNone(resume.range_start, resume.range)
            self.assertGreater(resume.range_start, 0)

    def test_operator_lists_and_repairs_a_stranded_import(self):
        _source, target = self.import_killed_mid_download()
        self.addCleanup(self.cloud, 'restart', 'REGION2')
        self.cloud('restart', 'REGION2', '--set',
                   'glance_download.stale_after=3600')
        # The operator's own bound, shorter than glance-api's.
        extra = os.path.join(self.env['state_dir'], 'REGION2',
                             'operator.conf')
        with open(extra, 'w') as f:
            f.write('[glance_download]\nstale_after = 10\n')
        self.addCleanup(os.unlink, extra)
        time.sleep(10)
        command = [os.path.join(self.env['venv'], 'bin',
                                'glance-download-status'), '--json',
                   '--config-file', self.env['regions']['REGION2']['config'],
                   '--config-file', extra]

        def status(*args):
            result = subprocess.run(command + list(args),
                                    capture_output=True, text=True,
                                    timeout=120, stdin=subprocess.DEVNULL)
            checks = {c['name']: c
                      for c in json.loads(result.stdout)['checks']}
            return result, checks['imports']

        _result, imports = status()
        self.assertEqual('warn', imports['status'], imports)
        # Earlier tests of this class may have left stale imports of
        # their own: only this one's are looked at.
        self.assertIn(target['id'],
                      [s['image_id'] for s in imports['data']['stale']])
        kept = [target['id'] + '.part', target['id'] + '.part.json']
        self.assertEqual(kept, [p['name'] for p in imports['data']['parts']
                                if p['image_id'] == target['id']])
        self.assertEqual('importing',
                         self.region2.get(target['id'])['status'])

        result, imports = status('--repair')
        self.assertIn(f"Repaired image {target['id']}", result.stderr)
        self.assertEqual('ok', imports['status'], imports)
        image = self.region2.get(target['id'])
        self.assertEqual('queued', image['status'])
        self.assertNotIn('os_glance_import_task', image)
        # Kept for the next import to resume from; not an orphan.
        self.assertEqual(kept, self.staged(target['id']))
        self.assertFalse(any(p['orphan'] for p in imports['data']['parts']
                             if p['image_id'] == target['id']))
        task = self.newest_task(self.region2, target['id'])
        self.assertEqual('failure', task['status'])
        self.assertIn('import it again', task['message'])
