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

"""Helpers shared by the unit tests."""

from unittest import mock

from oslo_config import cfg
from oslo_config import fixture as config_fixture
from stevedore import extension

from glance_download import options


def config(test):
    """The oslo.config fixture of ``test``, made on first use.

    ``config(test).config(name=value, group=group)`` overrides an option
    of the global configuration; every override is undone when the test
    ends.
    """
    fixture = getattr(test, '_config_fixture', None)
    if fixture is None:
        fixture = config_fixture.Config(cfg.CONF)
        fixture.setUp()
        test.addCleanup(fixture.cleanUp)
        test._config_fixture = fixture
    return fixture


def override(test, name, value, group=None):
    """Override one option of the global configuration for ``test``."""
    config(test).config(**{name: value, 'group': group})


def make_conf(**settings):
    """A configuration of its own with our options, ``settings`` set."""
    conf = cfg.ConfigOpts()
    options.register_opts(conf)
    conf([])
    for name, value in settings.items():
        conf.set_override(name, value, group=options.GROUP)
    return conf


OURS = 'glance_download.plugin:get_flow'
IN_TREE = 'glance.async_.flows._internal_plugins.glance_download:get_flow'


def enumerated(test, first):
    """Make stevedore find one glance_download implementation first.

    Which comes first on a real host follows the directory listing of
    site-packages; both orders must give the same result.
    """
    real = extension.ExtensionManager.list_entry_points

    def ordered(manager):
        eps = list(real(manager))
        return sorted(eps, key=lambda ep: ep.value != first)
    patcher = mock.patch.object(extension.ExtensionManager,
                                'list_entry_points', ordered)
    patcher.start()
    test.addCleanup(patcher.stop)
