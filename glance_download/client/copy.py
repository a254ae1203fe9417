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

"""``openstack image copy``: one image to several regions in one command."""

from osc_lib import exceptions

from glance_download.client import base
from glance_download.client import image_fields
from glance_download.client import images
from glance_download.client import options
from glance_download.client import plan


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

    Runs at the same time never make two copies: a new copy's id is derived
    from the source, your project and the region, the same in every run, so
    Glance accepts it once and the other runs use that copy. A run deletes
    only an image it created, or whose import it started and saw fail.
    Hidden images (os_hidden) are found as sources and as copies.

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
            '--visibility', choices=plan.VISIBILITIES, default='private',
            help='Visibility of new copies (default: private; public needs '
                 'the right to publicize images, which Glance\'s default '
                 'policy gives to admins only)')
        parser.add_argument(
            '--existing', choices=plan.EXISTING_CHOICES, default='skip',
            help='When a region has a copy already: skip (default: reuse '
                 'it), fail, or replace (copy again; the earlier copies are '
                 'deleted once the new one is active and verified)')
        parser.epilog = options.EXIT_STATUSES
        return parser

    def take_action(self, parsed_args):
        source_region, targets, regions = self.connect(parsed_args)
        try:
            source = regions[source_region].find(parsed_args.image)
        except images.GlanceError as e:
            raise exceptions.CommandError(str(e))
        problem = plan.source_problem(source, source_region)
        if problem:
            raise exceptions.CommandError(problem)
        if parsed_args.existing == 'replace' and parsed_args.same_id:
            raise exceptions.CommandError(
                '--existing replace cannot be combined with --same-id: a '
                'deleted image\'s id is never given again.')
        fields = image_fields.target_fields(
            source, source_region, name=parsed_args.name,
            visibility=parsed_args.visibility, same_id=parsed_args.same_id)
        work = self.later_steps(
            regions, targets, source_region, source, fields,
            lambda region, copies: plan.copy_step(
                region, source, copies, parsed_args.existing))
        return self.carry_out(parsed_args, regions, source_region, work,
                              {source['id']: source})
