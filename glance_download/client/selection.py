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

"""What image sync acts on: the source images its options select.

The filters become the server-side filters of the source region's
listing; options that do not go together are refused before anything is
asked of a cloud; an image that is itself a copy is no source unless
--include-copies; --to-all-regions picks the target regions.
"""

from osc_lib import exceptions

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
            f'{unmatched_message(unmatched)} --orphans '
            f'{parsed_args.orphans} cannot find them: select with --tag, '
            '--name or a managed property instead.')
    if (parsed_args.orphans == 'delete' and not parsed_args.confirm_delete
            and not parsed_args.dry_run):
        raise exceptions.CommandError(
            '--orphans delete deletes images: add --confirm-delete to '
            'confirm, or run with --dry-run first to see which.')


def unmatched_message(keys):
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
