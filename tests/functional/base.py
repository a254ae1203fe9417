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

"""End-to-end tests against the project's test cloud (tools/cloud).

The cloud is Keystone and a glance-api per region, REGION1 to REGION4, on
127.0.0.1 (tests/toolkit/cloud.py says how each is set up), started by
``tools/cloud start`` (``tools/test.sh`` does it for a full run). These
tests drive it the way users do: the ``openstack`` CLI, openstacksdk and
plain HTTP, as the non-admin ``demo`` user with the user's own token.
"""

import fcntl
import json
import os
import socket
import subprocess
import threading
import time
import unittest
import urllib.parse

from tests.functional import proxy
from tests.toolkit import glance
from tests.toolkit import keystone
from tests.toolkit import serving

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CLOUD_DIR = os.environ.get('GD_CLOUD_DIR', os.path.join(REPO, '.cloud'))

# Bounds of every wait: an import of a few MiB takes seconds here.
IMPORT_TIMEOUT = 120
POLL = 0.25
# How long a test waits for the cloud held by a test that restarts it.
CLOUD_WAIT = 900


def load_env():
    path = os.path.join(CLOUD_DIR, 'env.json')
    try:
        with open(path) as f:
            return json.load(f)
    except OSError:
        raise RuntimeError(
            'The functional tests need the test cloud: run tools/cloud start '
            f'(tools/test.sh starts it for a full run). No {path}.')


# Every token this process obtained: none may appear in any log file.
ISSUED_TOKENS = []


class Identity(keystone.Identity):
    """One user of the cloud; every token it obtains is recorded."""

    def __init__(self, env, user):
        super().__init__(env['keystone_url'], env['users'][user])

    @property
    def token(self):
        token = super().token
        if token not in ISSUED_TOKENS:
            ISSUED_TOKENS.append(token)
        return token


class Glance(glance.Glance):
    """Plain HTTP to one region's Glance as one user."""

    def __init__(self, env, region, identity):
        super().__init__(env['regions'][region]['glance_url'], identity,
                         region)


class Listener(serving.Served):
    """A loopback port that only counts who connects to it."""

    def __init__(self, host='127.0.0.1', port=0):
        self.sock = socket.create_server((host, port))
        self.sock.settimeout(0.2)
        self.url = f'http://{host}:{int(self.sock.getsockname()[1])}'
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=serving.accept_each, args=(self.sock, self._stop,
                                              self._count), daemon=True)

    def _count(self, connection):
        self.connections += 1
        connection.close()

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


def glance_download(source_id, region='REGION1', interface='public'):
    method = {'name': 'glance-download', 'glance_image_id': source_id,
              'glance_region': region}
    if interface is not None:
        method['glance_service_interface'] = interface
    return method


