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

"""The bench cloud, through tools/cloud, and the code its REGION2 runs.

A cloud of its own, on ports and in a state directory apart from the
tests' cloud, so that the two run side by side.
"""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

from tests.toolkit.bench import base
from tests.toolkit import glance
from tests.toolkit import keystone
from tests.toolkit import procs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
CLOUD = os.path.join(REPO, 'tools', 'cloud')
BENCH_PORTS = {'KEYSTONE': 25100, 'REGION1': 29392, 'REGION2': 29393,
               'REGION3': 29394, 'SLOW': 29395, 'SPARE': 29396,
               'REGION4': 29397}
# The plugin's defaults, instead of the test cloud's short timeouts.
# parallel_streams at each plugin's own default, which REGION2_SETTINGS
# cannot hold: a revision from before auto refuses that value.
STREAMS_DEFAULT = 'glance_download.parallel_streams=auto'
STREAMS_DEFAULT_BEFORE_AUTO = 'glance_download.parallel_streams=4'

REGION2_SETTINGS = [
    'glance_download.progress_interval=5.0',
    'glance_download.read_timeout=60.0',
    'glance_download.connect_timeout=10.0',
    'glance_download.retry_delay=1.0',
    'glance_download.retry_max_delay=30.0',
    'glance_download.max_attempts=5',
    'glance_download.min_rate_period=60.0',
    'glance_download.segment_size=67108864',
    'glance_download.process_streams=32',
    'glance_download.heartbeat_interval=30.0',
    'glance_download.stale_after=900.0',
    'glance_download.recovery_interval=60.0',
]


class Glance(glance.Glance):
    """One region's glance-api: its processes and its HTTP API."""

    def __init__(self, cloud, region):
        info = cloud.env['regions'][region]
        super().__init__(info['glance_url'], cloud.identity, region)
        self.cloud = cloud
        self.log = info['log']
        self.staging = info['staging']

    @property
    def master(self):
        with open(os.path.join(self.cloud.state, 'run',
                               f'{self.region}.pid')) as f:
            return int(f.read())

    def workers(self):
        return procs.children(self.master)

    def processes(self):
        return [self.master] + self.workers()

    def cpu(self):
        return sum(procs.cpu_seconds(pid) or 0.0
                   for pid in self.processes())

    def create(self, name):
        return super().create(name=name)

    def delete(self, image_id):
        super().delete(image_id, (204, 404))


class Cloud:
    """The bench cloud, through tools/cloud."""

    def __init__(self, state):
        self.state = state
        self.env = None
        self.identity = None
        self.environ = dict(os.environ, GD_CLOUD_DIR=state)
        for name, port in BENCH_PORTS.items():
            self.environ.setdefault(f'GD_CLOUD_{name}_PORT', str(port))
        self.settings = []
        self.stores = []
        """REGION2's stores each import writes; none: its default."""

    def tool(self, *args, environ=None):
        result = subprocess.run([sys.executable, CLOUD] + list(args),
                                env=environ or self.environ,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        if result.returncode != 0:
            raise base.BenchError(f"tools/cloud {' '.join(args)} failed:\n"
                                  f'{result.stdout}')
        return result.stdout

    def load(self):
        with open(os.path.join(self.state, 'env.json')) as f:
            self.env = json.load(f)
        self.identity = keystone.Identity(self.env['keystone_url'],
                                          self.env['users']['demo'])
        self.region1 = Glance(self, 'REGION1')
        self.region2 = Glance(self, 'REGION2')

    def token(self):
        """The demo user's token, renewed by keystoneauth1 as it expires."""
        return self.identity.token

    def restart_region2(self, implementation, extra=(), code=None):
        """Restart REGION2; with code, importing glance_download from it."""
        streams = code.streams_default if code else STREAMS_DEFAULT
        settings = (REGION2_SETTINGS + [streams] + self.settings +
                    list(extra) +
                    [f'glance_download.implementation={implementation}'])
        environ = dict(self.environ)
        if code:
            code.forget_imports()
            # uWSGI's pythonpath option: first on sys.path, ahead of the
            # virtual environment's own copy.
            environ['UWSGI_PYTHONPATH'] = code.directory
        self.tool('restart', 'REGION2',
                  *[arg for setting in settings for arg in ('--set', setting)],
                  environ=environ)


@contextlib.contextmanager
def running(cloud, reuse):
    """The bench cloud started, loaded, and stopped at the end.

    With reuse, the one already running in its state directory, left
    running.
    """
    if reuse:
        base.say(f'Using the bench cloud in {cloud.state}.')
    else:
        base.say(f'Starting the bench cloud in {cloud.state} ...')
    try:
        if not reuse:
            cloud.tool('start')
        cloud.load()
        yield cloud
    finally:
        if not reuse:
            base.say('Stopping the bench cloud ...')
            cloud.tool('stop')


PASS_THROUGH = '''"""In place of the recovery filter this revision lacks."""


def filter_factory(global_conf, **local_conf):
    return lambda app: app
'''
# Appended to the copy's __init__.py: uWSGI writes no __pycache__, so the
# copy itself says that a glance-api imported it.
IMPORT_MARK = '''

open(__file__ + '.imported', 'w').close()
'''


class Revision:
    """This plugin's package at an earlier git revision, for plugin@REV."""

    def __init__(self, revision):
        try:
            self.sha = subprocess.run(
                ['git', '-C', REPO, 'rev-parse', '--verify', '--short',
                 f'{revision}^{{commit}}'], check=True, text=True,
                capture_output=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError) as e:
            raise base.BenchError(f'--against {revision}: not a revision of '
                                  f'the git repository {REPO} ({e})')
        self.name = f'plugin@{self.sha}'
        self.directory = tempfile.mkdtemp(prefix=f'gd-bench-{self.sha}-')
        archive = subprocess.run(
            ['git', '-C', REPO, 'archive', self.sha, 'glance_download'],
            check=True, stdout=subprocess.PIPE).stdout
        subprocess.run(['tar', '-x', '-C', self.directory], input=archive,
                       check=True)
        self.package = os.path.join(self.directory, 'glance_download')
        self.streams_default = (
            STREAMS_DEFAULT if os.path.exists(os.path.join(
                self.package, 'autotune.py')) else STREAMS_DEFAULT_BEFORE_AUTO)
        self.mark = os.path.join(self.package, '__init__.py.imported')
        with open(os.path.join(self.package, '__init__.py'), 'a') as f:
            f.write(IMPORT_MARK)
        sweep = os.path.join(self.package, 'sweep.py')
        if not os.path.exists(sweep):
            # REGION2's paste pipeline names glance_download.sweep.
            with open(sweep, 'w') as f:
                f.write(PASS_THROUGH)

    def forget_imports(self):
        try:
            os.unlink(self.mark)
        except FileNotFoundError:
            pass

    def check_imported(self):
        """Fail unless a glance-api imported this copy since its restart."""
        if not os.path.exists(self.mark):
            raise base.BenchError(
                f"REGION2's glance-api did not import {self.package} "
                '(UWSGI_PYTHONPATH) but another glance_download')

    def remove(self):
        shutil.rmtree(self.directory, ignore_errors=True)
