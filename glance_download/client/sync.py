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
from glance_download.client import image_fields
from glance_download.client import images
from glance_download.client import options
from glance_download.client import orphans
from glance_download.client import plan
from glance_download.client import report
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


def _has_filters(parsed_args):
    return bool(parsed_args.visibility or parsed_args.tags
                or parsed_args.properties or parsed_args.project
                or parsed_args.name)


def check_options(parsed_args, prefixes):
    """Raise CommandError for options that do not go together.

    Checked before anything is asked of a cloud, --dry-run or not.
    """
    filters = _has_filters(parsed_args)
    if parsed_args.all_images and (filters or parsed_args.images):
        raise exceptions.CommandError(
            '--all selects every image you can see in the source region: '
            'give it alone, or the filters or --image without it.')
    if not (filters or parsed_args.images or parsed_args.all_images):
        raise exceptions.CommandError(
            'Which images? Give filters (--tag, --property, --name, '
            '--visibility, --project) or --image; --all syncs every image '
            'you can see in the source region (as admin: every project\'s).')
    if parsed_args.images and parsed_args.orphans:
        raise exceptions.CommandError(
            '--orphans applies to a selection by filters: --image names '
            'images that exist, which have no orphans. Select with filters '
            '(--tag, --name, ...) to find the copies whose source is gone.')
    if parsed_args.excluded_regions and not parsed_args.to_all_regions:
        raise exceptions.CommandError(
            '--exclude-region goes with --to-all-regions; with --to-region, '
            'name only the regions you want.')
    unmatched = orphans.unmatched_properties(parsed_args.properties or (),
                                             prefixes)
    if unmatched and parsed_args.orphans in ('deactivate', 'delete'):
        raise exceptions.CommandError(
            _unmatched(unmatched) + f' --orphans {parsed_args.orphans} '
            'cannot find them: select with --tag, --name or a managed '
            'property instead.')
    if (parsed_args.orphans == 'delete' and not parsed_args.confirm_delete
            and not parsed_args.dry_run):
        raise exceptions.CommandError(
            '--orphans delete deletes images: add --confirm-delete to '
            'confirm, or run with --dry-run first to see which.')
    if parsed_args.max_delete < 0:
        raise exceptions.CommandError(
            f'--max-delete {parsed_args.max_delete}: give a count, 0 or '
            'more.')


def _unmatched(keys):
    names = ', '.join(keys)
    return (f'Copies do not carry the propert(ies) {names} (no '
            '--property-prefix covers them), so they cannot tell which '
            'copies came from the images selected: orphans are not looked '
            'for.')


def pick_targets(catalog, source_region, excluded):
    """--to-all-regions: every region of catalog but the source and excluded.

    An excluded region that is not in the catalog is an error: a misspelt
    name would otherwise exclude nothing.
    """
    unknown = sorted(set(excluded) - set(catalog))
    if unknown:
        raise exceptions.CommandError(
            f'--exclude-region {", ".join(unknown)}: no such region with an '
            f'image service in your catalog (regions: {", ".join(catalog)}).')
    targets = [r for r in catalog if r != source_region and r not in excluded]
    if not targets:
        raise exceptions.CommandError(
            'No target region: every region but the source is excluded.')
    return targets


def is_copy(image):
    """Whether image is a copy made from another region (its provenance)."""
    return bool(image.get(metadata.SOURCE_IMAGE_PROPERTY)
                or image.get(metadata.SOURCE_REGION_PROPERTY))


def unique(images):
    """images without repeats, in order: one source named twice is one."""
    seen = set()
    found = []
    for image in images:
        if image['id'] not in seen:
            seen.add(image['id'])
            found.append(image)
    return found


