#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""glance-download-status against configuration files and a local Keystone."""

import ast
import contextlib
import dataclasses
import http.server
import importlib
import io
import json
import os
import shutil
import socket
import tempfile
import threading
import unittest
from unittest import mock
import uuid

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

from glance_download.boundary import takeover
from glance_download.cmd import status
from glance_download.cmd.status import implementation
from glance_download.cmd.status import runner
from glance_download.cmd.status import staging
from glance_download import options
from tests.unit import boundary_fakes
from tests.unit import helpers

CONF = cfg.CONF
PASSWORD = 'pw-' + uuid.uuid4().hex
TOKEN = 'gAAAAA-service-token-' + uuid.uuid4().hex


class FakeKeystone:
    """Keystone's v3 discovery and password authentication, on loopback."""

    def __init__(self, catalog):
        self.catalog = catalog
        self.bodies = []
        keystone = self

        class Handler(http.server.BaseHTTPRequestHandler):

            def do_GET(self):
                self.answer(200, {'version': {
                    'id': 'v3.14', 'status': 'stable',
                    'links': [{'rel': 'self', 'href': keystone.url + '/v3/'}],
                }})

            def do_POST(self):
                length = int(self.headers.get('Content-Length', 0))
                keystone.bodies.append(json.loads(self.rfile.read(length)))
                self.answer(201, {'token': {
                    'methods': ['password'], 'catalog': keystone.catalog,
                    'expires_at': '2999-01-01T00:00:00.000000Z',
                    'user': {'id': 'u', 'name': 'glance',
                             'domain': {'id': 'default', 'name': 'Default'}},
                }}, {'X-Subject-Token': TOKEN})

            def answer(self, code, body, headers=()):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                for name, value in dict(headers).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                      Handler)
        self.url = f'http://127.0.0.1:{self.server.server_address[1]}'
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def image_service(*endpoints):
    """A v3 catalog entry: endpoints are (region, interface, url)."""
    return [{'type': 'image', 'name': 'glance', 'endpoints': [
        {'region': region, 'region_id': region, 'interface': interface,
         'url': url} for region, interface, url in endpoints]}]


def closed_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class StatusTestBase(unittest.TestCase):
    """A configuration that is ready, which each test then spoils."""

    def setUp(self):
        boundary_fakes.restore_glance_after(self)
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.staging = os.path.join(self.dir, 'staging')
        os.mkdir(self.staging)
        # Glance's in-memory database stands for the configured one.
        self.db = boundary_fakes.GlanceDatabase(self, staging=self.staging)
        patcher = mock.patch('glance.db.get_api', return_value=self.db.api)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.keystone = FakeKeystone(image_service(
            ('RegionOne', 'public', 'http://192.0.2.10:9292/v2'),
            ('RegionOne', 'internal', 'http://192.0.2.11:9292'),
            ('RegionTwo', 'public', 'https://198.51.100.20:9292/')))
        self.addCleanup(self.keystone.stop)
        self.addCleanup(CONF.unregister_opts, status.cli_opts)
        self.addCleanup(self.forget_auth_plugin_opts)
        self.sections = {
            'DEFAULT': {
                'enabled_import_methods':
                    '[glance-direct,web-download,glance-download]',
                'node_staging_uri': 'file://' + self.staging},
            'import_filtering_opts': {'allowed_ports': '[80,443,9292]'},
            'keystone_authtoken': {
                'auth_type': 'password',
                'auth_url': self.keystone.url + '/v3',
                'username': 'glance', 'password': PASSWORD,
                'project_name': 'service', 'user_domain_name': 'Default',
                'project_domain_name': 'Default'},
        }

    @staticmethod
    def forget_auth_plugin_opts():
        """Undo what loading the password plugin registers.

        Some of its options are required: left registered, they would make
        the next test's configuration without them unreadable.
        """
        plugin_opts = ks_loading.get_auth_plugin_conf_options('password')
        for section in ('keystone_authtoken', 'service_user'):
            if section in CONF:
                CONF.unregister_opts(plugin_opts, group=section)

    def set(self, section, **values):
        self.sections.setdefault(section, {}).update(values)

    def write_config(self):
        path = os.path.join(self.dir, 'glance-api.conf')
        with open(path, 'w') as conf:
            for section, values in self.sections.items():
                conf.write(f'[{section}]\n')
                for name, value in values.items():
                    if value is not None:
                        conf.write(f'{name} = {value}\n')
        return path

    def run_status(self, *args):
        """(exit status, stdout, stderr) of glance-download-status."""
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = status.main(['--config-file', self.write_config()]
                                   + list(args))
            finally:
                CONF.clear()
        return code, out.getvalue(), err.getvalue()

    def checks(self):
        """(exit status, {check name: check}) from the JSON output."""
        code, out, err = self.run_status('--json')
        self.assertTrue(out, err)
        report = json.loads(out)
        self.assertEqual(code == 0, report['ready'])
        return code, {check['name']: check for check in report['checks']}

    def check(self, name):
        return self.checks()[1][name]


