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

"""The test cloud on 127.0.0.1: one Keystone, a glance-api per region.

    tools/cloud start     # (re)create the state, start everything, wait
    tools/cloud stop      # stop what "start" started
    tools/cloud status    # what runs, where, and whether it answers
    tools/cloud restart REGION2 --set glance_download.implementation=in-tree
                          # one glance-api again, with options changed

Everything lives under $GD_CLOUD_DIR (default: .cloud in the repository):
configuration, sqlite databases, image data, logs/*.log and run/*.pid.
"start" wipes that directory (after stopping a cloud still running from
it) and writes env.json, clouds.yaml and openrc-{admin,demo,alt} there.

"restart REGION" stops that region's glance-api, rewrites its
glance-api.conf from the configuration "start" gives it, then applies each
--set GROUP.OPTION=VALUE (repeatable; GROUP is a section of the file, such
as DEFAULT or glance_download), starts it again and waits until it answers.
The other services, the databases and the images stay as they are. Options
set by an earlier restart are dropped unless given again: "restart REGION2"
alone brings REGION2's usual configuration back.

Keystone (one uWSGI server) holds regions REGION1 to REGION4, each with
an image endpoint served by its own glance-api (uWSGI):

    REGION1  single file store, legacy staging (node_staging_uri), broad
             property prefixes, one disk format more than the others
             (env.json: "region1_only_disk_format")
    REGION2  multiple stores "fast" and "cheap", os_glance_staging_store
    REGION3  single file store, glance-download not enabled
    REGION4  single file store, legacy staging: a second target region

A fifth region, SLOW-REGION1, has an image endpoint where nothing listens:
tests run a throttling proxy to REGION1's Glance there (env.json names it
"slow_region"). One more port, allowed by import filtering but left free,
is for tests that need a server on an allowed origin other than a catalog
endpoint (env.json: "spare_port").

Ports: GD_CLOUD_KEYSTONE_PORT (25000), GD_CLOUD_REGION1_PORT (29292),
GD_CLOUD_REGION2_PORT (29293), GD_CLOUD_REGION3_PORT (29294),
GD_CLOUD_REGION4_PORT (29297), GD_CLOUD_SLOW_PORT (29295), for
SLOW-REGION1, and GD_CLOUD_SPARE_PORT (29296).
GD_CLOUD_TIMEOUT bounds the wait for the services (60 seconds).
GD_CLOUD_<REGION>_THREADS (1) is the number of requests each of that
region's two glance-api workers serves at once (uWSGI threads).

The services run from the virtual environment GD_CLOUD_VENV names, with
this checkout of glance-download installed in it ("tox -e functional" sets
it to its own).  Without it, from the repository's .venv, which
tools/venv.sh creates or refreshes first.  This script needs nothing but
the Python 3 standard library.
"""

import argparse
import concurrent.futures
import json
import os
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request

from tests.toolkit import keystone
from tests.toolkit import procs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
# A virtual environment named by GD_CLOUD_VENV is used as it is.
VENV = os.path.abspath(os.environ.get('GD_CLOUD_VENV')
                       or os.path.join(REPO, '.venv'))
HOOKS = os.path.join(REPO, 'tools', 'cloud_hooks')
STATE = os.path.abspath(os.environ.get('GD_CLOUD_DIR')
                        or os.path.join(REPO, '.cloud'))
LOGS = os.path.join(STATE, 'logs')
RUN = os.path.join(STATE, 'run')
# Only a directory holding this file is ever wiped by "start".
MARKER = '.glance-download-cloud'

HOST = '127.0.0.1'
REGIONS = ('REGION1', 'REGION2', 'REGION3', 'REGION4')
SERVICES = ('keystone',) + REGIONS
DEFAULT_PORTS = {'keystone': 25000, 'REGION1': 29292, 'REGION2': 29293,
                 'REGION3': 29294, 'slow': 29295, 'spare': 29296,
                 'REGION4': 29297}
# A region whose image endpoint is a port where nothing listens until a
# test runs a throttling proxy there, in front of REGION1's Glance: slow
# downloads on demand.  Named to sort after the others.
SLOW_REGION = 'SLOW-REGION1'
SLOW_UPSTREAM = 'REGION1'
# Ports the cloud keeps free for the tests' own servers, with what for.
TEST_PORTS = ('slow', 'spare')
TEST_PORT_USES = {'slow': f"{SLOW_REGION} (the tests' throttling proxy)",
                  'spare': "the tests' allowed spare port"}
TIMEOUT = float(os.environ.get('GD_CLOUD_TIMEOUT') or 60)
STOP_TIMEOUT = 10

# Fixed credentials: the cloud listens on the loopback interface only.
USERS = {
    'admin': {'username': 'admin', 'password': 'admin-secret',
              'project_name': 'admin'},
    'demo': {'username': 'demo', 'password': 'demo-secret',
             'project_name': 'demo'},
    'alt': {'username': 'alt', 'password': 'alt-secret',
            'project_name': 'alt'},
}
GLANCE_SERVICE_USER = {'username': 'glance', 'password': 'glance-secret',
                       'project_name': 'service'}

