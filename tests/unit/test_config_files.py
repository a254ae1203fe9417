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

"""Glance's configuration as the console scripts read it, against the
installed Glance."""

import os
import shutil
import tempfile
import unittest
from unittest import mock

from oslo_config import cfg

from glance_download.boundary import config_files


def config_dir(test):
    path = tempfile.mkdtemp()
    test.addCleanup(shutil.rmtree, path, True)
    patcher = mock.patch.dict(os.environ, {'OS_GLANCE_CONFIG_DIR': path})
    patcher.start()
    test.addCleanup(patcher.stop)
    return path


class ConfigFilesTest(unittest.TestCase):

    def test_glance_api_files_by_default(self):
        conf_dir = config_dir(self)
        self.assertEqual([os.path.join(conf_dir, 'glance-api.conf')],
                         config_files.glance_api_config_files())
        open(os.path.join(conf_dir, 'glance-image-import.conf'),
             'w').close()
        self.assertEqual(
            [os.path.join(conf_dir, 'glance-image-import.conf'),
             os.path.join(conf_dir, 'glance-api.conf')],
            config_files.glance_api_config_files())


class ParseConfigTest(unittest.TestCase):

    def test_reads_glance_api_files_and_keystonemiddleware_options(self):
        conf_dir = config_dir(self)
        with open(os.path.join(conf_dir, 'glance-api.conf'), 'w') as conf:
            conf.write('[DEFAULT]\nenabled_import_methods = [web-download]\n'
                       '[keystone_authtoken]\n'
                       'include_service_catalog = false\n')
        self.addCleanup(cfg.CONF.clear)
        config_files.parse_config([], prog='glance-download-status')
        self.assertEqual(['web-download'],
                         cfg.CONF.enabled_import_methods)
        self.assertFalse(cfg.CONF.keystone_authtoken.include_service_catalog)

    def test_command_line_files_replace_glance_api_ones(self):
        conf_dir = config_dir(self)
        with open(os.path.join(conf_dir, 'glance-api.conf'), 'w') as conf:
            conf.write('[DEFAULT]\nenabled_import_methods = [web-download]\n')
        other = os.path.join(conf_dir, 'other.conf')
        with open(other, 'w') as conf:
            conf.write('[DEFAULT]\nenabled_import_methods = '
                       '[glance-download]\n')
        self.addCleanup(cfg.CONF.clear)
        config_files.parse_config(['--config-file', other])
        self.assertEqual(['glance-download'],
                         cfg.CONF.enabled_import_methods)


class StagingStoreOptsTest(unittest.TestCase):
    """On a configuration of its own.

    The global one may have the group from other tests already.
    """

    def setUp(self):
        self.conf = cfg.ConfigOpts()
        self.conf.register_opt(cfg.DictOpt('enabled_backends'))
        patcher = mock.patch.object(config_files, 'CONF', self.conf)
        patcher.start()
        self.addCleanup(patcher.stop)

    def test_registered_with_multiple_stores(self):
        self.conf.set_override('enabled_backends', {'fast': 'file'})
        config_files.register_staging_store_opts()
        self.assertIn(config_files.STAGING_GROUP, self.conf)
        self.assertIn('filesystem_store_datadir',
                      self.conf[config_files.STAGING_GROUP])

    def test_not_without_multiple_stores(self):
        config_files.register_staging_store_opts()
        self.assertNotIn(config_files.STAGING_GROUP, self.conf)

    def test_a_group_registered_before_is_kept(self):
        self.conf.set_override('enabled_backends', {'fast': 'file'})
        self.conf.register_opt(cfg.StrOpt('filesystem_store_datadir',
                                          default='/kept'),
                               group=config_files.STAGING_GROUP)
        config_files.register_staging_store_opts()
        self.assertEqual(
            '/kept',
            self.conf[config_files.STAGING_GROUP].filesystem_store_datadir)
