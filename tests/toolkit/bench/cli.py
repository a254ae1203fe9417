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

"""tools/bench's main: the options, the bench cloud, one mode, the report."""

import os
import shutil
import signal
import sys
import time

from tests.toolkit.bench import base
from tests.toolkit.bench import control
from tests.toolkit.bench import loopback
from tests.toolkit.bench import machine
from tests.toolkit.bench import options
from tests.toolkit.bench import wan
from tests.toolkit import glance


def main(argv=None):
    """Exit status: 0, 1 after an error it explains, 130 when stopped."""
    args = options.parse(argv)
    command = ['tools/bench'] + (sys.argv[1:] if argv is None else argv)
    try:
        run(args, command)
    except (base.BenchError, glance.GlanceError) as e:
        print(f'tools/bench: {e}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def run(args, command):
    """Start the bench cloud, run the mode of args, report, stop it."""
    state = os.path.abspath(args.state_dir)
    parent = check_room(state, args.sizes)
    stop_on_signals()
    started = time.time()
    info = machine.describe(parent)
    info['load_before'] = f'{os.getloadavg()[0]:.2f}'
    cloud = control.Cloud(state)
    cloud.settings = args.set
    cloud.stores = args.stores
    if args.wan:
        wan.prepare(cloud, args.streams)
    against = None
    try:
        if 'plugin@REV' in args.contenders:
            against = control.Revision(args.against)
            args.contenders[args.contenders.index('plugin@REV')] = (
                against.name)
        with control.running(cloud, args.reuse_cloud):
            if args.wan:
                wan.run(args, cloud, state, info, command, started,
                        against)
            else:
                loopback.run(args, cloud, state, info, command, started,
                             against)
    finally:
        if against:
            against.remove()


def check_room(state, sizes):
    """The directory that holds state, if it has room for the images.

    Room for the source in REGION1, the staged copy and the stored copy
    of the largest image, the random file it is uploaded from, and more.
    """
    parent = state if os.path.isdir(state) else os.path.dirname(state)
    free = shutil.disk_usage(parent).free
    needed = 4 * max(sizes) + 2 * base.GIB
    if free < needed:
        raise base.BenchError(f'{parent} has {free / base.GIB:.1f} GiB free; '
                              f'{base.label(max(sizes))} images need about '
                              f'{needed / base.GIB:.1f} GiB: choose another '
                              '--state-dir.')
    return parent


def stop_on_signals():
    """SIGTERM and SIGHUP stop the bench as Ctrl-C does, cleaning up."""
    def stop(signum, frame):
        raise KeyboardInterrupt(f'signal {int(signum)}')
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
