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

"""One measured run: an import into REGION2, or a client's download.

Each gives a dict of its times (seconds), the CPU seconds of REGION2,
REGION1, the bench and the whole machine, and REGION2's memory.
"""

import hashlib
import os
import subprocess
import threading
import time
import uuid

from tests.toolkit.bench import base
from tests.toolkit.bench import tasklog
from tests.toolkit import glance
from tests.toolkit import procs

IMPORT_TIMEOUT = 1800
SAMPLE_INTERVAL = 0.1


def upload_source(cloud, size, workdir):
    """An active REGION1 image of size random bytes; (image, seconds)."""
    path = os.path.join(workdir, f'source-{int(size)}')
    glance.write_random_file(path, size)
    try:
        name = base.label(size).replace(' ', '')
        image = cloud.region1.create(f'bench-source-{name}')
        started = time.monotonic()
        with open(path, 'rb') as f:
            cloud.region1.upload(image['id'], f, timeout=3600)
        seconds = time.monotonic() - started
    finally:
        os.unlink(path)
    image = cloud.region1.get(image['id'])
    if image['status'] != 'active' or image['size'] != size:
        raise base.BenchError(f"source image {image['id']} is "
                              f"{image['status']}, {image['size']} bytes")
    return image, seconds


class Sampler(threading.Thread):
    """Peak RSS of each process in pids, every SAMPLE_INTERVAL seconds."""

    def __init__(self, pids):
        super().__init__(daemon=True)
        self.pids = pids
        self.peak = {pid: procs.rss_bytes(pid) or 0 for pid in pids}
        self.baseline = dict(self.peak)
        self._done = threading.Event()

    def run(self):
        while not self._done.wait(SAMPLE_INTERVAL):
            self.sample()

    def sample(self):
        for pid in self.pids:
            rss = procs.rss_bytes(pid)
            if rss is not None and rss > self.peak[pid]:
                self.peak[pid] = rss

    def finish(self):
        self._done.set()
        self.join()
        self.sample()


def warm_up(cloud, source, imports=3):
    """A few tiny imports; the REGION2 workers that ran them."""
    region2 = cloud.region2
    seen = set()
    for _ in range(imports):
        target = region2.create('bench-warm-up')
        try:
            seen.add(run_import(cloud, source, target, measure=False)['pid'])
        finally:
            region2.delete(target['id'])
    return seen


def wait_idle(limit):
    """Wait until the machine was idle for a second; seconds waited."""
    started = time.monotonic()
    while True:
        before = procs.machine_busy()
        time.sleep(1)
        if procs.machine_busy() - before < 0.2 or (
                time.monotonic() - started > limit):
            return time.monotonic() - started


def run_import(cloud, source, target, measure=True, region='REGION1'):
    """Import source into target from ``region``: times, and costs.

    The costs only when ``measure``.

    The times come from REGION2's log rather than from polling its API,
    which would cost REGION2 CPU while it works and blur the end by the
    polling interval: the import is done when Glance logs the end of its
    ImportToStore task, just after it saved the image as active.
    """
    region2 = cloud.region2
    body = {'method': {'name': 'glance-download',
                       'glance_image_id': source['id'],
                       'glance_region': region,
                       'glance_service_interface': 'public'}}
    if cloud.stores:
        body['stores'] = cloud.stores
    log = tasklog.LogFollower(region2.log)
    flow = tasklog.Flow()
    if measure:
        cpu2, cpu1 = region2.cpu(), cloud.region1.cpu()
        busy = procs.machine_busy()
        own = time.process_time()
        sampler = Sampler(region2.workers())
        sampler.start()
    started = time.time()
    region2.call('POST', f"/v2/images/{target['id']}/import", (202,),
                 json=body)
    checked = time.monotonic()
    while flow.done is None:
        time.sleep(0.05)
        flow.feed(log.lines())
        if flow.failed or time.monotonic() - checked > 5:
            # Failures that the log does not show as a task transition
            # (the flow never started, for example) show in the API.
            checked = time.monotonic()
            tasks = region2.tasks(target['id'])
            if flow.failed or (tasks and tasks[0]['status'] == 'failure'):
                message = tasks[0]['message'] if tasks else 'no task'
                raise base.BenchError(
                    f"import of {target['id']} failed in "
                    f"{flow.failed or 'its task'}: {message}")
            if time.time() - started > IMPORT_TIMEOUT:
                raise base.BenchError(f"import of {target['id']} not done "
                                      f'after {IMPORT_TIMEOUT} s')
    if measure:
        sampler.finish()
        result = {'cpu': region2.cpu() - cpu2,
                  'src_cpu': cloud.region1.cpu() - cpu1,
                  'busy': procs.machine_busy() - busy,
                  'bench_cpu': time.process_time() - own}
    else:
        result = {}
    image = region2.get(target['id'])
    if image['status'] != 'active':
        raise base.BenchError(f"image {target['id']} is {image['status']} "
                              'after its import')
    for field in ('size', 'checksum', 'os_hash_algo', 'os_hash_value'):
        if image[field] != source[field]:
            raise base.BenchError(f"target {target['id']} has {field} "
                                  f'{image[field]!r}, the source '
                                  f'{source[field]!r}')
    if cloud.stores and sorted(image['stores'].split(',')) != sorted(
            cloud.stores):
        raise base.BenchError(f"target {target['id']} is in stores "
                              f"{image['stores']}, not {cloud.stores}")
    tasks = region2.tasks(target['id'])
    result['message'] = tasks[0]['message'] if tasks else ''
    phases = flow.phases
    download = [flow.downloaded(name) for name in ('GlanceDownloadData',
                                                   'GlanceDownload')
                if name in phases]
    result.update({
        'pid': flow.pid, 'wall': flow.stored - started, 'phases': phases,
        'elapsed': flow.done - started, 'start': flow.first - started,
        'order': flow.order,
        'download': download[0] if download else None,
        'store': sum(seconds for name, seconds in phases.items()
                     if name.endswith('ImportToStore')) or None})
    if measure and flow.pid in sampler.peak:
        result['rss'] = sampler.peak[flow.pid]
        result['growth'] = sampler.peak[flow.pid] - sampler.baseline[
            flow.pid]
    return result


