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

"""What image copy and image sync share: regions, waiting, exit status."""

import concurrent.futures
import logging
import sys
import time

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
            '--same-id', action='store_true',
            help="Give new copies their source image's id (fails in a "
                 "region where that id exists or ever existed)")
        parser.add_argument(
            '--dry-run', action='store_true',
            help='Print what each region would get, change nothing')
        parser.add_argument(
            '--max-parallel', metavar='<count>', type=int, default=4,
            help='Steps run at the same time overall (default: 4)')
        parser.add_argument(
            '--max-per-region', metavar='<count>', type=int, default=2,
            help='Steps run at the same time in one region (default: 2)')
        parser.add_argument(
            '--max-imports-per-region', metavar='<count>', type=int,
            default=4,
            help='Imports in flight at once in one region; the others wait '
                 'for one of them to end (default: 4)')
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
            '--os-region-name (regions with an image service: '
            f'{", ".join(catalog)}).')

    def target_regions(self, parsed_args, catalog, source_region):
        """The regions the command acts on (--to-region)."""
        return parsed_args.to_regions

    def connect(self, parsed_args):
        """(source region, targets, {region: RegionImages}), checked."""
        client = self.client()
        catalog = client.regions()
        source_region = self.source_region(parsed_args, catalog)
        targets = self.target_regions(parsed_args, catalog, source_region)
        try:
            plan.check_regions(source_region, targets, catalog)
        except plan.PlanError as e:
            raise exceptions.CommandError(str(e))
        regions = {name: client.images(name)
                   for name in [source_region] + targets}
        return source_region, targets, regions

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

    def region_copies(self, regions, targets, source_region,
                      source_id=None):
        """({region: copies}, {region: why nothing can be done there}).

        A region whose Glance refuses the method, or whose copies cannot
        be listed, is in the second dictionary only.
        """
        problems = self.check_methods(regions, targets)
        owner = self.client().project_id
        copies = {}
        for region in targets:
            if region in problems:
                continue
            try:
                copies[region] = regions[region].copies(
                    owner, source_region, source_id)
            except images.GlanceError as e:
                problems[region] = str(e)
        return copies, problems

    def carry_out(self, parsed_args, regions, source_region, work, sources,
                  rows=()):
        """Do work (or print it with --dry-run), wait if asked; the table.

        work: (step, source, fields) items; sources: {source id: source};
        rows: rows already decided, printed first.
        """
        work_runner = runner.Runner(
            regions, source_region, parsed_args.from_interface,
            parsed_args.max_parallel, parsed_args.max_per_region,
            owner=self.client().project_id,
            max_imports=parsed_args.max_imports_per_region,
            deadline=time.monotonic() + parsed_args.timeout)
        if parsed_args.dry_run:
            done = [runner.planned_row(step, source)
                    for step, source, _ in work]
        else:
            done = work_runner.run(work)
        rows = list(rows) + done
        if parsed_args.wait and not parsed_args.dry_run:
            work_runner.wait(rows, sources, parsed_args.timeout,
                             display.Display(sys.stderr))
        self.exit_status = plan.exit_code(row.outcome for row in rows)
        return runner.COLUMNS, [row.values() for row in rows]

    def run(self, parsed_args):
        self.exit_status = plan.EXIT_OK
        status = super().run(parsed_args)
        return status or self.exit_status
