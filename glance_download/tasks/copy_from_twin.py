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

"""The third step: stage the data from a copy already in this region.

What makes an image a twin, and copying it, are twin.py's; this step
looks for twins with the caller's context, tries them in turn, and leaves
the download to the next step whenever none serves.
"""

import logging
import os

from glance_download.boundary import formats
from glance_download.boundary import local_images
from glance_download.boundary import staging
from glance_download import errors
from glance_download import partfile
from glance_download.tasks import base
from glance_download import twin

LOG = logging.getLogger(__name__)


class CopyFromTwin(base.Step):
    """Stage the data from an image of this region with the same content.

    Provides ``staged_from_twin``: the staged file's URI, or None when no
    twin served the data and DownloadToStaging downloads it. Twins are
    found and read with the import's own context, the caller's
    (boundary.local_images); a twin that fails in any way leaves nothing
    staged and the next one, or the download, goes ahead.
    """

    default_provides = 'staged_from_twin'

    def __init__(self, task_id, task_type, conf, action_wrapper, context,
                 connection, reporter):
        super().__init__('Twin', task_id, task_type, conf, action_wrapper)
        self.context = context
        self.connection = connection
        self.reporter = reporter
        self.file_uri = self.staged = None

    def execute(self, source_image_id, source_image, source_region,
                source_digest):
        key = twin.search_key(source_image, source_digest,
                              self.settings.reuse_local_copies,
                              formats.image_size_cap())
        if key is None:
            return None
        with base.user_errors(self.task_id):
            result = self._from_twins(key, source_image['size'],
                                      source_digest, source_region)
            if result is None:
                return None
            base.confirm_active(self.connection.client, source_image_id,
                                source_region)
            self.reporter.conclude(
                twin.describe_done(result, source_region))
        LOG.info('Image %s staged at %s: %d bytes copied from image %s in '
                 'this region, none from image %s in region %s, %s '
                 'verified', self.action_wrapper.image_id, self.staged,
                 result.bytes, result.twin_id, source_image_id,
                 source_region, result.algorithm)
        return self.file_uri

    def _from_twins(self, key, size, digest, region):
        """The CopyResult of the first twin that served, else None."""
        image_id = self.action_wrapper.image_id
        try:
            found = local_images.find(self.context, *key, twin.LIST_LIMIT)
        except errors.Aborted:
            raise
        except Exception as exc:
            self._log_unusable('Images with the same content', exc)
            return None
        chosen = twin.choose(found, key, size, image_id,
                             getattr(self.context, 'project_id', None))
        if not chosen:
            return None
        self.file_uri, path = staging.staging_target(image_id)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        for candidate in chosen:
            try:
                record, chunks = local_images.open_data(self.context,
                                                        candidate.image_id)
                if not twin.usable(record, key, size, image_id):
                    raise twin.Unusable('it changed since it was found')
                result = twin.copy_to_staging(
                    candidate.image_id, chunks, path, size, digest,
                    self.reporter.report, self.settings.progress_interval)
            except errors.Aborted:
                raise
            except Exception as exc:
                self._log_unusable(f'Image {candidate.image_id}', exc)
                self.reporter.report(twin.describe_fallback(
                    candidate.image_id, _short(exc), region))
                continue
            self.staged = path
            return result
        return None

    def _log_unusable(self, what, exc):
        expected = isinstance(exc, (twin.Unusable, errors.GlanceDownloadError))
        LOG.warning('%s in this region could not serve the data of import '
                    'task %s, which downloads it instead: %s', what,
                    self.task_id, _short(exc), exc_info=not expected)

    def revert(self, result, **kwargs):
        self.reporter.retract()
        if self.staged is not None:
            partfile.PartFile(self.staged).cleanup()


def _short(exc):
    """Why a twin failed, in a few words for the log and the task."""
    if isinstance(exc, twin.Unusable):
        return str(exc)
    if isinstance(exc, errors.VerificationError):
        return 'its data differs from the source\'s digest'
    return type(exc).__name__
