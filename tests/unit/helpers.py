"""Helpers shared by the unit tests."""

from oslo_config import cfg
from oslo_config import fixture as config_fixture


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