def split_sources(selected, region, include_copies=False, named=False):
    """(sources, failed rows, how many copies were left out) of selected.

    An image that is a copy itself is no source unless include_copies:
    left out of a selection by filters, a failed row when named.
    """
    sources, rows, left_out = [], [], 0
    for source in selected:
        problem = plan.source_problem(source, region)
        if problem is None and is_copy(source) and not include_copies:
            if not named:
                left_out += 1
                continue
            problem = (
                f"Image {source['id']} is itself a copy of image "
                f'{source.get(metadata.SOURCE_IMAGE_PROPERTY)} from region '
                f'{source.get(metadata.SOURCE_REGION_PROPERTY)}: syncing it '
                'would send it back there. Give --include-copies to sync it '
                'anyway.')
        if problem:
            rows.append(report.Row(region, source['id'],
                                   action=plan.DONE[plan.FAIL],
                                   status=source.get('status'),
                                   message=problem, outcome='failed'))
        else:
            sources.append(source)
    return sources, rows, left_out


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
            '--max-delete', metavar='<count>', type=int,
            default=orphans.MAX_DELETE,
            help='Delete or deactivate at most this many copies in a run; '
                 'beyond, none is (default: '
                 f'{orphans.MAX_DELETE})')
        parser.epilog = options.EXIT_STATUSES
        return parser

    def target_regions(self, parsed_args, catalog, source_region):
        if parsed_args.to_all_regions:
            return pick_targets(catalog, source_region,
                                parsed_args.excluded_regions)
        return parsed_args.to_regions

    def check_methods(self, regions, targets):
        """{region: message} of the targets that cannot be synced.

        With --to-all-regions, a region without the method is skipped
        (self.skipped) rather than failed.
        """
        problems = super().check_methods(regions, targets)
        if not self.picked:
            return problems
        for region in sorted(problems):
            try:
                methods = regions[region].import_methods()
            except images.GlanceError:
                continue
            if plan.method_problem(region, methods):
                self.skipped[region] = (
                    f'Glance in region {region} does not offer the '
                    f'{plan.METHOD} import method: skipped. Give '
                    f'--exclude-region {region} to leave it out.')
                del problems[region]
        return problems

    def take_action(self, parsed_args):
        prefixes = parsed_args.prefixes or metadata.DEFAULT_PREFIXES
        check_options(parsed_args, prefixes)
        self.picked = parsed_args.to_all_regions
        self.skipped = {}
        source_region, targets, regions = self.connect(parsed_args)
        source_glance = regions[source_region]
        try:
            if parsed_args.images:
                selected = [source_glance.find(ref)
                            for ref in parsed_args.images]
            else:
                selected = source_glance.list(selection_filters(parsed_args))
        except images.GlanceError as e:
            raise exceptions.CommandError(str(e))
        selected = unique(selected)
        sources, rows, left_out = split_sources(
            selected, source_region, parsed_args.include_copies,
            named=bool(parsed_args.images))
        if left_out:
            sys.stderr.write(
                f'{left_out} image(s) left out: they are copies made from '
                'another region (give --include-copies to sync them too).\n')
        copies, problems = self.region_copies(regions, targets,
                                              source_region)
        for region in targets:
            if region in self.skipped:
                rows.append(report.Row(region, '', action=plan.DONE[plan.SKIP],
                                       status='unchanged',
                                       message=self.skipped[region]))
        looking = self._looks_for_orphans(parsed_args, prefixes)
        known = {s['id'] for s in selected}
        steps, orphan_steps = [], []
        found = {}
        for region in targets:
            if region in self.skipped:
                continue
            problem = problems.get(region)
            candidates = []
            if problem is None and looking:
                candidates = orphans.orphan_candidates(
                    copies[region], known, parsed_args.tags or (),
                    parsed_args.properties or (), parsed_args.name,
                    parsed_args.project, parsed_args.visibility)
                try:
                    self._look_up(source_glance, candidates, found)
                except images.GlanceError as e:
                    problem = str(e)
            if problem is not None:
                rows.append(report.Row(region, '', action='failed',
                                       status='unchanged', message=problem,
                                       outcome='failed'))
                continue
            steps += plan.sync_steps(sources, copies[region], region,
                                     prefixes)
            orphan_steps += self._orphan_steps(
                region, copies[region], set(candidates), found,
                parsed_args.orphans or 'report')
        orphan_steps, refusal = orphans.guard(orphan_steps,
                                              parsed_args.max_delete)
        if refusal:
            sys.stderr.write(refusal + '\n')
        steps += orphan_steps
        by_id = {s['id']: s for s in sources}
        by_id.update({i: {'id': i} for i in found})
        work = [(step, by_id[step.source_id],
                 self._fields(by_id[step.source_id], source_region,
                              parsed_args, prefixes)
                 if step.action in plan.IMPORTS else None)
                for step in steps]
        self._say_if_nothing_to_do(
            rows, steps, sources,
            [r for r in targets if r not in self.skipped])
        return self.carry_out(parsed_args, regions, source_region, work,
                              by_id, rows)

    @staticmethod
    def _looks_for_orphans(parsed_args, prefixes):
        """Whether this run looks for orphans; says why not if it cannot."""
        if parsed_args.images:
            return False
        unmatched = orphans.unmatched_properties(
            parsed_args.properties or (), prefixes)
        if unmatched:
            sys.stderr.write(_unmatched(unmatched) + '\n')
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
    def _say_if_nothing_to_do(rows, steps, sources, targets):
        """Say so when every step is a skip and nothing failed."""
        if any(r.outcome != 'ok' for r in rows) or any(
                s.action != plan.SKIP for s in steps):
            return
        sys.stderr.write(
            f'Nothing to do: {len(sources)} image(s) already in sync in '
            f'{len(targets)} region(s).\n')