class ReadyTest(StatusTestBase):

    def test_ready_configuration(self):
        code, checks = self.checks()
        self.assertEqual(0, code)
        self.assertEqual(
            ['implementation', 'enabled', 'staging', 'import_filtering',
             'regions', 'settings', 'imports'], list(checks))
        self.assertEqual({'ok'}, {check['status']
                                  for check in checks.values()})

    def test_text_report_one_line_per_check(self):
        code, out, err = self.run_status()
        self.assertEqual(0, code)
        self.assertEqual('', err)
        headlines = [line.split(None, 1) for line in out.splitlines()
                     if not line.startswith(' ')]
        self.assertEqual(['OK'] * 7, [words[0] for words in headlines[:7]])
        self.assertIn('Implementation', headlines[0][1])
        self.assertEqual('Ready: Glance can serve glance-download.',
                         out.splitlines()[-1])

    def test_no_secret_is_printed(self):
        self.set('glance_download', send_service_token='true',
                 auth_section='keystone_authtoken')
        self.set('keystone_authtoken', memcache_secret_key=PASSWORD)
        self.keystone.catalog[0]['endpoints'].append(
            {'region': 'RegionThree', 'interface': 'public',
             'url': f'https://admin:{PASSWORD}@192.0.2.30:9292'})
        for args in ((), ('--json',)):
            code, out, err = self.run_status(*args)
            self.assertEqual(0, code, out)
            self.assertNotIn(PASSWORD, out + err)
            self.assertNotIn(TOKEN, out + err)
        # The secret was read: Keystone received it.
        self.assertEqual(PASSWORD, self.keystone.bodies[-1]['auth'][
            'identity']['password']['user']['password'])

    def test_text_report_says_what_to_fix(self):
        self.set('DEFAULT', enabled_import_methods='[glance-direct]')
        code, out, _err = self.run_status()
        self.assertEqual(1, code)
        self.assertRegex(out, r'(?m)^FAIL +Enabled +glance-download is not')
        self.assertIn('To fix: Set [DEFAULT] enabled_import_methods', out)
        self.assertEqual('Not ready: fix Enabled.', out.splitlines()[-1])

    def test_config_dir(self):
        conf_dir = os.path.join(self.dir, 'glance-api.conf.d')
        os.mkdir(conf_dir)
        with open(os.path.join(conf_dir, 'methods.conf'), 'w') as conf:
            conf.write('[DEFAULT]\nenabled_import_methods = [glance-direct]\n')
        code, out, _err = self.run_status('--config-dir', conf_dir)
        self.assertEqual(1, code)
        self.assertRegex(out, r'(?m)^FAIL +Enabled')

    def test_missing_config_file(self):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = status.main(['--config-file',
                                    os.path.join(self.dir, 'none.conf')])
            finally:
                CONF.clear()
        self.assertEqual(1, code)
        self.assertIn('none.conf', err.getvalue())

    def test_empty_configuration_is_reported_not_a_crash(self):
        self.sections = {}
        code, checks = self.checks()
        self.assertEqual(1, code)
        self.assertEqual('fail', checks['enabled']['status'])
        self.assertEqual('unknown', checks['regions']['status'])
        self.assertIn('auth_type', checks['regions']['fix'])

    def test_invalid_value_fails_its_check(self):
        self.set('glance_download', chunk_size='12')
        code, checks = self.checks()
        self.assertEqual(1, code)
        self.assertEqual('fail', checks['settings']['status'])
        self.assertIn('chunk_size', checks['settings']['summary'])


