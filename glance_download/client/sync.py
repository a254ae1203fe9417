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

"""``openstack image sync``: keep images of one region copied to others."""

import argparse
import concurrent.futures
import dataclasses
import functools
import sys

from osc_lib import exceptions

from glance_download.client import base
from glance_download.client import image_fields
from glance_download.client import images
from glance_download.client import options
from glance_download.client import orphans
from glance_download.client import plan
from glance_download.client import report
from glance_download.client import runner
from glance_download.client import selection
from glance_download import metadata


@dataclasses.dataclass
class _Run:
    """One sync's inputs, and the work its regions' checks decide."""

    parsed_args: argparse.Namespace
    prefixes: list
    source_glance: images.RegionImages
    # Ids of the selected sources, which exist.
    known: set
    sources: list
    # The rows decided before any work: sources that cannot be synced.
    rows: list
    # {target region: future of its (copies, problem)}, by surveys().
    surveyed: dict
    work: list = dataclasses.field(default_factory=list)
    by_id: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        self.by_id.update({s['id']: s for s in self.sources})

    def surveys(self):
        """{region: (copies, problem)}; once every region's checks ended."""
        return {region: future.result()
                for region, future in self.surveyed.items()}

    def problems(self, skipped):
        """{region: why nothing can be done there}, skipped ones apart."""
        return {region: problem
                for region, (_, problem) in self.surveys().items()
                if problem is not None and region not in skipped}


