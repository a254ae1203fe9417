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

"""The machine the bench runs on: CPU, memory, disk, versions, rates."""

import hashlib
import os
import platform
import subprocess
import time
import uuid

from tests.toolkit.bench import base


def hash_rates():
    """MiB/s of sha512 and md5 over 4 MiB buffers on one core."""
    data = os.urandom(64 * base.MIB)
    view = memoryview(data)
    rates = {}
    for algorithm in ('sha512', 'md5'):
        digest = hashlib.new(algorithm)
        started = time.perf_counter()
        for _ in range(4):
            for i in range(0, len(data), 4 * base.MIB):
                digest.update(view[i:i + 4 * base.MIB])
        rates[algorithm] = 256 / (time.perf_counter() - started)
    return rates


def disk_write_rate(directory):
    """MiB/s of writing 1 GiB and fsync-ing it, in directory."""
    path = os.path.join(directory, f'bench-disk-{uuid.uuid4().hex[:8]}')
    block = os.urandom(4 * base.MIB)
    os.sync()
    started = time.perf_counter()
    try:
        with open(path, 'wb', buffering=0) as f:
            for _ in range(256):
                f.write(block)
            os.fsync(f.fileno())
        seconds = time.perf_counter() - started
    finally:
        os.unlink(path)
        os.sync()
    return 1024 / seconds


def describe(state):
    """What the report says of the machine; state: a directory on its disk."""
    info = {'nproc': os.cpu_count(), 'cpu': platform.processor() or '?'}
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    info['cpu'] = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith('MemTotal:'):
                info['memory'] = int(line.split()[1]) * 1024
    df = subprocess.run(['df', '-PT', state], stdout=subprocess.PIPE,
                        text=True).stdout.splitlines()[-1].split()
    info['disk'] = (f'{df[0]} ({df[1]}), {int(df[2]) / base.MIB:.0f} GiB, '
                    f'{int(df[4]) / base.MIB:.0f} GiB free')
    info['kernel'] = platform.release()
    info['python'] = platform.python_version()
    try:
        from importlib.metadata import version
        info['glance'] = version('glance')
    except Exception:
        info['glance'] = '?'
    info['curl'] = subprocess.run(
        ['curl', '--version'], stdout=subprocess.PIPE,
        text=True).stdout.split('\n')[0].split(' (')[0]
    return info
