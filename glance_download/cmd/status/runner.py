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

"""The registry of checks, in the order they are reported, and its runner.

Each check is registered once with its name (the one in JSON) and title
(the one of the text report), as oslo.upgradecheck's ``_upgrade_checks``
pairs a title with a function. A check that raises still reports under its
name: a broken setting fails the check it belongs to, not the command.
"""

import dataclasses
import typing

from oslo_config import cfg

from glance_download.cmd.status import enabled
from glance_download.cmd.status import filtering
from glance_download.cmd.status import implementation
from glance_download.cmd.status import imports
from glance_download.cmd.status import regions
from glance_download.cmd.status import result
from glance_download.cmd.status import settings
from glance_download.cmd.status import staging


@dataclasses.dataclass(frozen=True)
class Registered:
    """One check: its name, title and function.

    The function makes the check from the configuration and what it is
    handed (``handed`` names them, from what run_checks gathers).
    """

    name: str
    title: str
    function: typing.Callable[..., result.Result]
    handed: tuple = ()

    def run(self, conf, handed):
        found = guarded(self.function, conf,
                        *(handed[name] for name in self.handed))
        return result.Check(name=self.name, title=self.title,
                            **dataclasses.asdict(found))


CHECKS = (
    Registered('implementation', 'Implementation', implementation.check),
    Registered('enabled', 'Enabled', enabled.check),
    Registered('staging', 'Staging', staging.check),
    Registered('import_filtering', 'Import filtering', filtering.check,
               ('catalog',)),
    Registered('regions', 'Regions', regions.check, ('catalog',)),
    Registered('settings', 'Settings', settings.check),
    Registered('imports', 'Imports', imports.check, ('db_api',)),
)


def guarded(function, *args):
    """``function(*args)``, or the Result of its failure."""
    try:
        return function(*args)
    except result.Unknown as exc:
        return result.Result(result.UNKNOWN, str(exc), fix=exc.fix,
                             details=exc.details)
    except cfg.Error as exc:
        return result.Result(
            result.FAIL, f'The configuration cannot be read: {exc}',
            fix='Correct the option named above.')
    except Exception as exc:
        return result.Result(
            result.UNKNOWN,
            f'Could not be checked: {type(exc).__name__}: {exc}')


def run_checks(conf, db_api=None):
    """Run every check of CHECKS.

    Each is handed the catalog (read once) and the database (``db_api``,
    the configured one by default).
    """
    handed = {'catalog': guarded(regions.read_catalog, conf),
              'db_api': db_api}
    return [registered.run(conf, handed) for registered in CHECKS]


def ready(checks):
    """Whether Glance can serve the method: no check failed."""
    return all(check.status != result.FAIL for check in checks)
