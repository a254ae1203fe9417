"""``openstack image copy``: one image to several regions in one command."""

import uuid

from osc_lib import exceptions

from glance_download.client import base
from glance_download.client import images
from glance_download.client import plan
from glance_download.client import runner


def find_source(glance, ref):
    """The source image by id or by name, as this user sees it."""
    if _is_uuid(ref):
        image = glance.get(ref)
        if image is not None:
            return image
    found = glance.list([('name', ref)])
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise exceptions.CommandError(
            'Several images are named %s in region %s (%s): give an id.' % (
                ref, glance.region, ', '.join(i['id'] for i in found)))
    raise exceptions.CommandError(
        'No image %s in region %s that you can see. Check the name or id '
        'and --from-region.' % (ref, glance.region))


def _is_uuid(text):
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


class CopyImage(base.RegionsCommand):
    """Copy an image to other regions with the glance-download method.

    For each target region, in parallel: an existing copy (an image of your
    project whose glance_download_source_region and
    glance_download_source_image_id name the source) is reused: skipped
    when it is active with the same data, waited for when an import into
    it is in progress, imported into again when an earlier import failed.
    Otherwise a copy is created, private unless --visibility says
    otherwise, with the source's name, formats, min_disk, min_ram, tags and
    the two provenance properties, and Glance in the target region imports
    the data from the source region with your token and verifies it.

    A region whose Glance does not offer glance-download gets a message
    and nothing is created there. A copy created by this command whose
    import request is refused is deleted again; a copy whose import failed
    later stays queued, and the next run imports into it again.

    Without --wait the command returns once every import is accepted;
    running it again with --wait waits for the imports still in progress.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            'image', metavar='<image>',
            help='Source image (name or ID) in the source region')
        parser.add_argument(
            '--to-region', metavar='<region>', action='append',
            required=True, dest='to_regions',
            help='Target region (repeat for several)')
        parser.add_argument(
            '--name', metavar='<name>',
            help="Name of the copies (default: the source image's)")
        parser.add_argument(
            '--same-id', action='store_true',
            help="Give the copies the source image's id (fails in a region "
                 "where that id exists or ever existed)")
        parser.add_argument(
            '--visibility', choices=plan.VISIBILITIES, default='private',
            help='Visibility of new copies (default: private; public and '
                 'community need the right to publicize)')
        parser.add_argument(
            '--existing', choices=plan.EXISTING_CHOICES, default='skip',
            help='When a region has a copy already: skip (default: reuse '
                 'it), fail, or replace (delete it and copy again)')
        parser.epilog = base.EXIT_STATUSES
        return parser

    def take_action(self, parsed_args):
        client = self.client()
        catalog = client.regions()
        source_region = self.source_region(parsed_args, catalog)
        targets = parsed_args.to_regions
        try:
            plan.check_regions(source_region, targets, catalog)
        except plan.PlanError as e:
            raise exceptions.CommandError(str(e))
        regions = {name: client.images(name)
                   for name in [source_region] + targets}
        try:
            source = find_source(regions[source_region], parsed_args.image)
        except images.GlanceError as e:
            raise exceptions.CommandError(str(e))
        problem = plan.source_problem(source, source_region)
        if problem:
            raise exceptions.CommandError(problem)
        if parsed_args.existing == 'replace' and parsed_args.same_id:
            raise exceptions.CommandError(
                '--existing replace cannot be combined with --same-id: a '
                'deleted image\'s id is never given again.')
        refused = self.check_methods(regions, targets)
        owner = client.project_id
        fields = plan.target_fields(
            source, source_region, name=parsed_args.name,
            visibility=parsed_args.visibility, same_id=parsed_args.same_id)
        steps = []
        for region in targets:
            if region in refused:
                steps.append(plan.Step(region, plan.FAIL, source['id'],
                                       reason=refused[region]))
                continue
            try:
                copies = regions[region].copies(owner, source_region,
                                                source['id'])
            except images.GlanceError as e:
                steps.append(plan.Step(region, plan.FAIL, source['id'],
                                       reason=str(e)))
                continue
            steps.append(plan.copy_step(region, source, copies,
                                        parsed_args.existing))
        work_runner = runner.Runner(
            regions, source_region, parsed_args.from_interface,
            parsed_args.max_parallel, parsed_args.max_per_region)
        if parsed_args.dry_run:
            rows = [runner.planned_row(step, source) for step in steps]
        else:
            rows = work_runner.run([(step, source, fields)
                                    for step in steps])
        return self.finish(parsed_args, work_runner, rows,
                           {source['id']: source})
