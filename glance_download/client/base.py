"""What image copy and image sync share: regions, waiting, exit status."""

import concurrent.futures
import logging
import sys

from osc_lib.command import command
from osc_lib import exceptions

from glance_download.client import display
from glance_download.client import images
from glance_download.client import plan
from glance_download.client import runner

LOG = logging.getLogger(__name__)

EXIT_STATUSES = """\
Exit status: 0 when every region succeeded (or had nothing to do); 1 when
nothing was done because of an error (bad input, or every region failed);
3 on a partial failure (some regions failed, the others succeeded); 4 when
--wait timed out before every import ended (run the same command again with
--wait to wait for them). 2 is the client's own for a command line it cannot
parse."""


class RegionsCommand(command.Lister):
    """A command that acts from one source region on target regions."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            '--from-region', metavar='<region>',
            help='Region of the source image (default: the region of the '
                 'CLI, --os-region-name)')
        parser.add_argument(
            '--from-interface', metavar='<interface>', default='public',
            help='Interface of the source region\'s image endpoint that the '
                 'target Glance downloads from (default: public)')
        parser.add_argument(
            '--wait', action='store_true',
            help='Wait until every import ended, showing its progress')
        parser.add_argument(
            '--timeout', metavar='<seconds>', type=int, default=3600,
            help='With --wait, how long to wait at most (default: 3600)')
        parser.add_argument(
            '--dry-run', action='store_true',
            help='Print what each region would get, change nothing')
        parser.add_argument(
            '--max-parallel', metavar='<count>', type=int, default=4,
            help='Steps run at the same time overall (default: 4)')
        parser.add_argument(
            '--max-per-region', metavar='<count>', type=int, default=2,
            help='Steps run at the same time in one region (default: 2)')
        return parser

    def client(self):
        return self.app.client_manager.glance_download

    def source_region(self, parsed_args, catalog):
        region = parsed_args.from_region or self.client().region_name
        if region:
            return region
        if len(catalog) == 1:
            return catalog[0]
        raise exceptions.CommandError(
            'Which region is the source? Give --from-region or '
            '--os-region-name (regions with an image service: %s).'
            % ', '.join(catalog))

    def check_methods(self, regions, targets):
        """{region: message} for the targets that refuse the method."""
        def check(region):
            try:
                return plan.method_problem(
                    region, regions[region].import_methods())
            except images.GlanceError as e:
                return str(e)
        with concurrent.futures.ThreadPoolExecutor(
                max(1, min(8, len(targets)))) as pool:
            found = dict(zip(targets, pool.map(check, targets)))
        return {region: msg for region, msg in found.items() if msg}

    def finish(self, parsed_args, work_runner, rows, sources):
        """Wait if asked, set the exit status; the rows to print."""
        if parsed_args.wait and not parsed_args.dry_run:
            work_runner.wait(rows, sources, parsed_args.timeout,
                             display.Display(sys.stderr))
        self.exit_status = plan.exit_code(row.outcome for row in rows)
        return runner.COLUMNS, [row.values() for row in rows]

    def run(self, parsed_args):
        self.exit_status = plan.EXIT_OK
        status = super().run(parsed_args)
        return status or self.exit_status