class SyncImages(base.RegionsCommand):
    """Copy images of one region to others, and keep the copies in sync.

    The source images are those of the source region that match every
    filter given (--image instead names them; --all takes every image
    you can see). Copies made from another region are left out unless
    --include-copies. Each is compared with its copy in every target
    region, found by its provenance properties
    (glance_download_source_region and glance_download_source_image_id)
    among your project's images, and by os_hash_value. What is missing is
    copied, copies whose import failed before are imported again, and the
    managed metadata that drifted (name, tags, min_disk, min_ram and the
    properties whose names start with a --property-prefix) is set again.

    Copies whose source image is gone, among those that match the
    filters, are reported, or with --orphans deactivated or deleted
    (deleting needs --confirm-delete; at most --max-delete in a run). A
    source your project no longer sees may still exist: such a copy is
    only reported as "source not visible", unless the source was your
    project's own image, or you are an admin.

    A second run right after a successful one changes nothing and says so.
    Run it as admin to keep public images the same in every region.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        targets = parser.add_mutually_exclusive_group(required=True)
        targets.add_argument(
            '--to-region', metavar='<region>', action='append',
            dest='to_regions', help='Target region (repeat for several)')
        targets.add_argument(
            '--to-all-regions', action='store_true',
            help='Every other region with an image service in the catalog; '
                 'those without the glance-download method are skipped')
        parser.add_argument(
            '--exclude-region', metavar='<region>', action='append',
            dest='excluded_regions', default=[],
            help='With --to-all-regions, leave this region out (repeatable)')
        parser.add_argument(
            '--image', metavar='<image>', action='append', dest='images',
            help='A source image (name or ID; repeat for several) instead '
                 'of the filters')
        parser.add_argument(
            '--all', action='store_true', dest='all_images',
            help='Every image you can see in the source region (as admin: '
                 "other projects' too); needed when no filter or --image "
                 'is given')
        parser.add_argument(
            '--include-copies', action='store_true',
            help='Sync images that are themselves copies from another '
                 'region too (left out by default: they would be sent back '
                 'to their origin)')
        parser.add_argument(
            '--visibility',
            choices=plan.VISIBILITIES + ('all',),
            help='Select source images of this visibility')
        parser.add_argument(
            '--tag', metavar='<tag>', action='append', dest='tags',
            help='Select source images with this tag (repeatable: all)')
        parser.add_argument(
            '--property', metavar='<key=value>', action='append',
            dest='properties', type=selection.property_filter,
            help='Select source images with this property (repeatable)')
        parser.add_argument(
            '--project', metavar='<project-id>',
            help='Select source images owned by this project')
        parser.add_argument(
            '--name', metavar='<name>',
            help='Select source images of this name')
        parser.add_argument(
            '--copy-visibility', choices=('same',) + plan.VISIBILITIES,
            default='same',
            help="Visibility of new copies (default: the source's; public "
                 "needs the right to publicize images, which Glance's "
                 "default policy gives to admins only)")
        parser.add_argument(
            '--property-prefix', metavar='<prefix>', action='append',
            dest='prefixes',
            help='Properties kept the same are those whose names start '
                 'with one of these prefixes (repeatable; default: '
                 f'{", ".join(metadata.DEFAULT_PREFIXES)})')
        parser.add_argument(
            '--orphans', choices=plan.ORPHAN_CHOICES,
            help='Copies whose source image is gone: report them '
                 '(default), deactivate them, or delete them; not with '
                 '--image')
        parser.add_argument(
            '--confirm-delete', action='store_true',
            help='Needed with --orphans delete (not with --dry-run)')
        parser.add_argument(
            '--max-delete', metavar='<count>', type=options.count,
            default=orphans.MAX_DELETE,
            help='Delete or deactivate at most this many copies in a run; '
                 'beyond, none is (default: '
                 f'{orphans.MAX_DELETE})')
        parser.epilog = options.EXIT_STATUSES
        return parser

    def target_regions(self, parsed_args, catalog, source_region):
        if parsed_args.to_all_regions:
            return selection.pick_targets(catalog, source_region,
                                          parsed_args.excluded_regions)
        return parsed_args.to_regions

    def method_refused(self, region, methods):
        """Why region cannot be synced to; None if it can.

        With --to-all-regions, a region without the method is skipped
        (self.skipped) rather than failed.
        """
        problem = super().method_refused(region, methods)
        if problem and self.picked:
            self.skipped[region] = (
                f'Glance in region {region} does not offer the '
                f'{plan.METHOD} import method: skipped. Give '
                f'--exclude-region {region} to leave it out.')
        return problem

    def take_action(self, parsed_args):
        prefixes = parsed_args.prefixes or metadata.DEFAULT_PREFIXES
        selection.check_options(parsed_args, prefixes)
        self.picked = parsed_args.to_all_regions
        self.skipped = {}
        source_region, targets, regions = self.connect(parsed_args)
        selected = self._select(parsed_args, regions[source_region])
        sources, rows = self._sources(parsed_args, selected, source_region)
        run = _Run(parsed_args, prefixes, regions[source_region],
                   {s['id'] for s in selected}, sources, rows,
                   self.surveys(regions, targets, source_region,
                                sources[0] if sources else None))
        # Each region's steps start once its own checks are done; its
        # orphans, guarded over all regions, once every region's are.
        run.work = [runner.Later(region, source, runner.then(
            run.surveyed[region], functools.partial(
                self._item, region, source, source_region, parsed_args,
                prefixes)))
            for region in targets for source in sources]
        return self.carry_out(
            parsed_args, regions, source_region, run.work, run.by_id, rows,
            later=functools.partial(self._orphan_work, run),
            shown=functools.partial(self._region_rows, run))

    def _item(self, region, source, source_region, parsed_args, prefixes,
              survey):
        """The work item of source in region, once region was surveyed."""
        copies, problem = survey
        if problem is not None:
            # Shown once for the region (_region_rows).
            step = plan.Step(region, plan.FAIL, source['id'], reason=problem)
        else:
            step = plan.sync_steps([source], copies, region, prefixes)[0]
        return step, source, (
            self._fields(source, source_region, parsed_args, prefixes)
            if step.action in plan.IMPORTS else None)

    def _orphan_work(self, run):
        """The orphan steps of every region, then its lookups that failed.

        Also says when there is nothing to do: every region's steps are
        known by now.
        """
        parsed_args = run.parsed_args
        problems = run.problems(self.skipped)
        copies = {region: found for region, (found, problem)
                  in run.surveys().items() if problem is None}
        targets = [r for r in run.surveyed if r not in self.skipped]
        candidates, found, failed = self._orphan_candidates(
            parsed_args, run.prefixes, run.source_glance, run.known, copies,
            problems, targets)
        run.by_id.update({i: {'id': i} for i in found})
        steps = self._orphan_steps_of(
            parsed_args, copies, [r for r in targets if r not in problems
                                  and r not in failed], candidates, found)
        decided = [item.future.result()[0] for item in run.work
                   if item.region not in self.skipped]
        self._say_if_nothing_to_do(
            bool(problems or failed) or any(r.outcome != 'ok'
                                            for r in run.rows),
            decided + steps, run.sources, targets)
        nobody = {'id': ''}
        return [(step, run.by_id[step.source_id], None) for step in steps] + [
            (plan.Step(region, plan.FAIL, '', reason=failed[region]),
             nobody, None) for region in targets if region in failed]

    def _region_rows(self, run, rows):
        """One row for a region skipped or failed, not one per source."""
        problems = run.problems(self.skipped)
        shown, kept = set(), []
        for row in rows:
            region = row.region
            if region in self.skipped or (region in problems
                                          and row.source_id):
                if region not in shown:
                    shown.add(region)
                    kept += (self._skipped_rows([region])
                             if region in self.skipped
                             else self._failed_rows([region], problems))
                continue
            kept.append(row)
        return kept

    @staticmethod
    def _select(parsed_args, glance):
        """The source images: those --image names, or the filters match."""
        try:
            if parsed_args.images:
                selected = [glance.find(ref) for ref in parsed_args.images]
            else:
                selected = glance.list(
                    selection.selection_filters(parsed_args))
        except images.GlanceError as e:
            raise exceptions.CommandError(str(e))
        return selection.unique(selected)

    @staticmethod
    def _sources(parsed_args, selected, source_region):
        """(sources, failed rows) of selected; says how many were left out."""
        sources, rows, left_out = selection.split_sources(
            selected, source_region, parsed_args.include_copies,
            named=bool(parsed_args.images))
        if left_out:
            sys.stderr.write(
                f'{left_out} image(s) left out: they are copies made from '
                'another region (give --include-copies to sync them too).\n')
        return sources, rows

    def _skipped_rows(self, targets):
        """A row for each target skipped by --to-all-regions."""
        return [report.Row(region, '', action=plan.DONE[plan.SKIP],
                           status='unchanged', message=self.skipped[region])
                for region in targets if region in self.skipped]

    @staticmethod
    def _failed_rows(targets, problems):
        """A row for each target where nothing can be done, and why."""
        return [report.Row(region, '', action='failed', status='unchanged',
                           message=problems[region], outcome='failed')
                for region in targets if region in problems]

    def _orphan_candidates(self, parsed_args, prefixes, glance, known,
                           copies, problems, targets):
        """({region: source ids its orphans may have}, found, failed).

        found: {source id: whether the caller sees it}, looked up in the
        source region; failed: {region: why its lookup failed}. known: ids
        of the selected sources, which exist.
        """
        candidates, found, failed = {}, {}, {}
        if not self._looks_for_orphans(parsed_args, prefixes):
            return candidates, found, failed
        for region in targets:
            if region in problems:
                continue
            candidates[region] = orphans.orphan_candidates(
                copies[region], known, parsed_args.tags or (),
                parsed_args.properties or (), parsed_args.name,
                parsed_args.project, parsed_args.visibility)
            try:
                self._look_up(glance, candidates[region], found)
            except images.GlanceError as e:
                failed[region] = str(e)
        return candidates, found, failed

    def _orphan_steps_of(self, parsed_args, copies, regions, candidates,
                         found):
        """The orphan steps of regions, guarded by --max-delete."""
        steps = []
        for region in regions:
            steps += self._orphan_steps(
                region, copies[region], set(candidates.get(region, ())),
                found, parsed_args.orphans or 'report')
        steps, refusal = orphans.guard(steps, parsed_args.max_delete)
        if refusal:
            sys.stderr.write(refusal + '\n')
        return steps

    @staticmethod
    def _looks_for_orphans(parsed_args, prefixes):
        """Whether this run looks for orphans; says why not if it cannot."""
        if parsed_args.images:
            return False
        unmatched = orphans.unmatched_properties(
            parsed_args.properties or (), prefixes)
        if unmatched:
            sys.stderr.write(selection.unmatched_message(unmatched) + '\n')
            return False
        return True

    def _orphan_steps(self, region, copies, candidates, found, policy):
        """The orphan steps of region: candidates are source ids."""
        project_id = self.client().project_id
        admin = bool(candidates) and self._is_admin()
        states = {c['id']: orphans.source_state(
            c, found[c.get(metadata.SOURCE_IMAGE_PROPERTY)], project_id,
            admin)
            for c in copies
            if c.get(metadata.SOURCE_IMAGE_PROPERTY) in candidates}
        return orphans.orphan_steps(
            region, [c for c in copies if c['id'] in states], states, policy)

    def _is_admin(self):
        """Whether the caller's token has the admin role.

        An admin sees every image: a 404 then means deleted.
        """
        session = self.client().session
        return 'admin' in (session.auth.get_access(session).role_names or ())

    @staticmethod
    def _look_up(glance, candidates, found):
        """Record in found whether the caller sees each candidate source."""
        todo = [i for i in candidates if i not in found]
        if not todo:
            return
        with concurrent.futures.ThreadPoolExecutor(
                min(8, len(todo))) as pool:
            for image_id, image in zip(todo, pool.map(glance.get, todo)):
                found[image_id] = image is not None

    @staticmethod
    def _fields(source, source_region, parsed_args, prefixes):
        visibility = parsed_args.copy_visibility
        if visibility == 'same':
            visibility = source.get('visibility') or 'private'
        return image_fields.target_fields(
            source, source_region, visibility=visibility,
            same_id=parsed_args.same_id,
            properties=metadata.properties_to_copy(source, prefixes))

    @staticmethod
    def _say_if_nothing_to_do(failed, steps, sources, targets):
        """Say so when every step is a skip and nothing failed."""
        if failed or any(s.action != plan.SKIP for s in steps):
            return
        sys.stderr.write(
            f'Nothing to do: {len(sources)} image(s) already in sync in '
            f'{len(targets)} region(s).\n')
