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
import dataclasses
import logging
import sys
import time

from osc_lib.command import command
from osc_lib import exceptions

from glance_download.client import compare
from glance_download.client import display
from glance_download.client import images
from glance_download.client import options
from glance_download.client import plan
from glance_download.client import relay
from glance_download.client import report
from glance_download.client import runner
from glance_download.client import timing
from glance_download.client import trees

LOG = logging.getLogger(__name__)

EXIT_INTERRUPTED = 130
_REATTACH = 'run the same command again with --wait to follow it'


def same_glance_message(region, source_region, source_id):
    return (f'Region {region} is served by the same Glance as the source '
            f'region {source_region}: image {source_id} read there is the '
            'source itself (same id, creation time and data, no '
            'provenance). Nothing was done there; check the catalog, or '
            'choose another region.')


class RegionsCommand(command.Lister):
    """A command that acts from one source region on target regions.

    Time is bounded at two levels. Each request has a connect and a read
    timeout (--connect-timeout, --read-timeout: the two bounds of the
    requests library, named as curl names the first; python-openstackclient
    has no global HTTP timeout option, and osc-lib ignores clouds.yaml's
    api_timeout), so that a region that accepts connections and never
    answers becomes a failed row while the others go on. --timeout bounds
    the whole command: no request outlives it, and --wait stops waiting
    when it is over.
    """

    timeouts = timing.Timeouts()

    def get_parser(self, prog_name):
        return options.add_shared(super().get_parser(prog_name))

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
        client.set_timeouts(self.timeouts)
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
        left = [region for region in targets if region not in problems]

        def listed(region):
            try:
                return regions[region].copies(owner, source_region,
                                              source_id), None
            except images.GlanceError as e:
                return None, str(e)
        copies = {}
        if left:
            with concurrent.futures.ThreadPoolExecutor(
                    min(8, len(left))) as pool:
                for region, (found, problem) in zip(
                        left, pool.map(listed, left)):
                    if problem is None:
                        copies[region] = found
                    else:
                        problems[region] = problem
        return copies, problems

    @staticmethod
    def same_glance(regions, work, source_region):
        """{region: message} for targets that are the source's own Glance.

        One source per target is read there (in parallel): the very same
        record means that creating a "copy" would make it beside the
        source. A region that cannot be read is left to the steps.
        """
        probes = {}
        for step, source, _ in work:
            if step.action != plan.FAIL and source.get('created_at'):
                probes.setdefault(step.region, source)

        def probe(region):
            source = probes[region]
            try:
                seen = regions[region].get(source['id'])
            except images.GlanceError:
                return None
            if not compare.same_glance(source, seen):
                return None
            return same_glance_message(region, source_region, source['id'])
        if not probes:
            return {}
        with concurrent.futures.ThreadPoolExecutor(
                min(8, len(probes))) as pool:
            found = dict(zip(probes, pool.map(probe, probes)))
        return {region: msg for region, msg in found.items() if msg}

    def carry_out(self, parsed_args, regions, source_region, work, sources,
                  rows=()):
        """Do work (or print it with --dry-run), wait if asked; the table.

        work: (step, source, fields) items; sources: {source id: source};
        rows: rows already decided, printed first. The reason of each
        failure is written to stderr too.
        """
        shared = self.same_glance(regions, work, source_region)
        work = [(dataclasses.replace(step, action=plan.FAIL, image_id=None,
                                     reason=shared[step.region]),
                 source, fields)
                if step.region in shared else (step, source, fields)
                for step, source, fields in work]
        work_runner = runner.Runner(
            regions, source_region, parsed_args.from_interface,
            parsed_args.max_parallel, parsed_args.max_per_region,
            owner=self.client().project_id,
            max_imports=parsed_args.max_imports_per_region,
            deadline=self.timeouts.deadline, timeout=parsed_args.timeout,
            topology=parsed_args.topology,
            max_from_source=parsed_args.max_from_source,
            max_from_relay=parsed_args.max_from_relay,
            patience=parsed_args.relay_patience,
            follow=parsed_args.wait and not parsed_args.dry_run,
            display=(display.Display(sys.stderr)
                     if parsed_args.wait and not parsed_args.dry_run
                     and self.app.options.verbose_level > 0 else None))
        if parsed_args.dry_run:
            origins = {}
            if parsed_args.topology == relay.TREE:
                origins = trees.planned_origins(
                    work, source_region, parsed_args.max_from_source,
                    parsed_args.max_from_relay)
            done = [report.planned_row(step, source, origins.get(index))
                    for index, (step, source, _) in enumerate(work)]
        else:
            try:
                done = work_runner.run(work)
            except KeyboardInterrupt:
                self.say(['Interrupted while the copies were being started: '
                          'what was started goes on in Glance. Run the same '
                          'command again to see it (it reuses what it '
                          'finds), with --wait to follow it.'])
                raise
        rows = list(rows) + done
        self.exit_status = plan.exit_code(row.outcome for row in rows)
        if parsed_args.wait and not parsed_args.dry_run:
            self.wait(work_runner, rows, sources)
        self.say(report.failure_lines(rows, parsed_args.dry_run))
        return report.COLUMNS, [row.values() for row in rows]

    def wait(self, work_runner, rows, sources):
        """Wait for the imports until the command's deadline (--timeout).

        Ctrl-C stops the wait only: it says what goes on where, and the
        command then exits 130 with the table of what was started.
        """
        shown = work_runner.display
        try:
            work_runner.wait(rows, sources, shown)
        except KeyboardInterrupt:
            self.say(report.interrupted_lines(rows))
            for row in rows:
                if row.waiting:
                    row.message = (f'Interrupted while importing: the '
                                   f'import goes on in Glance; {_REATTACH}.')
            self.exit_status = EXIT_INTERRUPTED
            return
        self.exit_status = plan.exit_code(row.outcome for row in rows)

    @staticmethod
    def say(lines):
        for line in lines:
            sys.stderr.write(line + '\n')
        sys.stderr.flush()

    def run(self, parsed_args):
        self.exit_status = plan.EXIT_OK
        self.timeouts = timing.Timeouts(
            parsed_args.connect_timeout, parsed_args.read_timeout,
            deadline=time.monotonic() + parsed_args.timeout,
            timeout=parsed_args.timeout)
        status = super().run(parsed_args)
        return status or self.exit_status