# Imported by each glance-api uWSGI master before it forks its workers:
# modules only, without side effects; the application is created by each
# worker (--lazy-apps).
GLANCE_SHARED_IMPORTS = (
    'glance.common.wsgi_app',
    'glance.api.v2.router',
    'glance.async_.flows.api_image_import',
    'keystonemiddleware.auth_token',
)

ALL_METHODS = '[glance-direct,web-download,copy-image,glance-download]'
# Glance's default [image_format] disk_formats, and the one REGION1 adds.
GLANCE_DISK_FORMATS = ('ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw',
                       'qcow2', 'vdi', 'iso', 'ploop')
REGION1_ONLY_DISK_FORMAT = 'evil-format'


class CloudError(Exception):
    pass


# --------------------------------------------------------------- helpers

def port_of(service):
    name = f'GD_CLOUD_{service.upper()}_PORT'
    value = os.environ.get(name) or DEFAULT_PORTS[service]
    try:
        port = int(value)
    except ValueError:
        raise CloudError(f'{name}={value!r} is not a port number')
    if not 0 < port < 65536:
        raise CloudError(f'{name}={value!r} is not a port number')
    return port


def ports():
    result = {service: port_of(service) for service in SERVICES + TEST_PORTS}
    if len(set(result.values())) != len(result):
        given = ', '.join(f'{service} {port}'
                          for service, port in result.items())
        raise CloudError(f'Two services were given the same port: {given}')
    return result


def url_of(service, port):
    if service == 'keystone':
        return f'http://{HOST}:{int(port)}/v3'
    return f'http://{HOST}:{int(port)}'


def port_taken(port):
    """The error binding port gives, or None when the port is free."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as e:
        return e.strerror
    finally:
        sock.close()
    return None


def check_ports_free(all_ports, grace):
    """Fail clearly if a port is taken, after grace seconds of waiting."""
    deadline = time.monotonic() + grace
    for service, port in all_ports.items():
        while True:
            error = port_taken(port)
            if error is None or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if error is None:
            continue
        label = TEST_PORT_USES.get(service, service)
        variable = f'GD_CLOUD_{service.upper()}_PORT'
        raise CloudError(
            f'Port {port} on {HOST}, for {label}, is taken ({error}). Stop '
            f'what listens there (ss -ltnp "sport = :{port}" shows it) or '
            f'choose another port with {variable}.')


def tail(path, lines=40):
    try:
        with open(path, 'rb') as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode('utf-8', 'replace')
    except OSError as e:
        return f'(cannot read {path}: {e.strerror})'
    return '\n'.join(text.splitlines()[-lines:])


def run(argv, log, env=None):
    """Run a command to completion, its output appended to log."""
    with open(log, 'ab') as out:
        out.write(f'$ {shlex.join(argv)}\n'
                  .encode())
        out.flush()
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, env=env)
    if result.returncode != 0:
        raise CloudError(f"{' '.join(argv[:2])} failed (exit status "
                         f"{result.returncode}). End of {log}:\n{tail(log)}")


def http(method, url, body=None, token=None, timeout=10):
    """(status, headers, parsed JSON body or None) of one request."""
    headers = {'Accept': 'application/json'}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers['Content-Type'] = 'application/json'
    if token:
        headers['X-Auth-Token'] = token
    request = urllib.request.Request(url, data=data, headers=headers,
                                     method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, headers, raw = (response.status, response.headers,
                                    response.read())
    except urllib.error.HTTPError as e:
        status, headers, raw = e.code, e.headers, e.read()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return status, headers, parsed


def write(path, text, mode=0o644):
    with open(path, 'w') as f:
        f.write(text)
    os.chmod(path, mode)


def ini(sections):
    """oslo.config file text from {section: {option: value}}."""
    out = []
    for section, options in sections.items():
        out.append(f'[{section}]')
        for key, value in options.items():
            if isinstance(value, bool):
                value = 'true' if value else 'false'
            out.append(f'{key} = {value}')
        out.append('')
    return '\n'.join(out)


def enable_wal(db_file):
    """WAL: readers and a writer overlap instead of locking each other."""
    connection = sqlite3.connect(db_file)
    try:
        mode = connection.execute('PRAGMA journal_mode=WAL').fetchone()[0]
    finally:
        connection.close()
    if mode.lower() != 'wal':
        raise CloudError(f'Could not switch {db_file} to WAL (got {mode})')


# ------------------------------------------------------------ processes

def pid_file(service):
    return os.path.join(RUN, f'{service}.pid')


def read_pid(service):
    try:
        with open(pid_file(service)) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def is_ours(pid):
    """True while pid is a uWSGI server of this state directory."""
    return procs.is_cloud_server(pid, STATE)


def placeholder():
    """The argument that marks the servers of this state directory."""
    return procs.cloud_marker(STATE)


def spawn(service, argv, env):
    log = os.path.join(LOGS, f'{service_log_name(service)}.uwsgi.log')
    with open(log, 'ab') as out:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, env=env, cwd=STATE,
            start_new_session=True)
    write(pid_file(service), f'{int(process.pid)}\n')
    return process


def group_members(pgid):
    """PIDs of this state directory's uWSGI processes in process group pgid."""
    return procs.cloud_group(pgid, STATE)