class RegistryTest(StatusTestBase):

    REGISTERED = [
        ('implementation', 'Implementation'), ('enabled', 'Enabled'),
        ('staging', 'Staging'), ('import_filtering', 'Import filtering'),
        ('regions', 'Regions'), ('settings', 'Settings'),
        ('imports', 'Imports')]

    def test_each_check_is_listed_once_with_its_name_and_title(self):
        found = [(check.name, check.title) for check in runner.CHECKS]
        self.assertEqual(self.REGISTERED, found)
        functions = [check.function for check in runner.CHECKS]
        self.assertEqual(len(functions), len(set(functions)))

    def test_names_and_titles_are_written_in_the_registry_only(self):
        package = os.path.dirname(status.__file__)
        trees = {}
        for name in sorted(os.listdir(package)):
            if name.endswith('.py'):
                with open(os.path.join(package, name)) as source:
                    trees[name] = ast.parse(source.read())

        def texts(tree):
            return [node.value for node in ast.walk(tree)
                    if isinstance(node, ast.Constant)]
        everywhere = [text for tree in trees.values() for text in texts(tree)]
        for _name, title in self.REGISTERED:
            self.assertEqual(1, everywhere.count(title), title)
            self.assertIn(title, texts(trees['runner.py']))
        made = [node for tree in trees.values() for node in ast.walk(tree)
                if isinstance(node, ast.Call)
                and 'Check' in (getattr(node.func, 'id', None),
                                getattr(node.func, 'attr', None))]
        self.assertEqual(1, len(made), 'checks return a Result; the '
                         'registry names it')

    def test_reports_follow_the_registry(self):
        _code, out, _err = self.run_status('--json')
        self.assertEqual(self.REGISTERED,
                         [(check['name'], check['title'])
                          for check in json.loads(out)['checks']])
        _code, out, _err = self.run_status()
        headlines = [line for line in out.splitlines()
                     if not line.startswith(' ')][:len(self.REGISTERED)]
        self.assertEqual([title for _name, title in self.REGISTERED],
                         [line[9:26].rstrip() for line in headlines])

    def test_the_catalog_is_read_once_for_its_two_checks(self):
        code, checks = self.checks()
        self.assertEqual('ok', checks['regions']['status'])
        self.assertEqual('ok', checks['import_filtering']['status'])
        self.assertEqual(1, len(self.keystone.bodies))

    def test_a_check_that_breaks_keeps_its_name_and_title(self):
        def broken(conf):
            raise RuntimeError('broken check')
        registry = tuple(
            dataclasses.replace(check, function=broken)
            if check.name == 'enabled' else check
            for check in runner.CHECKS)
        with mock.patch.object(runner, 'CHECKS', registry):
            code, checks = self.checks()
        found = checks['enabled']
        self.assertEqual(('unknown', 'Enabled'),
                         (found['status'], found['title']))
        self.assertEqual('Could not be checked: RuntimeError: broken check',
                         found['summary'])
        self.assertEqual('ok', checks['staging']['status'])


