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

"""The last step: download the data into the staging area, verified.

The transfer itself is fetch.py's, and whether Glance's store step may
read the data as it arrives is overlap.py's to decide; this step starts
the download, in a thread of its own when the store step follows it, and
reads the source's record again once the data is in (from a far source,
as the last bytes arrive: recheck.py).
"""

import functools
import logging
import os

from glance_download.boundary import formats
from glance_download.boundary import staging
from glance_download.boundary import store_feed
from glance_download.boundary import stores
from glance_download import errors
from glance_download import fetch
from glance_download import overlap
from glance_download import progress
from glance_download import recheck
from glance_download.tasks import base

LOG = logging.getLogger(__name__)


def explain_refusal(client, image_id, region, refusal):
    """The clearer error for data refused (403, 404) by a changed source.

    Only the record tells a deactivated or deleted source from one the
    user may not read; if it cannot be read either, ``refusal`` stands.
    """
    try:
        base.confirm_active(client, image_id, region)
    except errors.SourceChanged as exc:
        return exc
    except errors.GlanceDownloadError:
        pass
    return refusal


class DownloadToStaging(base.Step):
    """Stream the data into Glance's staging area, verified, resumable.

    Where nothing between this step and Glance's store step reads the
    staged file, the step returns once the streams run, and the store step
    reads the data as it arrives (overlap.py, boundary.store_feed); the
    download goes on in a thread of its own, and its verdict ends what the
    store reads.
    """

    def __init__(self, task_id, task_type, conf, action_wrapper, connection,
                 reporter, target_stores=(None,)):
        super().__init__('Data', task_id, task_type, conf, action_wrapper)
        self.connection = connection
        self.reporter = reporter
        self.target_stores = target_stores
        self.download = None
        self.background = None
        self.recheck = None

    def execute(self, source_image_id, source_image, source_region,
                source_digest, staged_from_twin=None):
        if staged_from_twin:
            # CopyFromTwin staged the data from this region, verified.
            return staged_from_twin
        settings = self.settings
        with base.user_errors(self.task_id):
            file_uri, path = staging.staging_target(
                self.action_wrapper.image_id)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            client = self.connection.client
            waits = overlap.fallback_reason(
                settings.overlap_store_writes, store_feed.import_plugins(),
                store_feed.install(),
                stores.not_file_stores(self.target_stores))
            self.download = fetch.StagedDownload.from_conf(
                self.conf, path, source_image['size'], source_digest,
                client.policy, progress=self._progress(
                    progress.Progress(self.reporter.report,
                                      settings.progress_interval,
                                      source_region)),
                max_size=formats.image_size_cap(), latency=client.latency,
                followed=waits is None)
            # Near, the record's read costs little where it always was.
            self.recheck = recheck.Recheck(functools.partial(
                base.confirm_active, client, source_image_id,
                source_region),
                client.latency if self.download.far else None)
            finish = functools.partial(self._finish, source_image_id,
                                       source_region, path, waits)
            if waits is not None:
                finish()
                return file_uri
            self.background = overlap.BackgroundDownload(self.download,
                                                         finish)
            store_feed.serve(path, self.download.part_path,
                             source_image['size'], self.background,
                             settings.chunk_size,
                             release=overlap.releases(self.target_stores))
            self.background.start()
        return file_uri

    def _progress(self, report):
        """The download's progress: reported, and the source's recheck."""
        def seen(done, total, streams=1):
            self.recheck.watch(done, total)
            report(done, total, streams)
        return seen

    def _finish(self, source_image_id, source_region, path, waits):
        """Download to the end, verify, and say so; the result."""
        client = self.connection.client
        with base.user_errors(self.task_id):
            try:
                result = self.download.run(functools.partial(
                    client.open_file, source_image_id))
            except BaseException as exc:
                # No look at the source outlives the download.
                self.recheck.settle()
                if isinstance(exc, errors.RemoteImageError) and (
                        exc.status in (403, 404)):
                    raise explain_refusal(client, source_image_id,
                                          source_region, exc) from None
                raise
            self.recheck.finish()
            done = progress.describe_done(result, source_region)
            self.reporter.conclude(
                done + (f'; the store step waited for it: {waits}'
                        if waits else '; stored while it arrived'))
        if waits is None:
            # Verified: the store step may read the staged file itself.
            store_feed.withdraw(path)
        LOG.info('Image %s staged at %s: %d bytes from image %s in region '
                 '%s, %s', self.action_wrapper.image_id, path, result.bytes,
                 source_image_id, source_region,
                 result.algorithm or 'size only')
        return result

    def revert(self, result, **kwargs):
        self.reporter.retract()
        if self.background is not None:
            self.background.cancel()
            store_feed.withdraw(self.download.dest_path)
        if self.download is not None:
            self.download.cleanup()
