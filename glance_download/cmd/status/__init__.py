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

"""glance-download-status: is this Glance ready to serve glance-download?

Run with Glance's Python and Glance's configuration files, it reads the
configuration the way glance-api does and reports, one check per line, the
implementation Glance will load, whether the method is enabled, the staging
area, import filtering, the regions the service catalog lists image
endpoints for, our own settings, and imports left behind by a glance-api
that stopped. It exits 0 when no check failed. ``--repair`` first
recovers those imports, as glance-api itself does after stale_after.

Checks that cannot be made (Keystone unreachable, no service credentials)
are reported as unknown and do not fail the command: the method itself
uses each user's own catalog, not the service's.

Why not oslo.upgradecheck, as glance-status is: its Result is a code and
one text, and its codes are success, warning and failure. Our report has
a fourth status, unknown, and a summary, what to fix, detail lines and
data (the JSON document) per check; it exits 1 only when a check failed,
where upgradecheck's exit status is its worst code, a warning included; and
upgradecheck takes the command line (an ``upgrade check`` subcommand) and
prints its own table. So the shape is kept and the library is not: one
module per check here, each a function of the configuration and of what it
is handed, returning a Result; ``runner`` registers them in order, with
their names and titles, as ``_upgrade_checks`` does, and runs them;
``render`` prints them. No check changes Glance's modules or data: only
``--repair`` changes anything, the imports it recovers.
"""

import contextlib
import logging
import sys

from oslo_config import cfg

from glance_download.boundary import config
from glance_download.boundary import config_files
from glance_download.cmd.status import imports
from glance_download.cmd.status import render
from glance_download.cmd.status import result
from glance_download.cmd.status import runner
from glance_download import options

CONF = config.CONF

cli_opts = [
    cfg.BoolOpt('json', default=False,
                help='Print the checks as one JSON document.'),
    cfg.BoolOpt('repair', default=False,
                help='First recover the imports whose glance-api stopped '
                     '(failed task, image queued, staged data removed, '
                     'lock released) and remove orphan part files, as '
                     'glance-api does by itself after stale_after.'),
]


@contextlib.contextmanager
def _library_warnings_hidden():
    """Keep library warnings off the report; the checks say what matters.

    Glance's logging setup sends them to stderr (stevedore, for one, warns
    about the two glance_download implementations, which is expected).
    """
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def main(argv=None):
    """Console entry point: exit status 0 when ready, 1 otherwise."""
    conf = CONF
    options.register_opts(conf)
    conf.register_cli_opts(cli_opts)
    with _library_warnings_hidden():
        try:
            config_files.parse_config(
                sys.argv[1:] if argv is None else argv,
                prog='glance-download-status',
                version=result.version() or 'unknown',
                description='Check that this Glance is ready to serve the '
                            'glance-download import method.')
        except cfg.Error as exc:
            sys.stderr.write(f'glance-download-status: {exc}\n')
            return 1
        if conf.repair:
            try:
                render.repaired(imports.repair(conf),
                                sys.stderr if conf.json else sys.stdout)
            except Exception as exc:
                sys.stderr.write('glance-download-status: the repair failed: '
                                 f'{type(exc).__name__}: {exc}\n')
                return 1
        checks = runner.run_checks(conf)
    (render.as_json if conf.json else render.text)(checks, sys.stdout)
    return 0 if runner.ready(checks) else 1
