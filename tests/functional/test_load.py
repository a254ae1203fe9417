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

"""Ten imports at once into one Glance: all verified, and what they cost.

Ten distinct images are imported from REGION1 into REGION2 together, one
thread each.  Besides checking every copy, the test measures the wall time
of the whole and the resident memory of REGION2's glance-api processes,
sampled every 0.1 s, and reports them on stderr and in
``<cloud>/logs/load.json``.
"""

import json
import os
import statistics
import sys
import threading
import time

from tests.functional import base
from tests.toolkit import procs

MIB = 1024 * 1024
IMAGES = 10
SIZE = 8 * MIB
# Generous: on a laptop the ten imports take seconds.
TIME_LIMIT = 120
SAMPLE_INTERVAL = 0.1


class MemorySampler:
    """Peak resident memory of a uWSGI master and its workers, in a thread.

    The processes are those whose command line names the server's
    address, found again at each sample in case a worker is respawned.
    """

    def __init__(self, master_pid, address):
        self.master_pid = master_pid
        self.address = address
        self.samples = 0
        self.peak_total_kib = 0
        self.peak_kib = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def processes(self):
        pids = [self.master_pid] + procs.children(self.master_pid)
        return [p for p in pids
                if self.address in ' '.join(procs.argv(p) or ())]

    def sample(self):
        """{pid: resident memory in KiB} now."""
        rss = {pid: procs.rss_bytes(pid) for pid in self.processes()}
        return {pid: size // 1024 for pid, size in rss.items()
                if size is not None}

    def _run(self):
        while not self._stop.is_set():
            rss = self.sample()
            self.samples += 1
            self.peak_total_kib = max(self.peak_total_kib, sum(rss.values()))
            for pid, kib in rss.items():
                self.peak_kib[pid] = max(self.peak_kib.get(pid, 0), kib)
            self._stop.wait(SAMPLE_INTERVAL)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join(5)


def _mib(kib):
    return round(kib / 1024, 1)


class LoadTest(base.FunctionalTest):

    def test_ten_concurrent_imports(self):
        region2 = self.env['regions']['REGION2']
        port = self.env['ports']['REGION2']
        with open(os.path.join(self.env['state_dir'], 'run',
                               'REGION2.pid')) as f:
            master = int(f.read().strip())
        sources = [self.source_image(data=os.urandom(SIZE))
                   for _ in range(IMAGES)]
        targets = [self.target_image() for _ in range(IMAGES)]
        self.demo.token  # fetched once, before the threads use it
        results = [None] * IMAGES
        go = threading.Barrier(IMAGES + 1)

        def run(index):
            glance = self.glance('REGION2')
            try:
                go.wait(30)
                started = time.monotonic()
                response = glance.import_image(
                    targets[index]['id'],
                    base.glance_download(sources[index]['id']))
                self.assertEqual(202, response.status_code, response.text)
                image, task = self.wait_for(glance, targets[index]['id'])
                results[index] = (image, task, time.monotonic() - started)
            except BaseException as exc:  # reported by the main thread
                results[index] = exc

        threads = [threading.Thread(target=run, args=(i,), daemon=True)
                   for i in range(IMAGES)]
        for thread in threads:
            thread.start()
        sampler = MemorySampler(master, f'127.0.0.1:{int(port)}')
        baseline = sampler.sample()
        log_offset = os.path.getsize(region2['log'])
        with sampler:
            go.wait(30)
            started = time.monotonic()
            for thread in threads:
                thread.join(base.IMPORT_TIMEOUT + 30)
            wall = time.monotonic() - started

        for source, result in zip(sources, results):
            if isinstance(result, BaseException):
                raise result
            self.assertIsNotNone(result, 'an import thread did not end')
            image, task, _ = result
            self.assertEqual('success', task['status'], task['message'])
            self.assertEqual('active', image['status'])
            self.assertEqual(source['os_hash_value'], image['os_hash_value'])
        # Other tests may import at the same time: only these targets.
        ids = [target['id'] for target in targets]
        with open(region2['log'], errors='replace') as f:
            f.seek(log_offset)
            broke = sum('broke at byte' in line and
                        any(i in line for i in ids) for line in f)
        durations = sorted(r[2] for r in results)
        figures = {
            'images': IMAGES,
            'image_mib': SIZE // MIB,
            'wall_seconds': round(wall, 2),
            'throughput_mib_s': round(IMAGES * SIZE / MIB / wall, 1),
            'import_seconds': {
                'min': round(durations[0], 2),
                'median': round(statistics.median(durations), 2),
                'max': round(durations[-1], 2)},
            'transfer_retries_logged': broke,
            'region2_processes': len(baseline),
            'rss_mib': {
                'baseline_total': _mib(sum(baseline.values())),
                'peak_total': _mib(sampler.peak_total_kib),
                'baseline_per_process': {
                    str(pid): _mib(kib) for pid, kib in baseline.items()},
                'peak_per_process': {
                    str(pid): _mib(kib)
                    for pid, kib in sampler.peak_kib.items()}},
            'rss_samples': sampler.samples,
        }
        print(f'\nLoad: {json.dumps(figures, indent=2)}', file=sys.stderr)
        with open(os.path.join(self.env['logs'], 'load.json'), 'w') as f:
            json.dump(figures, f, indent=2)
            f.write('\n')
        self.assertLess(wall, TIME_LIMIT)