class ImplementationTest(StatusTestBase):

    def test_plugin_when_found_first(self):
        helpers.enumerated(self, helpers.OURS)
        found = self.check('implementation')
        self.assertEqual('ok', found['status'])
        self.assertEqual('plugin', found['data']['outcome'])
        self.assertEqual(helpers.OURS, found['data']['function'])
        self.assertCountEqual([helpers.OURS, helpers.IN_TREE],
                              found['data']['entry_points'])

    def test_plugin_when_found_last(self):
        helpers.enumerated(self, helpers.IN_TREE)
        found = self.check('implementation')
        self.assertEqual('ok', found['status'])
        self.assertEqual(helpers.OURS, found['data']['function'])

    def assert_in_tree(self, loaded):
        self.set(options.GROUP, implementation='in-tree')
        found = self.check('implementation')
        self.assertEqual('ok', found['status'])
        self.assertEqual('in-tree', found['data']['outcome'])
        self.assertEqual(loaded, found['data']['function'])
        self.assertIn('in-tree', found['summary'])

    def test_in_tree_by_choice_when_found_last(self):
        helpers.enumerated(self, helpers.OURS)
        self.assert_in_tree(helpers.IN_TREE)

    def test_in_tree_by_choice_when_found_first(self):
        # Ours, loaded last, hands the import over to the in-tree flow.
        helpers.enumerated(self, helpers.IN_TREE)
        self.assert_in_tree(helpers.OURS)

    def test_glance_is_left_as_it_was(self):
        """The check finds the function without installing our claim."""
        in_tree = importlib.import_module(takeover.IN_TREE_MODULE)
        glance_get_flow = in_tree.get_flow
        for first in (helpers.OURS, helpers.IN_TREE):
            with self.subTest(first=first):
                helpers.enumerated(self, first)
                found = self.check('implementation')
                self.assertEqual(helpers.OURS, found['data']['function'])
                self.assertIs(glance_get_flow, in_tree.get_flow)

    def test_in_tree_when_this_plugin_is_not_installed(self):
        helpers.enumerated(self, helpers.OURS)
        in_tree_only = [ep for ep in implementation._entry_points()
                        if ep.value != helpers.OURS]
        with mock.patch.object(implementation, '_entry_points',
                               return_value=in_tree_only):
            found = self.check('implementation')
        self.assertEqual('warn', found['status'])
        self.assertEqual('in-tree', found['data']['outcome'])
        self.assertEqual(helpers.IN_TREE, found['data']['function'])
        self.assertIn('pip', found['fix'])


class EnabledTest(StatusTestBase):

    def test_disabled(self):
        self.set('DEFAULT', enabled_import_methods='[glance-direct]')
        code, checks = self.checks()
        self.assertEqual(1, code)
        self.assertEqual('fail', checks['enabled']['status'])
        self.assertIn('enabled_import_methods = [glance-direct,'
                      'glance-download]', checks['enabled']['fix'])


class StagingTest(StatusTestBase):

    def test_legacy_node_staging_uri(self):
        found = self.check('staging')
        self.assertEqual('ok', found['status'])
        self.assertEqual(self.staging, found['data']['path'])
        self.assertEqual('[DEFAULT] node_staging_uri', found['data']['option'])
        self.assertGreater(found['data']['free_bytes'], 0)

    def test_multiple_stores_use_the_staging_store(self):
        datadir = os.path.join(self.dir, 'multi')
        os.mkdir(datadir)
        self.set('DEFAULT', enabled_backends='fast:file')
        self.set('os_glance_staging_store', filesystem_store_datadir=datadir)
        found = self.check('staging')
        self.assertEqual('ok', found['status'])
        self.assertEqual(datadir, found['data']['path'])
        self.assertIn('os_glance_staging_store', found['data']['option'])

    def test_missing_directory(self):
        os.rmdir(self.staging)
        code, checks = self.checks()
        self.assertEqual(1, code)
        self.assertEqual('fail', checks['staging']['status'])
        self.assertIn('does not exist', checks['staging']['summary'])
        self.assertIn('node_staging_uri', checks['staging']['fix'])

    def test_not_a_local_directory(self):
        self.set('DEFAULT', node_staging_uri='http://elsewhere/staging')
        found = self.check('staging')
        self.assertEqual('fail', found['status'])
        self.assertIn('file:///', found['fix'])

    def test_not_writable(self):
        # Whatever the user running the tests, root included.
        with mock.patch.object(staging.os, 'access', return_value=False):
            found = self.check('staging')
        self.assertEqual('fail', found['status'])
        self.assertIn('not writable', found['summary'])


