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
import functools
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
# Regions checked at the same time before their steps.
MAX_CHECKS = 8
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

    def method_refused(self, region, methods):
        """Why region, offering methods, cannot be a target, or None."""
        return plan.method_problem(region, methods)

    def surveys(self, regions, targets, source_region, probe=None,
                source_id=None):
        """{region: future of its (copies, problem)}, each on its own.

        A region's checks run one after the other: the import methods its
        Glance offers, its copies of source_region's images (of source_id
        only, if given), and whether it is the source's own Glance, read
        for probe, a source image. The regions run side by side, and each
        future resolves once its own region's checks end: a region that
        never answers holds back no other. A region that failed a check
        has its reason as problem, and no copies.
        """
        owner = self.client().project_id
        pool = concurrent.futures.ThreadPoolExecutor(
            max(1, min(MAX_CHECKS, len(targets))))
        self.pools.append(pool)

        def surveyed(region):
            glance = regions[region]
            problem = method_problem(glance, self.method_refused)
            if problem is not None:
                return None, problem
            try:
                copies = glance.copies(owner, source_region, source_id)
            except images.GlanceError as e:
                return None, str(e)
            if probe is not None:
                problem = same_glance_problem(glance, probe, source_region)
            return (None, problem) if problem else (copies, None)
        return {region: pool.submit(surveyed, region) for region in targets}

    def later_steps(self, regions, targets, source_region, source, fields,
                    decide):
        """[runner.Later] of targets, each decided by its own checks.

        decide(region, copies) is the step of a region that passed them
        (surveys); the steps of the others start as soon as their own
        checks are done, not after those of a region that never answers.
        """
        found = self.surveys(regions, targets, source_region, source,
                             source['id'])

        def decided(region, survey):
            copies, problem = survey
            step = (plan.Step(region, plan.FAIL, source['id'], reason=problem)
                    if problem is not None else decide(region, copies))
            return step, source, fields
        return [runner.Later(region, source, runner.then(
            found[region], functools.partial(decided, region)))
            for region in targets]

    def carry_out(self, parsed_args, regions, source_region, work, sources,
                  rows=(), later=None, shown=None):
        """Do work (or print it with --dry-run), wait if asked; the table.

        work: (step, source, fields) items; sources: {source id: source};
        rows: rows already decided, printed first. later(): more work,
        decided once the first work's steps all are; shown(rows): the
        table's rows of those of the work done. The reason of each failure
        is written to stderr too.
        """
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
        done = self._done(parsed_args, work_runner, work, source_region)
        more = later() if later else []
        if more:
            done += self._done(parsed_args, work_runner, more, source_region)
        if shown:
            done = shown(done)
        rows = list(rows) + done
        self.exit_status = plan.exit_code(row.outcome for row in rows)
        if parsed_args.wait and not parsed_args.dry_run:
            self.wait(work_runner, rows, sources)
        self.say(report.failure_lines(rows, parsed_args.dry_run))
        return report.COLUMNS, [row.values() for row in rows]

    def _done(self, parsed_args, work_runner, work, source_region):
        """Rows of work: done, or with --dry-run as it would be."""
        if not parsed_args.dry_run:
            try:
                return work_runner.run(work)
            except KeyboardInterrupt:
                self.say(['Interrupted while the copies were being started: '
                          'what was started goes on in Glance. Run the same '
                          'command again to see it (it reuses what it '
                          'finds), with --wait to follow it.'])
                raise
        work = [item.future.result() if isinstance(item, runner.Later)
                else item for item in work]
        origins = {}
        if parsed_args.topology == relay.TREE:
            origins = trees.planned_origins(
                work, source_region, parsed_args.max_from_source,
                parsed_args.max_from_relay)
        return [report.planned_row(step, source, origins.get(index))
                for index, (step, source, _) in enumerate(work)]

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
        self.pools = []
        self.timeouts = timing.Timeouts(
            parsed_args.connect_timeout, parsed_args.read_timeout,
            deadline=time.monotonic() + parsed_args.timeout,
            timeout=parsed_args.timeout)
        try:
            status = super().run(parsed_args)
        finally:
            for pool in self.pools:
                pool.shutdown(wait=False, cancel_futures=True)
        return status or self.exit_status


def method_problem(glance, refused=plan.method_problem):
    """Why glance's region cannot be a target; None if it can.

    refused(region, methods) judges the methods it offers.
    """
    try:
        return refused(glance.region, glance.import_methods())
    except images.GlanceError as e:
        return str(e)


def same_glance_problem(glance, source, source_region):
    """The message when glance is the source's own Glance, else None.

    The very same record there means that a "copy" would be made beside
    the source. A region that cannot be read is left to the steps.
    """
    if not source.get('created_at'):
        return None
    try:
        seen = glance.get(source['id'])
    except images.GlanceError:
        return None
    if not compare.same_glance(source, seen):
        return None
    return same_glance_message(glance.region, source_region, source['id'])
