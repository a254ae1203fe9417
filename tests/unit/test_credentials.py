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

"""One reading of service credentials and TLS, for the plugin and the
status command."""

import unittest

from keystoneauth1 import token_endpoint
from oslo_config import cfg

from glance_download.cmd.status import regions
from glance_download import credentials
from glance_download import options
from glance_download import sessions
from tests.unit import boundary_fakes

TLS_SETTINGS = (
    {},
    {'cafile': '/etc/ca.pem'},
    {'insecure': True, 'cafile': '/etc/ca.pem'},
    {'certfile': '/etc/c.pem', 'keyfile': '/etc/k.pem'},
    {'certfile': '/etc/both.pem'},
    {'keyfile': '/etc/k.pem'},
)


def make_conf(**settings):
    """Service credentials in [service_user], named by ours."""
    conf = cfg.ConfigOpts()
    options.register_opts(conf)
    conf.register_opts(
        [cfg.StrOpt('auth_type'), cfg.StrOpt('auth_section')],
        group='keystone_authtoken')
    conf([])
    conf.set_override('send_service_token', True, group=options.GROUP)
    conf.set_override('auth_section', 'service_user', group=options.GROUP)
    credentials.auth_section(conf, options.GROUP)
    conf.set_override('auth_type', 'admin_token', group='service_user')
    for name, value in settings.items():
        conf.set_override(name, value, group=options.GROUP)
    return conf


class TLSTest(unittest.TestCase):

    def test_remote_and_status_verify_alike(self):
        for settings in TLS_SETTINGS:
            conf = make_conf(**settings)
            plugin = sessions.make_session(conf, boundary_fakes.TOKEN)
            keystone, section = regions.keystone_session(conf)
            self.assertEqual('service_user', section)
            self.assertEqual((plugin.verify, plugin.cert),
                             (keystone.verify, keystone.cert), settings)

    def test_settings(self):
        expected = (
            (True, None), ('/etc/ca.pem', None), (False, None),
            (True, ('/etc/c.pem', '/etc/k.pem')), (True, '/etc/both.pem'),
            (True, None))
        for settings, (verify, cert) in zip(TLS_SETTINGS, expected):
            found = credentials.tls(make_conf(**settings)[options.GROUP])
            self.assertEqual({'verify': verify, 'cert': cert}, found,
                             settings)

    def test_section_without_tls_options_gets_the_defaults(self):
        conf = make_conf()
        self.assertEqual({'verify': True, 'cert': None},
                         credentials.tls(conf['keystone_authtoken']))


class ServiceAuthTest(unittest.TestCase):

    def test_plugin_of_the_named_section(self):
        conf = make_conf()
        self.assertEqual('service_user',
                         credentials.auth_section(conf, options.GROUP))
        auth = credentials.service_auth(conf, options.GROUP)
        self.assertIsInstance(auth, token_endpoint.Token)

    def test_none_without_auth_type(self):
        conf = make_conf()
        conf.clear_override('auth_section', group=options.GROUP)
        self.assertEqual(options.GROUP,
                         credentials.auth_section(conf, options.GROUP))
        self.assertIsNone(credentials.service_auth(conf, options.GROUP))