class FilteringTest(StatusTestBase):

    def endpoints(self, found):
        return {(e['region'], e['interface']): e['allowed']
                for e in found['data']['endpoints']}

    def test_every_endpoint_allowed(self):
        found = self.check('import_filtering')
        self.assertEqual('ok', found['status'])
        self.assertEqual(3, len(self.endpoints(found)))
        self.assertTrue(all(self.endpoints(found).values()))

    def test_some_endpoints_refused(self):
        self.set('import_filtering_opts', disallowed_hosts='[192.0.2.11]')
        code, checks = self.checks()
        self.assertEqual(0, code)
        found = checks['import_filtering']
        self.assertEqual('warn', found['status'])
        self.assertEqual({('RegionOne', 'public'): True,
                          ('RegionOne', 'internal'): False,
                          ('RegionTwo', 'public'): True},
                         self.endpoints(found))

    def test_every_endpoint_refused(self):
        self.set('import_filtering_opts', allowed_ports='[80,443]')
        code, checks = self.checks()
        self.assertEqual(1, code)
        found = checks['import_filtering']
        self.assertEqual('fail', found['status'])
        self.assertIn('allowed_ports = [80,443,9292]', found['fix'])

    def test_endpoints_are_checked_as_the_plugin_sends_to_them(self):
        """An endpoint the parsers read differently is refused by both.

        A backslash makes Glance's parser read 192.0.2.10, urllib3
        192.0.2.99: the plugin refuses it, and so does the check.
        """
        self.keystone.catalog[0]['endpoints'].append(
            {'region': 'RegionThree', 'interface': 'public',
             'url': 'http://192.0.2.99:9292\\@192.0.2.10:9292'})
        found = self.check('import_filtering')
        self.assertEqual('warn', found['status'])
        self.assertFalse(self.endpoints(found)[('RegionThree', 'public')])
        self.assertTrue(self.endpoints(found)[('RegionOne', 'public')])


class RegionsTest(StatusTestBase):

    def test_regions_from_the_service_catalog(self):
        found = self.check('regions')
        self.assertEqual('ok', found['status'])
        self.assertEqual(
            {'RegionOne': {'public': 'http://192.0.2.10:9292/v2',
                           'internal': 'http://192.0.2.11:9292'},
             'RegionTwo': {'public': 'https://198.51.100.20:9292/'}},
            found['data']['regions'])
        self.assertEqual('keystone_authtoken', found['data']['credentials'])

    def test_our_own_credentials_section(self):
        self.sections['service_user'] = self.sections.pop(
            'keystone_authtoken')
        self.set(options.GROUP, auth_section='service_user')
        found = self.check('regions')
        self.assertEqual('ok', found['status'])
        self.assertEqual('service_user', found['data']['credentials'])

    def test_keystone_unreachable(self):
        self.set('keystone_authtoken',
                 auth_url=f'http://127.0.0.1:{closed_port()}/v3')
        code, checks = self.checks()
        self.assertEqual(0, code)
        self.assertEqual('unknown', checks['regions']['status'])
        self.assertIn('could not be reached', checks['regions']['summary'])
        self.assertEqual('unknown', checks['import_filtering']['status'])

    def test_userinfo_is_masked_in_details_too(self):
        """keystoneauth's error text, in the details, names the URL."""
        self.set('keystone_authtoken',
                 auth_url=f'http://admin:{PASSWORD}@127.0.0.1:'
                          f'{closed_port()}/v3')
        for args in ((), ('--json',)):
            code, out, err = self.run_status(*args)
            self.assertIn('could not be reached', out)
            self.assertIn('http://***@127.0.0.1', out)
            self.assertNotIn(PASSWORD, out + err)
        code, checks = self.checks()
        details = checks['regions']['details']
        self.assertTrue(details)
        self.assertIn('***@', ' '.join(details))

    def test_catalog_not_passed_to_glance(self):
        self.set('keystone_authtoken', include_service_catalog='false')
        found = self.check('regions')
        self.assertEqual('fail', found['status'])
        self.assertIn('include_service_catalog = true', found['fix'])


