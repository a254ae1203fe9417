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

"""The client part works on a machine without Glance."""

import os
import subprocess
import sys
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

# Refuses glance, glance_store and this package's server side (the boundary
# package with each of its modules, by prefix), then loads
# every client module and the plugin's entry points.
SCRIPT = r'''
import importlib
import sys

REFUSED = ('glance', 'glance_store', 'glance_download.boundary',
           'glance_download.plugin', 'glance_download.fetch',
           'glance_download.tasks', 'taskflow', 'oslo_config')


class Refuse:
    def find_spec(self, name, path=None, target=None):
        for refused in REFUSED:
            if name == refused or name.startswith(refused + '.'):
                raise ImportError(f'refused: {name}')
        return None


sys.meta_path.insert(0, Refuse())
for name in ('plugin', 'plan', 'images', 'display', 'runner', 'base',
             'copy', 'sync'):
    importlib.import_module('glance_download.client.' + name)
from importlib.metadata import entry_points
for group in ('openstack.cli.extension', 'openstack.glance_download.v1'):
    for ep in entry_points(group=group):
        ep.load()
print('ok', sorted(n for n in sys.modules if n.startswith('glance')))
'''


class IsolationTest(unittest.TestCase):

    def test_client_never_imports_glance(self):
        result = subprocess.run([sys.executable, '-c', SCRIPT], cwd=REPO,
                                capture_output=True, text=True, timeout=120)
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertTrue(result.stdout.startswith('ok'), result.stdout)
        self.assertNotIn("'glance'", result.stdout)
        self.assertIn('glance_download.client.sync', result.stdout)

    def test_the_guard_refuses(self):
        """The same script fails when a client module imports Glance."""
        script = SCRIPT.replace("for name in ('plugin'",
                                "import glance.api\nfor name in ('plugin'")
        result = subprocess.run([sys.executable, '-c', script], cwd=REPO,
                                capture_output=True, text=True, timeout=120)
        self.assertNotEqual(0, result.returncode)
        self.assertIn('refused: glance', result.stderr)
