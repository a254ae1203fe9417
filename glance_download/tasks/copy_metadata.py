#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""The second step: the source's formats and properties onto the target.

Which properties go over is metadata.py's to decide; this step adds or
withholds provenance, writes them, and keeps what they replaced so that
its revert puts it back.
"""

import logging

from taskflow.types import failure

from glance_download.boundary import image_metadata
from glance_download import metadata
from glance_download import options
from glance_download.tasks import base

LOG = logging.getLogger(__name__)


class CopyMetadata(base.Step):
    """Set formats and properties; its result is what they replaced."""

    def __init__(self, task_id, task_type, conf, action_wrapper):
        super().__init__('Metadata', task_id, task_type, conf,
                         action_wrapper)

    def wanted(self, source_image_id, source_image, source_region):
        props = metadata.properties_to_copy(
            source_image,
            self.conf[options.PROPERTIES_GROUP].extra_properties,
            metadata.Reserved(*image_metadata.reserved_names()))
        # A source that is itself a copy has provenance of its own, and
        # the region it was pulled from: the target's are the target's,
        # never inherited.
        for name in metadata.PROVENANCE_PROPERTIES + (
                metadata.PULLED_FROM_PROPERTY,):
            props.pop(name, None)
        # A source that says it is a copy is a relay: the target keeps the
        # provenance its creator recorded (the original), which the relay's
        # name would otherwise replace. Its claim is never written: at
        # most it withholds this record (doc/source/admin/security.rst).
        relayed = all(isinstance(source_image.get(name), str)
                      and source_image.get(name)
                      for name in (metadata.SOURCE_REGION_PROPERTY,
                                   metadata.SOURCE_IMAGE_PROPERTY))
        if self.settings.record_provenance and not relayed:
            props.update(metadata.provenance(source_region, source_image_id))
        return props

    def execute(self, source_image_id, source_image, source_region):
        with base.user_errors(self.task_id):
            props = self.wanted(source_image_id, source_image, source_region)
            saved = image_metadata.copy_metadata(
                self.action_wrapper, source_image['disk_format'],
                source_image['container_format'], props)
        LOG.info('Copied formats and %d properties from image %s in region '
                 '%s to image %s', len(props), source_image_id,
                 source_region, self.action_wrapper.image_id)
        return saved

    def revert(self, result, **kwargs):
        # Only what was saved is restored: a refused change left nothing.
        if result is None or isinstance(result, failure.Failure):
            return
        image_metadata.restore_metadata(self.action_wrapper, result)