def _flock(test, lock, mode):
    deadline = time.monotonic() + CLOUD_WAIT
    while True:
        try:
            fcntl.flock(lock, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                test.fail(f'The test cloud stayed busy for {CLOUD_WAIT} s')
            time.sleep(POLL)


def hold_cloud(test, exclusive):
    """Share the cloud with the other tests running, or have it alone.

    A test that stops a service takes it alone (``exclusive``): it waits
    for the tests running in other workers to end, and they wait for it.
    Passing the gate first keeps tests that share it from starving it.
    """
    path = os.path.join(CLOUD_DIR, 'tests.lock')
    gate = open(path + '.gate', 'a')
    lock = open(path, 'a')
    test.addCleanup(lock.close)
    try:
        _flock(test, gate, fcntl.LOCK_EX)
        _flock(test, lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
    finally:
        gate.close()


class FunctionalTest(unittest.TestCase):
    """Users, regions and helpers shared by the end-to-end tests."""

    # True for tests that stop or restart a service of the cloud.
    exclusive = False

    def setUp(self):
        super().setUp()
        hold_cloud(self, self.exclusive)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = load_env()
        cls.demo = Identity(cls.env, 'demo')
        cls.alt = Identity(cls.env, 'alt')
        cls.admin = Identity(cls.env, 'admin')

    @classmethod
    def tearDownClass(cls):
        """The logs are at debug level: no token may be in any of them."""
        super().tearDownClass()
        tokens = [t.encode() for t in ISSUED_TOKENS]
        logs = cls.env['logs']
        for name in sorted(os.listdir(logs)):
            with open(os.path.join(logs, name), 'rb') as f:
                text = f.read()
            for token in tokens:
                if token in text:
                    raise AssertionError(f'A user token is in {name}')

    def glance(self, region, identity=None):
        return Glance(self.env, region, identity or self.demo)

    def slow_region_proxy(self, **kwargs):
        """A FaultProxy serving SLOW-REGION1, stopped at cleanup.

        It relays to the region env.json names as upstream; kwargs go to
        FaultProxy. Returns (the slow region's name, the proxy).
        """
        slow = self.env['slow_region']
        upstream = urllib.parse.urlsplit(
            self.env['regions'][slow['upstream']]['glance_url'])
        relay = proxy.FaultProxy(slow['port'],
                                 (upstream.hostname, upstream.port),
                                 **kwargs)
        relay.start()
        self.addCleanup(relay.stop)
        return slow['region'], relay

    def source_image(self, data=None, region='REGION1', identity=None,
                     **fields):
        """An active image with data and a few properties, cleaned up."""
        data = os.urandom(3 * 1024 * 1024 + 5) if data is None else data
        glance = self.glance(region, identity)
        props = {'hw_disk_bus': 'virtio', 'hw_rng_model': 'virtio',
                 'os_distro': 'cirros', 'os_admin_user': 'root',
                 'foo': 'bar', 'container_format': 'ovf'}
        props.update(fields)
        image = glance.create(**props)
        self.addCleanup(glance.delete, image['id'])
        glance.upload(image['id'], data)
        return glance.get(image['id'])

    def target_image(self, region='REGION2', identity=None, **fields):
        """A queued image to import into, cleaned up.

        Its formats differ from the source's, so that copying them shows.
        """
        glance = self.glance(region, identity)
        fields.setdefault('disk_format', 'iso')
        image = glance.create(**fields)
        self.addCleanup(glance.delete, image['id'])
        return image

    def wait_for(self, glance, image_id, messages=None):
        """Poll until the task ended, its lock went and the image settled.

        Task messages seen on the way are appended to ``messages``.
        """
        deadline = time.monotonic() + IMPORT_TIMEOUT
        while True:
            # The task first: an image read before it could predate an
            # import that the task read then shows ended.
            latest = self.newest_task(glance, image_id)
            image = glance.get(image_id)
            if latest and latest['message']:
                for token in ISSUED_TOKENS:
                    self.assertNotIn(token, latest['message'])
            if messages is not None and latest and latest['message'] and (
                    not messages or messages[-1] != latest['message']):
                messages.append(latest['message'])
            # Glance marks the task a success before it drops the
            # image's import lock; a caller must see both.
            if (latest and latest['status'] in ('success', 'failure')
                    and image['status'] != 'importing'
                    and not (latest['status'] == 'success'
                             and image.get('os_glance_import_task')
                             == latest['id'])):
                return image, latest
            if time.monotonic() > deadline:
                self.fail(f"image {image_id} still {image['status']} after "
                          f"{IMPORT_TIMEOUT} s (task: {latest})")
            time.sleep(POLL)

    def import_succeeds(self, glance, target, source, region='REGION1',
                        interface='public', **body):
        """Import over plain HTTP; the target once active."""
        response = glance.import_image(
            target['id'], glance_download(source['id'], region, interface),
            **body)
        self.assertEqual(202, response.status_code, response.text)
        image, task = self.wait_for(glance, target['id'])
        self.assertEqual('success', task['status'], task['message'])
        return image

    def staged_files(self, region='REGION2'):
        staging = self.env['regions'][region]['staging']
        return sorted(os.listdir(staging)) if os.path.isdir(staging) else []

    def assert_copied(self, source, target, region='REGION1'):
        """The target is a verified copy made by this plugin from region."""
        self.assertEqual('active', target['status'])
        for field in ('size', 'checksum', 'os_hash_algo', 'os_hash_value',
                      'disk_format', 'container_format'):
            self.assertEqual(source[field], target[field], field)
        for name in ('hw_disk_bus', 'hw_rng_model', 'os_distro'):
            self.assertEqual(source[name], target.get(name), name)
        self.assertNotIn('foo', target)
        self.assertNotIn('os_admin_user', target)
        # Provenance: only this plugin records it.
        self.assertEqual(region, target['glance_download_source_region'])
        self.assertEqual(source['id'],
                         target['glance_download_source_image_id'])
        self.assertNotIn(target['id'], self.staged_files())

    def newest_task(self, glance, image_id):
        return glance.newest_task(image_id)

    def assert_failed_and_queued(self, glance, target_id, text):
        image, task = self.wait_for(glance, target_id)
        self.assertEqual('queued', image['status'])
        self.assertIsNotNone(task, f'no import task for {target_id}')
        self.assertEqual('failure', task['status'])
        self.assertIn(text, task['message'])
        self.assertNotIn(target_id, self.staged_files(glance.region))
        self.assert_not_stored(glance.region, target_id)
        return task['message']

    def assert_not_stored(self, region, image_id):
        """No store of the region holds data of the image."""
        for store, directory in self.env['regions'][region]['stores'].items():
            self.assertFalse(os.path.exists(os.path.join(directory, image_id)),
                             f'store {store} of {region} holds data of '
                             f'{image_id}')

    def openstack(self, *args, cloud='gd-demo', check=True):
        """The real openstack CLI, as a user runs it."""
        env = dict(os.environ, OS_CLIENT_CONFIG_FILE=self.env['clouds_yaml'])
        command = [os.path.join(self.env['venv'], 'bin', 'openstack'),
                   '--os-cloud', cloud] + list(args)
        result = subprocess.run(command, env=env, capture_output=True,
                                text=True, timeout=300,
                                stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            self.fail(f"{' '.join(args)} failed ({result.returncode}): "
                      f"{result.stderr}")
        return result

    def cloud(self, *args):
        """tools/cloud with args (restart a region with --set, ...)."""
        tool = os.path.join(REPO, 'tools', 'cloud')
        result = subprocess.run([tool] + list(args), capture_output=True,
                                text=True, timeout=300,
                                stdin=subprocess.DEVNULL)
        self.assertEqual(0, result.returncode, result.stderr)
