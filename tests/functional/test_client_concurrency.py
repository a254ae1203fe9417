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

"""Several runs of ``openstack image copy`` at once, with the real CLI.

An operator's cron jobs overlap, and two users copy the same image at the
same moment. Whatever the order in which their requests reach Glance, each
region must end with exactly one active copy, and every run must say so.
"""

import json
import os
import subprocess
import time
import uuid

from tests.functional import test_client

# Runs started at once, and how many times (GD_CONCURRENCY_TRIALS).
RUNS = 5
TRIALS = int(os.environ.get('GD_CONCURRENCY_TRIALS') or 20)
RUN_TIMEOUT = 300
TARGETS = ('REGION2', 'REGION4')
# What a run may report for a region when another run made the copy.
SHARED_ACTIONS = {'created', 'attached', 'skipped', 're-imported'}


class ConcurrentCopyTest(test_client.ClientTest):

    def start(self, *args, command='copy'):
        env = dict(os.environ, OS_CLIENT_CONFIG_FILE=self.env['clouds_yaml'])
        command = [os.path.join(self.env['venv'], 'bin', 'openstack'),
                   '--os-cloud', 'gd-demo', '--os-region-name', 'REGION1',
                   'image', command, '-f', 'json'] + list(args)
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL)

    def finish(self, processes):
        """[(exit status, rows, stderr)] of processes, in a bounded time."""
        deadline = time.monotonic() + RUN_TIMEOUT
        results = []
        for process in processes:
            try:
                out, err = process.communicate(
                    timeout=max(1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                for other in processes:
                    other.kill()
                self.fail(f'a run did not end within {RUN_TIMEOUT} s')
            try:
                rows = json.loads(out)
            except ValueError:
                self.fail(f'not JSON ({process.returncode}): {out} {err}')
            results.append((process.returncode, rows, err))
        return results

    def assert_one_copy_each(self, source, results, trial):
        for region in TARGETS:
            copies = self.copies(region, source['id'])
            self.assertEqual(
                1, len(copies),
                f'trial {trial}: {region} has {len(copies)} copies: '
                f'{copies} {results}')
            [copy] = copies
            self.assertEqual(('active', source['os_hash_value']),
                             (copy['status'], copy['os_hash_value']))
            for code, rows, stderr in results:
                row = self.by_region(rows)[region]
                self.assertEqual(copy['id'], row['Image ID'],
                                 f'trial {trial}: {row} {stderr}')
                self.assertIn(row['Action'], SHARED_ACTIONS, row)
                self.assertEqual(('active', True),
                                 (row['Status'], row['Hash Verified']), row)
        created = [row for _, rows, _ in results for row in rows
                   if row['Action'] == 'created']
        # The copy in each region is made by one run only.
        self.assertLessEqual(len(created), len(TARGETS), created)

    def test_runs_at_once_end_with_one_copy_per_region(self):
        for trial in range(TRIALS):
            source = self.small_source(size=256 * 1024)
            args = [source['id'], '--wait']
            for region in TARGETS:
                args += ['--to-region', region]
            results = self.finish([self.start(*args) for _ in range(RUNS)])
            for code, rows, stderr in results:
                self.assertEqual(test_client.OK, code,
                                 f'trial {trial}: {rows} {stderr}')
            self.assert_one_copy_each(source, results, trial)

    def test_replacing_at_once_keeps_one_copy(self):
        source = self.small_source(size=256 * 1024)
        args = [source['id'], '--wait', '--to-region', 'REGION4']
        [(code, [first], stderr)] = self.finish([self.start(*args)])
        self.assertEqual(test_client.OK, code, stderr)
        results = self.finish([self.start(*args, '--existing', 'replace')
                               for _ in range(3)])
        for code, rows, stderr in results:
            self.assertEqual(test_client.OK, code, f'{rows} {stderr}')
        [copy] = self.copies('REGION4', source['id'])
        self.assertNotEqual(first['Image ID'], copy['id'])
        self.assertEqual('active', copy['status'])
        # Runs that overlapped made one successor; a run that started
        # after another had finished replaced that one in turn.
        for _, [row], _ in results:
            self.assertEqual(('replaced', 'active', True),
                             (row['Action'], row['Status'],
                              row['Hash Verified']), row)
        self.assertIn(copy['id'], [row['Image ID'] for _, [row], _ in results])

    def test_syncs_at_once_end_with_one_copy_of_each_image(self):
        tag = 'gd-conc-' + uuid.uuid4().hex[:8]
        sources = [self.small_source(size=64 * 1024, tags=[tag],
                                     name=f'{tag}-{number}')
                   for number in range(3)]
        args = ['--tag', tag, '--wait']
        for region in TARGETS:
            args += ['--to-region', region]
        results = self.finish([self.start(*args, command='sync')
                               for _ in range(RUNS)])
        for code, rows, stderr in results:
            self.assertEqual(test_client.OK, code, f'{rows} {stderr}')
        for source in sources:
            for region in TARGETS:
                [copy] = self.copies(region, source['id'])
                self.assertEqual('active', copy['status'])
                for _, rows, _ in results:
                    [row] = [r for r in rows if r['Region'] == region
                             and r['Source Image'] == source['id']]
                    self.assertEqual((copy['id'], True),
                                     (row['Image ID'], row['Hash Verified']),
                                     row)
