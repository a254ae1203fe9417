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

import concurrent.futures
import sys

from osc_lib import exceptions

from glance_download.client import base
from glance_download.client import images
from glance_download.client import plan
from glance_download.client import runner
from glance_download import metadata


def property_filter(text):
    key, equals, value = text.partition('=')
    if not equals or not key:
        raise ValueError(f'{text!r} is not KEY=VALUE')
    return key, value


def selection_filters(parsed_args):
    """Server-side filters of GET /v2/images for the selected sources."""
    filters = [('status', 'active')]
    if parsed_args.visibility:
        filters.append(('visibility', parsed_args.visibility))
    for tag in parsed_args.tags or ():
        filters.append(('tag', tag))
    for key, value in parsed_args.properties or ():
        filters.append((key, value))
    if parsed_args.project:
        filters.append(('owner', parsed_args.project))
    if parsed_args.name:
        filters.append(('name', parsed_args.name))
    return filters


class SyncImages(base.RegionsCommand):
    """Copy images of one region to others, and keep the copies in sync.

    The source images are those of the source region that match every
    filter given (--image instead names them). Each is compared with its
    copy in every target region, found by its provenance properties
    (glance_download_source_region and glance_download_source_image_id)
    among your project's images, and by os_hash_value. What is missing is
    copied, copies whose import failed before are imported again, and the
    managed metadata that drifted (name, tags, min_disk, min_ram and the
    properties whose names start with a --property-prefix) is set again.
    Copies whose source image is gone, among those that match the --tag,
    --property and --name filters, are reported, or with --orphans
    deactivated or deleted (deleting needs --confirm-delete).

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
            help='Every other region with an image service in the catalog')
        parser.add_argument(
            '--image', metavar='<image>', action='append', dest='images',
            help='A source image (name or ID; repeat for several) instead '
                 'of the filters')
        parser.add_argument(
            '--visibility',
            choices=plan.VISIBILITIES + ('all',),
            help='Select source images of this visibility')
        parser.add_argument(
            '--tag', metavar='<tag>', action='append', dest='tags',
            help='Select source images with this tag (repeatable: all)')
        parser.add_argument(
            '--property', metavar='<key=value>', action='append',
            dest='properties', type=property_filter,
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
                 "and community need the right to publicize)")
        parser.add_argument(
            '--property-prefix', metavar='<prefix>', action='append',
            dest='prefixes',
            help='Properties kept the same are those whose names start '
                 'with one of these prefixes (repeatable; default: '
                 f'{", ".join(metadata.DEFAULT_PREFIXES)})')
        parser.add_argument(
            '--orphans', choices=plan.ORPHAN_CHOICES, default='report',
            help='Copies whose source image is gone: report them '
                 '(default), deactivate them, or delete them')
        parser.add_argument(
            '--confirm-delete', action='store_true',
            help='Needed with --orphans delete')
        parser.epilog = base.EXIT_STATUSES
        return parser

    def target_regions(self, parsed_args, catalog, source_region):
        if parsed_args.to_all_regions:
            return [r for r in catalog if r != source_region]
        return parsed_args.to_regions

    def take_action(self, parsed_args):
        if parsed_args.orphans == 'delete' and not parsed_args.confirm_delete:
            raise exceptions.CommandError(
                '--orphans delete deletes images: add --confirm-delete to '
                'confirm, or run with --dry-run first to see which.')
        source_region, targets, regions = self.connect(parsed_args)
        source_glance = regions[source_region]
        prefixes = parsed_args.prefixes or metadata.DEFAULT_PREFIXES
        try:
            if parsed_args.images:
                selected = [source_glance.find(ref)
                            for ref in parsed_args.images]
            else:
                selected = source_glance.list(selection_filters(parsed_args))
        except images.GlanceError as e:
            raise exceptions.CommandError(str(e))
        rows, sources = [], []
        for source in selected:
            problem = plan.source_problem(source, source_region)
            if problem:
                rows.append(runner.Row(source_region, source['id'],
                                       action=plan.DONE[plan.FAIL],
                                       status=source.get('status'),
                                       message=problem, outcome='failed'))
            else:
                sources.append(source)
        copies, problems = self.region_copies(regions, targets,
                                              source_region)
        steps = []
        gone = {}
        for region in targets:
            problem = problems.get(region)
            candidates = []
            if problem is None and not parsed_args.images:
                candidates = plan.orphan_candidates(
                    copies[region], sources, parsed_args.tags or (),
                    parsed_args.properties or (), parsed_args.name)
                try:
                    self._find_gone(source_glance, candidates, gone)
                except images.GlanceError as e:
                    problem = str(e)
            if problem is not None:
                rows.append(runner.Row(region, '', action='failed',
                                       status='unchanged', message=problem,
                                       outcome='failed'))
                continue
            steps += plan.sync_steps(
                sources, copies[region], region, prefixes,
                [i for i in candidates if gone[i]], parsed_args.orphans)
        by_id = {s['id']: s for s in sources}
        by_id.update({i: {'id': i} for i in gone})
        work = [(step, by_id[step.source_id],
                 self._fields(by_id[step.source_id], source_region,
                              parsed_args, prefixes)
                 if step.action in plan.IMPORTS else None)
                for step in steps]
        self._say_if_nothing_to_do(rows, steps, sources, targets)
        return self.carry_out(parsed_args, regions, source_region, work,
                              by_id, rows)

    @staticmethod
    def _find_gone(glance, candidates, gone):
        """Record in gone whether each candidate source no longer exists."""
        todo = [i for i in candidates if i not in gone]
        if not todo:
            return
        with concurrent.futures.ThreadPoolExecutor(
                min(8, len(todo))) as pool:
            for image_id, found in zip(todo, pool.map(glance.get, todo)):
                gone[image_id] = found is None

    @staticmethod
    def _fields(source, source_region, parsed_args, prefixes):
        visibility = parsed_args.copy_visibility
        if visibility == 'same':
            visibility = source.get('visibility') or 'private'
        return plan.target_fields(
            source, source_region, visibility=visibility,
            same_id=parsed_args.same_id,
            properties=metadata.properties_to_copy(source, prefixes))

    @staticmethod
    def _say_if_nothing_to_do(rows, steps, sources, targets):
        if rows or any(s.action != plan.SKIP for s in steps):
            return
        sys.stderr.write(
            f'Nothing to do: {len(sources)} image(s) already in sync in '
            f'{len(targets)} region(s).\n')
