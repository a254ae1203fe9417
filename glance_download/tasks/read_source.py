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

"""The first step: find the remote Glance and read the source's record.

It opens the client the other steps use, and, as the first of our tasks,
its revert is the one that runs whatever failed later.
"""

from glance_download.boundary import filtering
from glance_download.boundary import formats
from glance_download.boundary import image_metadata
from glance_download import endpoint
from glance_download import errors
from glance_download import metadata
from glance_download import options
from glance_download import remote
from glance_download import retry
from glance_download import sessions
from glance_download.tasks import base
from glance_download import verify


def connect(conf, context, region, interface):
    """The client to the Glance of ``region``, and the region's own name."""
    found = endpoint.resolve(context.service_catalog, region, interface)
    settings = conf[options.GROUP]
    client = remote.RemoteGlance(
        session=sessions.make_session(conf, context.auth_token),
        endpoint=found,
        policy=retry.RetryPolicy.from_conf(conf),
        timeouts=(settings.connect_timeout, settings.read_timeout),
        max_redirects=settings.max_redirects,
        url_allowed=filtering.validated_address,
        max_record_size=settings.max_record_size)
    # The resolved name, as the catalog spells it, is what we report.
    return client, found.region


class ReadSourceImage(base.Step):
    """Resolve the endpoint and read the source; revert marks the failure.

    Provides the source's id, record, resolved region and digest.  As the
    first of our tasks its revert runs whatever failed later, so it is
    where the image returns to ``queued`` and its importing stores become
    failed stores, as Glance's own import steps expect.
    """

    default_provides = base.SOURCE

    def __init__(self, task_id, task_type, conf, action_wrapper, context,
                 method, connection, stores):
        self.context = context
        self.method = method
        self.connection = connection
        self.stores = stores
        super().__init__('Read', task_id, task_type, conf, action_wrapper)

    def execute(self):
        image_id = self.method.get('glance_image_id')
        with base.user_errors(self.task_id):
            if not isinstance(image_id, str) or not image_id:
                raise errors.InvalidRequest(
                    'glance_image_id must name the source image.')
            client, region = connect(
                self.conf, self.context, self.method.get('glance_region'),
                self.method.get('glance_service_interface'))
            self.connection.client = client
            image = client.get_image(image_id)
            metadata.check_importable(image, image_id, region)
            metadata.check_formats(image, image_id, region,
                                   *formats.image_formats())
            digest = verify.expected_digest(image)
        return image_id, image, region, digest

    def revert(self, result, **kwargs):
        image_metadata.mark_failed(self.action_wrapper, self.stores)