class SettingsTest(StatusTestBase):

    def test_values_are_listed(self):
        self.set(options.GROUP, read_timeout='120', record_provenance='false')
        self.set(options.PROPERTIES_GROUP, extra_properties='[hw_,os_]')
        found = self.check('settings')
        self.assertEqual('ok', found['status'])
        self.assertEqual(120.0, found['data']['read_timeout'])
        self.assertFalse(found['data']['record_provenance'])
        self.assertEqual(['hw_', 'os_'], found['data']['extra_properties'])
        self.assertIn('read_timeout, record_provenance', found['summary'])

    def test_service_token_without_credentials(self):
        self.set(options.GROUP, send_service_token='true')
        code, checks = self.checks()
        self.assertEqual(1, code)
        self.assertEqual('fail', checks['settings']['status'])
        self.assertIn('auth_section = keystone_authtoken',
                      checks['settings']['fix'])

    def test_missing_ca_file(self):
        self.set(options.GROUP, cafile=os.path.join(self.dir, 'ca.pem'))
        self.assertEqual('fail', self.check('settings')['status'])


class ImportsTest(StatusTestBase):

    def test_nothing_stopped(self):
        image_id, _task = self.db.add_import(idle=5)
        self.db.stage(image_id + '.part', b'x' * 2048)
        found = self.check('imports')
        self.assertEqual('ok', found['status'])
        self.assertIn('1 part file(s) of imports in progress',
                      found['summary'])
        self.assertIn('within 960 s', found['summary'])
        self.assertEqual([f'Part file {image_id}.part: 2.0 KiB, 0 s old, '
                          'image importing'], found['details'])

    def test_stale_imports_and_orphan_parts_are_listed(self):
        stale, task_id = self.db.add_import(idle=3600)
        self.db.stage(stale + '.part')
        gone, _task = self.db.add_import(idle=1)
        self.db.delete_image(gone)
        self.db.stage(gone + '.part')
        code, checks = self.checks()
        self.assertEqual(0, code)
        found = checks['imports']
        self.assertEqual('warn', found['status'])
        self.assertIn('1 import(s) stopped with their glance-api, 1 orphan '
                      'part file(s)', found['summary'])
        self.assertIn('--repair', found['fix'])
        self.assertEqual(task_id, found['data']['stale'][0]['task_id'])
        self.assertIn(f'Stale: image {stale} (importing), task {task_id}: no '
                      'heartbeat for 60 min', found['details'])
        self.assertIn(f'Part file {gone}.part: 7 B, 0 s old, image deleted, '
                      'orphan', found['details'])
        # Listing changes nothing.
        self.assertEqual('importing', self.db.image(stale).status)
        self.assertEqual(2, len(os.listdir(self.staging)))

    def test_repair(self):
        stale, task_id = self.db.add_import(idle=3600)
        self.db.stage(stale + '.part')
        gone, _task = self.db.add_import(idle=1)
        self.db.delete_image(gone)
        self.db.stage(gone + '.part')
        code, out, err = self.run_status('--repair')
        self.assertEqual(0, code, err)
        self.assertIn(f'Repaired image {stale} (task {task_id}', out)
        self.assertIn('fail the task, release the import lock; removed '
                      f'{stale}.part.', out)
        self.assertIn(f'Removed orphan part file {gone}.part', out)
        self.assertRegex(out, r'(?m)^OK +Imports +No import stopped')
        self.assertEqual('queued', self.db.image(stale).status)
        self.assertIn('stopped during it', self.db.task(task_id).message)
        self.assertEqual([], os.listdir(self.staging))
        code, out, err = self.run_status('--repair')
        self.assertIn('Nothing to repair.', out)

    def test_repair_with_json_keeps_stdout_a_document(self):
        self.db.add_import(idle=3600)
        code, out, err = self.run_status('--repair', '--json')
        self.assertEqual(0, code)
        self.assertIn('Repaired image', err)
        self.assertEqual('ok', {c['name']: c for c in json.loads(out)[
            'checks']}['imports']['status'])

    def test_bound_too_close_to_the_heartbeat(self):
        self.set(options.GROUP, heartbeat_interval='60', stale_after='120')
        found = self.check('settings')
        self.assertEqual('warn', found['status'])
        self.assertIn('less than 5 times heartbeat_interval',
                      found['summary'])
        self.assertIn('stale_after', found['fix'])
