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

"""What the steps of one import share.

Each step is named alike in Glance's flow, turns our failures into the
text the user sees, and reads the shared client from one Connection; the
two that stage data read the source's record once more when it is in.
"""

import contextlib
import logging

from taskflow import task

from glance_download.boundary import reporting
from glance_download import errors
from glance_download import metadata
from glance_download import options

LOG = logging.getLogger(__name__)

SOURCE = ('source_image_id', 'source_image', 'source_region',
          'source_digest')


@contextlib.contextmanager
def user_errors(task_id):
    """Turn our failures into the host exception whose text the user sees."""
    try:
        yield
    except errors.GlanceDownloadError as exc:
        LOG.warning('glance-download task %s failed: %s', task_id, exc)
        raise reporting.ImportFailed(str(exc)) from None


class Connection:
    """The HTTP client to the source region, shared by one flow's tasks.

    A client holds a session, sockets and a token: not something taskflow
    can store as a result, so the task that opens it leaves it here.
    """

    def __init__(self):
        self.client = None


def confirm_active(client, image_id, region):
    """Raise unless the source is still there and ``active``.

    Read again once the data is in: an image deactivated or deleted
    during the copy must not become an active copy.
    """
    try:
        image = client.get_image(image_id)
    except errors.RemoteImageError as exc:
        if exc.status == 404:
            raise metadata.deleted_error(image_id, region) from None
        raise
    metadata.check_still_active(image, image_id, region)


class Step(task.Task):
    """One of our tasks, named ``<type>-GlanceDownload<step>-<task id>``."""

    def __init__(self, step, task_id, task_type, conf, action_wrapper,
                 **kwargs):
        self.task_id = task_id
        self.conf = conf
        self.action_wrapper = action_wrapper
        super().__init__(
            name=f'{task_type}-GlanceDownload{step}-{task_id}',
            **kwargs)

    @property
    def settings(self):
        return self.conf[options.GROUP]