def measure_import(cloud, implementation, source, size, warm_source,
                   idle_wait, settings=(), link=None, code=None):
    """One measured import, from REGION1 or, given a link, through it.

    With code (a Revision), by the plugin of that revision.
    """
    cloud.restart_region2(implementation, settings, code)
    warm = warm_up(cloud, warm_source)
    if code:
        code.check_imported()
    os.sync()
    wait_idle(idle_wait)
    target = cloud.region2.create(
        f'bench-{implementation}-{uuid.uuid4().hex[:6]}')
    try:
        if link:
            link.wire.reset_counts()
        result = run_import(cloud, source, target,
                            region=link.region if link else 'REGION1')
        if link:
            result.update(link.counts())
    finally:
        cloud.region2.delete(target['id'])
        os.sync()
    # In a worker that has not run an import yet, the memory growth would
    # include loading the import code.
    result['warm'] = result['pid'] in warm
    return result


def measure_curl(cloud, source, curl, idle_wait, link=None):
    """Curl -o into REGION2's staging directory.

    From REGION1, or through the link.
    """
    out = os.path.join(cloud.region2.staging,
                       f'bench-curl-{uuid.uuid4().hex[:8]}')

    def command(url):
        return [curl, '-sS', '--fail', '-o', out,
                '-H', f'X-Auth-Token: {cloud.token()}',
                '-w', '%{time_total} %{size_download}', url]

    def timing(completed, seconds):
        total, received = completed.stdout.split()
        if int(received) != source['size']:
            raise base.BenchError(f"curl received {received} of "
                                  f"{source['size']} bytes")
        return float(total)

    return measure_client(cloud, source, 'curl', command, timing, out,
                          idle_wait, link)


def measure_aria2c(cloud, source, aria2c, streams, idle_wait, link=None):
    """Aria2c -x N -s N into REGION2's staging directory.

    The whole run of the command, as a user would time it.
    """
    name = f'bench-aria2c-{uuid.uuid4().hex[:8]}'
    out = os.path.join(cloud.region2.staging, name)

    def command(url):
        return [aria2c, '-q', '-x', str(streams), '-s', str(streams),
                '--min-split-size=1M', '--file-allocation=falloc',
                '--allow-overwrite=true',
                '--auto-file-renaming=false', '--max-tries=5',
                '--retry-wait=1', '--header',
                f'X-Auth-Token: {cloud.token()}',
                '-d', cloud.region2.staging, '-o', name, url]

    def timing(completed, seconds):
        received = os.path.getsize(out)
        if received != source['size']:
            raise base.BenchError(f"aria2c wrote {received} of "
                                  f"{source['size']} bytes")
        return seconds

    return measure_client(cloud, source, 'aria2c', command, timing, out,
                          idle_wait, link)


def measure_client(cloud, source, tool, command, timing, out, idle_wait,
                   link):
    """Run ``command(url)`` to download source to ``out``.

    Its download time is ``timing(completed process, seconds it ran)``.
    Through a link, the file's md5 is checked against the source's
    afterwards.
    """
    region1 = cloud.region1
    base = link.url if link else region1.url
    url = f"{base}/v2/images/{source['id']}/file"
    argv = command(url)
    os.sync()
    wait_idle(idle_wait)
    if link:
        link.wire.reset_counts()
    cpu1 = region1.cpu()
    busy = procs.machine_busy()
    own = time.process_time()
    usage = os.times()
    started = time.monotonic()
    try:
        completed = subprocess.run(
            argv, capture_output=True, text=True,
            timeout=IMPORT_TIMEOUT)
        seconds = time.monotonic() - started
        after = os.times()
        result = {'wall': None, 'busy': procs.machine_busy() - busy,
                  'src_cpu': region1.cpu() - cpu1,
                  'bench_cpu': time.process_time() - own,
                  'cpu': (after.children_user + after.children_system
                          - usage.children_user - usage.children_system)}
        if completed.returncode != 0:
            output = (completed.stderr or completed.stdout).strip()
            raise base.BenchError(f'{tool} failed (exit status '
                                  f'{completed.returncode}): {output[-2000:]}')
        result['download'] = result['elapsed'] = timing(completed, seconds)
        if link:
            result.update(link.counts())
            if file_md5(out) != source['checksum']:
                raise base.BenchError(f'{tool} wrote data whose md5 is not '
                                      "the source's")
    finally:
        for path in (out, out + '.aria2'):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        os.sync()
    return result


def file_md5(path):
    digest = hashlib.md5()
    with open(path, 'rb') as f:
        for piece in iter(lambda: f.read(4 * base.MIB), b''):
            digest.update(piece)
    return digest.hexdigest()


def other_cpu(result):
    return max(0.0, result['busy'] - result['cpu'] - result['src_cpu']
               - result.get('bench_cpu', 0.0))
