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

"""The committed sample configuration follows the options the code defines.
"""

import difflib
import os
import tempfile
import unittest
from unittest import mock

from oslo_config import cfg
from oslo_config import generator
import stevedore

from glance_download import options

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
GENERATOR_CONF = os.path.join(
    REPO_ROOT, 'etc', 'oslo-config-generator', 'glance-download.conf')
SAMPLE = os.path.join(REPO_ROOT, 'etc', 'glance-download.conf.sample')

NAMESPACE = 'glance_download'
REGENERATE = ('Regenerate it from the repository root with:\n'
              '    oslo-config-generator --config-file '
              'etc/oslo-config-generator/glance-download.conf\n'
              '(or: tox -e genconfig)')


def _entry_point_installed():
    """True when oslo.config.opts/glance_download is our list_opts."""
    try:
        mgr = stevedore.NamedExtensionManager(
            'oslo.config.opts', names=[NAMESPACE])
    except Exception:
        return False
    return any(ext.plugin is options.list_opts for ext in mgr.extensions)


class SampleConfigTest(unittest.TestCase):

    def _generate(self, output_file):
        conf = cfg.ConfigOpts()
        generator.register_cli_opts(conf)
        conf(['--config-file', GENERATOR_CONF, '--output-file', output_file],
             project='glance-download',
             default_config_files=[], default_config_dirs=[])
        self.assertEqual([NAMESPACE], conf.namespace)
        if _entry_point_installed():
            generator.generate(conf)
            return
        # Not installed (a bare checkout on sys.path): feed the generator
        # the same function the entry point names.
        with mock.patch.object(
                generator, '_get_raw_opts_loaders',
                return_value=[(NAMESPACE, options.list_opts)]):
            generator.generate(conf)

    def test_sample_is_up_to_date(self):
        with tempfile.TemporaryDirectory() as tmp:
            output = os.path.join(tmp, 'glance-download.conf.sample')
            self._generate(output)
            with open(output, encoding='utf-8') as f:
                generated = f.read()
        try:
            with open(SAMPLE, encoding='utf-8') as f:
                committed = f.read()
        except FileNotFoundError:
            self.fail('etc/glance-download.conf.sample is missing. '
                      + REGENERATE)
        if generated != committed:
            diff = ''.join(difflib.unified_diff(
                committed.splitlines(keepends=True),
                generated.splitlines(keepends=True),
                'etc/glance-download.conf.sample (committed)',
                'generated from glance_download.options'))
            self.fail('etc/glance-download.conf.sample does not match the '
                      'options. ' + REGENERATE + '\n\n' + diff)