def signal_pids(pids, signum):
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def wait_gone(pgid, timeout):
    deadline = time.monotonic() + timeout
    while True:
        left = group_members(pgid)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def stop_services(services):
    """Stop servers and their workers: SIGTERM, then SIGKILL.

    Each server leads a process group of its own, which its workers share;
    only the members of that group that are uWSGI processes of this state
    directory are signalled.  Returns the services that were running.
    """
    groups = {}
    for service in services:
        pid = read_pid(service)
        if pid is None:
            continue
        members = group_members(pid)
        if members:
            groups[service] = pid
            # The master stops its workers; signal the workers as well if
            # the master is gone.
            signal_pids([pid] if pid in members else members,
                        signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for service, pid in groups.items():
        left = wait_gone(pid, max(0, deadline - time.monotonic()))
        if left:
            print(f'{service} (pid {pid}) did not stop within {STOP_TIMEOUT} '
                  's: SIGKILL')
            signal_pids(left, signal.SIGKILL)
            left = wait_gone(pid, STOP_TIMEOUT)
            if left:
                survivors = ', '.join(map(str, left))
                raise CloudError(f'{service}: processes {survivors} survived '
                                 'SIGKILL')
    for service in services:
        try:
            os.unlink(pid_file(service))
        except FileNotFoundError:
            pass
    return [service for service in services if service in groups]


def stop_all(quiet=False):
    stopped = stop_services(SERVICES)
    if not quiet:
        if stopped:
            print(f"Stopped {', '.join(stopped)}.")
        else:
            print('Nothing was running.')
    return stopped


def service_log_name(service):
    return 'keystone' if service == 'keystone' else 'glance-' + service


def uwsgi_argv(service, port, module, processes, threads,
               shared_imports=()):
    return [
        os.path.join(VENV, 'bin', 'uwsgi'),
        '--master',
        '--die-on-term',
        '--need-app',
        '--enable-threads',
        '--lazy-apps',
        '--processes', str(processes),
        '--threads', str(threads),
        '--http-socket', f'{HOST}:{int(port)}',
        '--add-header', 'Connection: close',
        '--socket-timeout', '300',
        '--buffer-size', '65535',
        '--virtualenv', VENV,
        '--single-interpreter',
        '--thunder-lock',
        '--pythonpath', HOOKS,
        # SQLite transactions that wait for each other rather than fail
        # with "database is locked": see the module.
        '--shared-import', 'gd_cloud_sqlite',
    ] + [arg for name in shared_imports
         for arg in ('--shared-import', name)] + [
        '--module', module,
        # Appears in the command line, so that "stop" recognises its own
        # servers (see is_ours).
        '--set-placeholder', placeholder(),
    ]


# ------------------------------------------------------------- keystone

def keystone_setup_files():
    directory = os.path.join(STATE, 'keystone')
    os.makedirs(directory)
    db = os.path.join(directory, 'keystone.sqlite')
    write(os.path.join(directory, 'keystone.conf'), ini({
        'DEFAULT': {
            'debug': True,
            'log_file': os.path.join(LOGS, 'keystone.log'),
        },
        'database': {'connection': f'sqlite:///{db}'},
        'token': {'provider': 'fernet'},
        'fernet_tokens': {
            'key_repository': os.path.join(directory, 'fernet-keys')},
        'fernet_receipts': {
            'key_repository': os.path.join(directory, 'fernet-keys')},
        'credential': {
            'key_repository': os.path.join(directory, 'credential-keys')},
        # Token validations are cached instead of recomputed for every
        # request each glance-api receives.  In-process: Keystone runs one
        # process (see keystone_start), so the cache is always coherent.
        'cache': {'enabled': True, 'backend': 'oslo_cache.dict'},
        # The cheapest bcrypt cost: password authentication is frequent
        # in tests, and the cloud is for tests only.
        'identity': {'password_hash_rounds': 4},
        'oslo_messaging_notifications': {'driver': 'noop'},
    }))
    return directory, db


def keystone_prepare(port, admin_password):
    directory, db = keystone_setup_files()
    conf = os.path.join(directory, 'keystone.conf')
    manage = [os.path.join(VENV, 'bin', 'keystone-manage'),
              '--config-file', conf]
    ids = ['--keystone-user', str(os.getuid()),
           '--keystone-group', str(os.getgid())]
    # Independent steps, side by side; each has a log of its own.
    steps = [('fernet_setup', ids), ('credential_setup', ids),
             ('db_sync', [])]
    with concurrent.futures.ThreadPoolExecutor(len(steps)) as pool:
        jobs = [pool.submit(run, manage + [step] + extra,
                            os.path.join(LOGS, f'keystone-manage-{step}.log'))
                for step, extra in steps]
        for job in jobs:
            job.result()
    url = url_of('keystone', port)
    run(manage + [
        'bootstrap',
        '--bootstrap-password', admin_password,
        '--bootstrap-username', 'admin',
        '--bootstrap-project-name', 'admin',
        '--bootstrap-role-name', 'admin',
        '--bootstrap-service-name', 'keystone',
        '--bootstrap-region-id', 'REGION1',
        '--bootstrap-admin-url', url,
        '--bootstrap-internal-url', url,
        '--bootstrap-public-url', url,
    ], os.path.join(LOGS, 'keystone-manage-bootstrap.log'))
    enable_wal(db)
    return directory


def keystone_start(directory, port):
    env = dict(os.environ, OS_KEYSTONE_CONFIG_DIR=directory)
    env.pop('OS_KEYSTONE_CONFIG_FILES', None)
    # One process, several threads: the in-process cache stays coherent.
    return spawn('keystone', uwsgi_argv(
        'keystone', port, 'keystone.wsgi.api:application', 1, 8), env)


class Keystone:
    """Just enough of the Identity API v3 to populate the cloud."""

    def __init__(self, url):
        self.url = url
        self.token = None

    def authenticate(self, username, password, project_name):
        status, headers, body = http(
            'POST', self.url + '/auth/tokens',
            keystone.password_auth(username, password, project_name))
        if status != 201:
            raise CloudError(f'Keystone refused {username}: HTTP {status} '
                             f'{body}')
        return headers['X-Subject-Token'], body['token']

    def call(self, method, path, body=None, expect=(200, 201, 204)):
        status, _, result = http(method, self.url + path, body, self.token)
        if status not in expect:
            raise CloudError(f'Keystone {method} {path}: HTTP {status} '
                             f'{result}')
        return result

    def create(self, collection, **fields):
        member = collection[:-1]
        return self.call('POST', '/' + collection,
                         {member: fields})[member]

    def find(self, collection, name):
        found = self.call('GET', f'/{collection}?name={name}')
        found = found[collection]
        return found[0] if found else None

    def grant(self, project_id, user_id, role_id):
        self.call('PUT', f'/projects/{project_id}/users/{user_id}'
                         f'/roles/{role_id}')


def keystone_populate(port, glance_urls):
    """Regions, image endpoints, projects, users and roles."""
    keystone = Keystone(url_of('keystone', port))
    keystone.token, _ = keystone.authenticate(
        'admin', USERS['admin']['password'], 'admin')

    for region in REGIONS[1:] + (SLOW_REGION,):
        keystone.create('regions', id=region)
    roles = {name: keystone.find('roles', name)['id']
             for name in ('admin', 'member', 'reader', 'service')}

    # Identity endpoints in every region, so that region-scoped clients
    # find Keystone wherever they point.
    identity = keystone.find('services', 'keystone')
    for region in REGIONS[1:]:
        for interface in ('public', 'internal', 'admin'):
            keystone.create('endpoints', service_id=identity['id'],
                            interface=interface, region_id=region,
                            url=url_of('keystone', port))
    image = keystone.create('services', type='image', name='glance',
                            description='Image service')
    for region in REGIONS + (SLOW_REGION,):
        for interface in ('public', 'internal', 'admin'):
            keystone.create('endpoints', service_id=image['id'],
                            interface=interface, region_id=region,
                            url=glance_urls[region])

    ids = {'admin': {'project_id': keystone.find('projects',
                                                 'admin')['id'],
                     'user_id': keystone.find('users', 'admin')['id']}}
    service = keystone.create('projects', name='service',
                              domain_id='default',
                              description='Service users')
    glance = keystone.create('users', name=GLANCE_SERVICE_USER['username'],
                             password=GLANCE_SERVICE_USER['password'],
                             domain_id='default')
    keystone.grant(service['id'], glance['id'], roles['admin'])
    keystone.grant(service['id'], glance['id'], roles['service'])
    for name in ('demo', 'alt'):
        user = USERS[name]
        project = keystone.create('projects', name=user['project_name'],
                                  domain_id='default')
        account = keystone.create('users', name=user['username'],
                                  password=user['password'],
                                  domain_id='default',
                                  default_project_id=project['id'])
        keystone.grant(project['id'], account['id'], roles['member'])
        ids[name] = {'project_id': project['id'], 'user_id': account['id']}
    return ids


# --------------------------------------------------------------- glance

def glance_layout(region):
    directory = os.path.join(STATE, region)
    layout = {
        'dir': directory,
        'config': os.path.join(directory, 'glance-api.conf'),
        'db': os.path.join(directory, 'glance.sqlite'),
        'log': os.path.join(LOGS, f'glance-{region}.log'),
        'staging': os.path.join(directory, 'staging'),
    }
    if region == 'REGION2':
        layout['stores'] = {
            'fast': os.path.join(directory, 'stores', 'fast'),
            'cheap': os.path.join(directory, 'stores', 'cheap')}
        layout['tasks'] = os.path.join(directory, 'tasks')
    else:
        layout['stores'] = {'file': os.path.join(directory, 'images')}
    return layout


def glance_config(region, layout, all_ports, overrides=()):
    """glance-api.conf text; overrides: (group, option, value) triples."""
    keystone = url_of('keystone', all_ports['keystone'])
    options = {
        'DEFAULT': {
            'debug': True,
            'log_file': layout['log'],
            'enabled_import_methods': (
                '[glance-direct,web-download]' if region == 'REGION3'
                else ALL_METHODS),
            'python_interpreter': os.path.join(VENV, 'bin', 'python'),
        },
        'database': {'connection': f"sqlite:///{layout['db']}"},
        'paste_deploy': {
            'flavor': 'keystone',
            'config_file': os.path.join(layout['dir'],
                                        'glance-api-paste.ini'),
        },
        'keystone_authtoken': {
            'www_authenticate_uri': keystone,
            'auth_url': keystone,
            'auth_type': 'password',
            'username': GLANCE_SERVICE_USER['username'],
            'password': GLANCE_SERVICE_USER['password'],
            'project_name': GLANCE_SERVICE_USER['project_name'],
            'user_domain_name': 'Default',
            'project_domain_name': 'Default',
            'region_name': region,
            'service_token_roles_required': True,
        },
    }
    if region == 'REGION2':
        options['DEFAULT']['enabled_backends'] = 'fast:file, cheap:file'
        options['glance_store'] = {'default_backend': 'fast'}
        options['fast'] = {
            'filesystem_store_datadir': layout['stores']['fast'],
            'store_description': 'Fast store'}
        options['cheap'] = {
            'filesystem_store_datadir': layout['stores']['cheap'],
            'store_description': 'Cheap store'}
        options['os_glance_staging_store'] = {
            'filesystem_store_datadir': layout['staging']}
        options['os_glance_tasks_store'] = {
            'filesystem_store_datadir': layout['tasks']}
    else:
        options['DEFAULT']['node_staging_uri'] = 'file://' + layout['staging']
        options['glance_store'] = {
            'stores': 'file',
            'default_store': 'file',
            'filesystem_store_datadir': layout['stores']['file']}
    allowed_ports = ','.join(str(all_ports[r]) for r in REGIONS + TEST_PORTS)
    options['import_filtering_opts'] = {
        'allowed_hosts': f'[{HOST}]',
        'allowed_ports': f'[{allowed_ports}]',
    }
    # Short waits, so that tests of stalled or failing transfers end in
    # seconds; a stall is noticed after read_timeout.
    options['glance_download'] = {
        'progress_interval': 1,
        'read_timeout': 3,
        'connect_timeout': 3,
        'retry_delay': 0.2,
        'retry_max_delay': 1,
        'max_attempts': 4,
        # An import whose glance-api was killed is recovered within about
        # half a minute (the bound is stale_after + recovery_interval).
        'heartbeat_interval': 2,
        'stale_after': 20,
        'recovery_interval': 2,
        # A stream under 1 KiB/s for 4 s is broken off: longer than
        # read_timeout, so a stall is still noticed as a stall.
        'min_rate_period': 4,
    }
    if region == 'REGION2':
        # Segments of 4 MiB, so that test images of a dozen MiB cross over
        # several ranged streams, while the 6 MiB ones of the fault tests
        # keep one; few streams per process, so that the cap shows.
        options['glance_download'].update({
            'segment_size': 4 * 1024 * 1024,
            'parallel_streams': 4,
            'process_streams': 6,
        })
    if region == 'REGION1':
        # Broad prefixes, to show that reserved attributes are never
        # copied whatever the prefixes (REGION2 keeps the defaults): os_
        # and l match os_hash_value, os_glance_* and location.
        options['glance_download_properties'] = {
            'extra_properties': '[hw_,trait:,os_,architecture,l]'}
        # One disk format more than Glance's defaults, which the other
        # regions refuse: a source image their API would not accept.
        options['image_format'] = {
            'disk_formats': ','.join(
                GLANCE_DISK_FORMATS + (REGION1_ONLY_DISK_FORMAT,))}
    options['oslo_concurrency'] = {
        'lock_path': os.path.join(layout['dir'], 'locks')}
    options['oslo_messaging_notifications'] = {'driver': 'noop'}
    for group, option, value in overrides:
        options.setdefault(group, {})[option] = value
    return ini(options)


def glance_prepare(region, all_ports):
    layout = glance_layout(region)
    os.makedirs(layout['dir'])
    for path in [layout['staging'], os.path.join(layout['dir'], 'locks')]:
        os.makedirs(path)
    for path in layout['stores'].values():
        os.makedirs(path)
    if 'tasks' in layout:
        os.makedirs(layout['tasks'])
    paste = os.path.join(VENV, 'etc', 'glance', 'glance-api-paste.ini')
    with open(paste) as f:
        text = f.read()
    # Keep the health check's switch inside the state directory.
    text = text.replace('/etc/glance/healthcheck_disable',
                        os.path.join(layout['dir'], 'healthcheck_disable'))
    # Recover imports of a killed glance-api from each worker's start.
    text = text.replace('keystone = cors ', 'keystone = cors gd-recovery ', 1)
    text += ('\n[filter:gd-recovery]\n'
             'paste.filter_factory = glance_download.sweep:filter_factory\n')
    write(os.path.join(layout['dir'], 'glance-api-paste.ini'), text)
    write(layout['config'], glance_config(region, layout, all_ports))
    run([os.path.join(VENV, 'bin', 'glance-manage'),
         '--config-file', layout['config'], 'db_sync'],
        os.path.join(LOGS, f'glance-manage-{region}.log'))
    enable_wal(layout['db'])
    return layout


def glance_start(region, layout, port):
    env = dict(os.environ, OS_GLANCE_CONFIG_DIR=layout['dir'])
    # Two workers, as a real deployment has more than one: an import task
    # runs in the worker that accepted the request, while the image is
    # polled through either.  Glance's modules are imported once, by the
    # master, before it forks them.  Each serves one request at a time
    # unless GD_CLOUD_<REGION>_THREADS says more: a source serving many
    # streams at once needs more.
    return spawn(region, uwsgi_argv(
        region, port, 'glance.wsgi.api:application', 2,
        glance_threads(region), shared_imports=GLANCE_SHARED_IMPORTS), env)


def glance_threads(region):
    name = f'GD_CLOUD_{region}_THREADS'
    value = os.environ.get(name) or '1'
    if not value.isdigit() or not 0 < int(value) <= 64:
        raise CloudError(f'{name}={value!r} is not a number of threads '
                         '(1 to 64)')
    return int(value)


# --------------------------------------------------------------- health

def health(service, port, token=None):
    """(ok, detail) of one service."""
    try:
        if service == 'keystone':
            status, _, body = http('GET', url_of(service, port), timeout=5)
            ok = status == 200
            return ok, f'HTTP {int(status)}'
        status, _, _ = http('GET', url_of(service, port) + '/healthcheck',
                            timeout=5)
        if status != 200:
            return False, f'/healthcheck: HTTP {int(status)}'
        if token is None:
            return True, '/healthcheck: OK'
        status, _, _ = http('GET', url_of(service, port) +
                            '/v2/images?limit=1', token=token, timeout=30)
        return status == 200, f'authenticated GET /v2/images: HTTP {status}'
    except (OSError, urllib.error.URLError) as e:
        reason = getattr(e, 'reason', None) or e
        return False, str(reason)


def wait_healthy(service, port, process, deadline, token=None):
    logs = [os.path.join(LOGS, f'{service_log_name(service)}.uwsgi.log'),
            os.path.join(LOGS, f'{service_log_name(service)}.log')]
    detail = 'not checked'
    while True:
        if process.poll() is not None:
            raise CloudError(f'{service} exited with status '
                             f'{process.returncode} while starting.\n'
                             f'{log_tails(logs)}')
        ok, detail = health(service, port, token)
        if ok:
            return
        if time.monotonic() > deadline:
            raise CloudError(
                f'{service} is not healthy after {TIMEOUT:.0f} s ({detail}). '
                'Increase GD_CLOUD_TIMEOUT if the machine is just slow.\n'
                f'{log_tails(logs)}')
        time.sleep(0.2)


def log_tails(logs):
    parts = []
    for log in logs:
        if os.path.exists(log):
            parts.append(f'--- end of {log} ---\n{tail(log)}')
    return '\n'.join(parts)


# -------------------------------------------------------------- outputs

def write_outputs(all_ports, layouts, ids):
    keystone = url_of('keystone', all_ports['keystone'])
    users = {}
    for name, user in USERS.items():
        users[name] = dict(user, user_domain_name='Default',
                           project_domain_name='Default', **ids[name])
    clouds_yaml = os.path.join(STATE, 'clouds.yaml')
    env = {
        'keystone_url': keystone,
        'regions': {
            region: {
                'glance_url': url_of(region, all_ports[region]),
                'config': layouts[region]['config'],
                'log': layouts[region]['log'],
                'staging': layouts[region]['staging'],
                'stores': layouts[region]['stores'],
                'uwsgi_log': os.path.join(
                    LOGS, f'glance-{region}.uwsgi.log'),
                'database': layouts[region]['db'],
                'import_methods': (
                    ['glance-direct', 'web-download'] if region == 'REGION3'
                    else ALL_METHODS.strip('[]').split(',')),
            } for region in REGIONS},
        'ports': all_ports,
        'slow_region': {
            'region': SLOW_REGION,
            'upstream': SLOW_UPSTREAM,
            'port': all_ports['slow'],
            'glance_url': url_of('slow', all_ports['slow']),
        },
        'spare_port': all_ports['spare'],
        'region1_only_disk_format': REGION1_ONLY_DISK_FORMAT,
        'users': users,
        'clouds_yaml': clouds_yaml,
        'venv': VENV,
        'logs': LOGS,
        'keystone_log': os.path.join(LOGS, 'keystone.log'),
        'state_dir': STATE,
        'clouds': {name: 'gd-' + name for name in USERS},
        'openrc': {name: os.path.join(STATE, 'openrc-' + name)
                   for name in USERS},
    }
    write(os.path.join(STATE, 'env.json'),
          json.dumps(env, indent=2, sort_keys=True) + '\n')

    lines = ['# Clouds of the glance-download test cloud. Use with',
             f'#   OS_CLIENT_CONFIG_FILE={clouds_yaml} openstack --os-cloud '
             'gd-demo ...',
             'clouds:']
    for name, user in users.items():
        lines += [
            f'  gd-{name}:',
            '    auth:',
            f'      auth_url: {keystone}',
            f"      username: {user['username']}",
            f"      password: {user['password']}",
            f"      project_name: {user['project_name']}",
            '      user_domain_name: Default',
            '      project_domain_name: Default',
            '    auth_type: password',
            f"    regions: [{', '.join(REGIONS)}]",
            '    interface: public',
            '    identity_api_version: 3',
            '    image_api_version: 2',
        ]
    write(clouds_yaml, '\n'.join(lines) + '\n', 0o600)

    venv_bin = shlex.quote(os.path.join(VENV, 'bin'))
    for name, user in users.items():
        path = os.path.join(STATE, 'openrc-' + name)
        write(path, '\n'.join([
            f'# Act as {name} on the glance-download test cloud:',
            f'#   . {shlex.quote(path)}',
            '#   openstack image list                            # REGION1',
            '#   openstack --os-region-name REGION2 image list',
            f'# The openstack client reads cloud gd-{name} of clouds.yaml, '
            'which lists',
            '# the regions; the OS_* variables below serve other tools.',
            'unset OS_TOKEN OS_AUTH_TOKEN OS_SYSTEM_SCOPE OS_DOMAIN_NAME '
            'OS_DOMAIN_ID OS_PROJECT_ID OS_TENANT_NAME OS_TENANT_ID '
            'OS_REGION_NAME',
            f'export OS_CLIENT_CONFIG_FILE={shlex.quote(clouds_yaml)}',
            f'export OS_CLOUD=gd-{name}',
            'export OS_AUTH_TYPE=password',
            f'export OS_AUTH_URL={keystone}',
            f"export OS_USERNAME={user['username']}",
            f"export OS_PASSWORD={user['password']}",
            f"export OS_PROJECT_NAME={user['project_name']}",
            'export OS_USER_DOMAIN_NAME=Default',
            'export OS_PROJECT_DOMAIN_NAME=Default',
            'export OS_INTERFACE=public',
            'export OS_IDENTITY_API_VERSION=3',
            'export OS_IMAGE_API_VERSION=2',
            '# The clients installed in the virtual environment of the cloud.',
            'case ":$PATH:" in',
            f'    *:{venv_bin}:*) ;;',
            f'    *) export PATH={venv_bin}:"$PATH" ;;',
            'esac',
            '']), 0o600)
    return env


# ------------------------------------------------------------- commands

def ensure_venv():
    if not os.environ.get('GD_CLOUD_VENV'):
        result = subprocess.run([os.path.join(REPO, 'tools', 'venv.sh')])
        if result.returncode != 0:
            raise CloudError('tools/venv.sh failed (exit status '
                             f'{result.returncode})')
    for path in ('bin/uwsgi', 'bin/keystone-manage', 'bin/glance-manage'):
        if not os.access(os.path.join(VENV, path), os.X_OK):
            raise CloudError(f'{path} is missing from {VENV}: is it in '
                             'test-requirements.txt?')


def wipe_state():
    if os.path.exists(STATE):
        if (os.listdir(STATE) and
                not os.path.exists(os.path.join(STATE, MARKER))):
            raise CloudError(
                f'{STATE} exists and was not made by tools/cloud: not wiping '
                'it. Remove it or set GD_CLOUD_DIR to another directory.')
        shutil.rmtree(STATE)
    os.makedirs(LOGS)
    os.makedirs(RUN)
    write(os.path.join(STATE, MARKER),
          'State of tools/cloud; "tools/cloud start" wipes it.\n')


def cmd_start(args):
    started = time.monotonic()
    ensure_venv()
    all_ports = ports()
    stopped = stop_all(quiet=True) if os.path.isdir(RUN) else []
    if stopped:
        print(f"Stopped the cloud that was running: {', '.join(stopped)}.")
    # The ports of servers just stopped may take a moment to be released.
    check_ports_free(all_ports, 5 if stopped else 0)
    wipe_state()
    prepared = time.monotonic()
    deadline = None
    glance_urls = {region: url_of(region, all_ports[region])
                   for region in REGIONS}
    glance_urls[SLOW_REGION] = url_of('slow', all_ports['slow'])
    processes = {}
    try:
        # Database migrations are the slow part: run them side by side,
        # and start each server as soon as its database is ready.
        layouts = {}
        with concurrent.futures.ThreadPoolExecutor(len(SERVICES)) as pool:
            jobs = {pool.submit(keystone_prepare, all_ports['keystone'],
                                USERS['admin']['password']): 'keystone'}
            for region in REGIONS:
                jobs[pool.submit(glance_prepare, region, all_ports)] = region
            for job in concurrent.futures.as_completed(jobs):
                service = jobs[job]
                if service == 'keystone':
                    processes[service] = keystone_start(
                        job.result(), all_ports[service])
                else:
                    layouts[service] = job.result()
                    processes[service] = glance_start(
                        service, layouts[service], all_ports[service])
        migrated = time.monotonic()
        deadline = time.monotonic() + TIMEOUT
        wait_healthy('keystone', all_ports['keystone'],
                     processes['keystone'], deadline)
        ids = keystone_populate(all_ports['keystone'], glance_urls)
        env = write_outputs(all_ports, layouts, ids)
        demo = Keystone(env['keystone_url'])
        token, _ = demo.authenticate('demo', USERS['demo']['password'],
                                     'demo')
        for region in REGIONS:
            wait_healthy(region, all_ports[region], processes[region],
                         deadline, token)
    except BaseException:
        stop_all(quiet=True)
        raise
    ready = time.monotonic()
    print(f'Cloud ready in {ready - started:.1f} s (databases '
          f'{migrated - prepared:.1f} s, services {ready - migrated:.1f} s).')
    show_summary(all_ports)
    return 0


def show_summary(all_ports):
    print(f"  keystone  {url_of('keystone', all_ports['keystone'])}")
    for region in REGIONS:
        print(f'  {region}   {url_of(region, all_ports[region])}')
    print(f'State in {STATE} (env.json, clouds.yaml, openrc-*), logs in '
          f'{LOGS}.')
    clouds_yaml = shlex.quote(os.path.join(STATE, 'clouds.yaml'))
    openstack = shlex.quote(os.path.join(VENV, 'bin', 'openstack'))
    print(f'Try: OS_CLIENT_CONFIG_FILE={clouds_yaml} {openstack} --os-cloud '
          'gd-demo --os-region-name REGION2 image list')


def cmd_stop(args):
    if not os.path.isdir(RUN):
        print('Nothing was running.')
        return 0
    stop_all()
    return 0


def cmd_status(args):
    """What runs, where, whether it answers; 0 only if all is healthy."""
    env = None
    try:
        with open(os.path.join(STATE, 'env.json')) as f:
            env = json.load(f)
    except (OSError, ValueError):
        pass
    # The ports of the cloud that runs, not of the current environment.
    all_ports = ports()
    if env is not None:
        all_ports.update(env['ports'])
    token = None
    if env is not None and read_pid('keystone'):
        try:
            token, _ = Keystone(env['keystone_url']).authenticate(
                'demo', USERS['demo']['password'], 'demo')
        except (CloudError, OSError, urllib.error.URLError):
            token = None
    healthy = 0
    for service in SERVICES:
        pid = read_pid(service)
        url = url_of(service, all_ports[service])
        if pid is not None and is_ours(pid):
            ok, detail = health(service, all_ports[service],
                                None if service == 'keystone' else token)
            healthy += ok
            state = (f"{'healthy' if ok else 'UNHEALTHY'}, pid {pid} "
                     f'({detail})')
        else:
            state = 'stopped'
        print(f'{service:12} {url:27} {state}')
    print(f"{SLOW_REGION:<12} {url_of('slow', all_ports['slow']):<27} "
          f'for a throttling proxy to {SLOW_UPSTREAM}, run by tests')
    print(f"{'spare':<12} {url_of('spare', all_ports['spare']):<27} "
          'allowed by import filtering, for servers run by tests')
    if env is None:
        print(f'No cloud in {STATE}: run tools/cloud start.')
    else:
        print(f"State in {STATE}, logs in {env['logs']}.")
    return 0 if healthy == len(SERVICES) else 1


def setting(text):
    """(group, option, value) of a --set argument GROUP.OPTION=VALUE."""
    name, equals, value = text.partition('=')
    group, dot, option = name.strip().partition('.')
    if not (equals and dot and group and option.strip()):
        raise argparse.ArgumentTypeError(
            f'{text!r} is not GROUP.OPTION=VALUE, for example '
            'glance_download.implementation=in-tree')
    return group, option.strip(), value.strip()


def cmd_restart(args):
    """Restart one region's glance-api with its options changed."""
    started = time.monotonic()
    try:
        with open(os.path.join(STATE, 'env.json')) as f:
            env = json.load(f)
    except (OSError, ValueError):
        raise CloudError(f'No cloud in {STATE}: run tools/cloud start first.')
    region = args.region
    port = env['ports'][region]
    stop_services([region])
    layout = glance_layout(region)
    write(layout['config'],
          glance_config(region, layout, env['ports'], args.set))
    check_ports_free({region: port}, 5)
    process = glance_start(region, layout, port)
    try:
        token, _ = Keystone(env['keystone_url']).authenticate(
            'demo', USERS['demo']['password'], 'demo')
        wait_healthy(region, port, process, time.monotonic() + TIMEOUT,
                     token)
    except (OSError, urllib.error.URLError) as e:
        stop_services([region])
        raise CloudError(f'Keystone did not answer ({e}): is the cloud '
                         'running? tools/cloud status tells.')
    except BaseException:
        stop_services([region])
        raise
    if args.set:
        how = 'with ' + ', '.join(f'{group}.{name}={value}'
                                  for group, name, value in args.set)
    else:
        how = 'with its usual configuration'
    print(f'{region} restarted in {time.monotonic() - started:.1f} s, {how}')
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 1)[1])
    commands = parser.add_subparsers(dest='command', required=True)
    commands.add_parser('start', help='wipe the state, start, wait until '
                        'healthy').set_defaults(func=cmd_start)
    commands.add_parser('stop', help='stop what start started'
                        ).set_defaults(func=cmd_stop)
    commands.add_parser('status', help='what runs and whether it answers'
                        ).set_defaults(func=cmd_status)
    restart = commands.add_parser(
        'restart', help="restart one region's glance-api, options changed")
    restart.add_argument('region', choices=REGIONS)
    restart.add_argument('--set', action='append', type=setting, default=[],
                         metavar='GROUP.OPTION=VALUE',
                         help='an option of its glance-api.conf (repeatable)')
    restart.set_defaults(func=cmd_restart)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CloudError as e:
        print(f'tools/cloud {args.command}: {e}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
