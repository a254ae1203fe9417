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

"""The taskflow tasks of one glance-download import.

Glance runs them inside its own import flow, after taking the image lock
and before its own steps that move the staged data into the stores:

1. ReadSourceImage: find the remote Glance, read the source image record.
2. CopyMetadata: formats, prefixed properties and provenance onto the
   target image.
3. CopyFromTwin: stage the data from an image of this region with the
   same content, verified, when the caller may read one (twin.py).
4. DownloadToStaging: stream, verify and stage the data, unless
   CopyFromTwin did.

The tasks hand each other plain data as taskflow results: the first
provides the source image's id, record, resolved region and expected
digest, which the others require.  Only the HTTP client, which taskflow
cannot store, is shared through a small per-flow Connection.

Any failure makes Glance revert the whole flow: each task undoes exactly
what it did, so the image is ``queued`` again and a retry works.
"""

import contextlib
import functools
import logging
import os

from taskflow import task
from taskflow.types import failure

from glance_download.boundary import filtering
from glance_download.boundary import formats
from glance_download.boundary import image_metadata
from glance_download.boundary import local_images
from glance_download.boundary import reporting
from glance_download.boundary import staging
from glance_download.boundary import store_feed
from glance_download.boundary import stores
from glance_download import endpoint
from glance_download import errors
from glance_download import fetch
from glance_download import metadata
from glance_download import options
from glance_download import overlap
from glance_download import partfile
from glance_download import progress
from glance_download import remote
from glance_download import retry
from glance_download import twin
from glance_download import verify

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


def connect(conf, context, region, interface):
    """The client to the Glance of ``region``, and the region's own name."""
    found = endpoint.resolve(context.service_catalog, region, interface)
    settings = conf[options.GROUP]
    client = remote.RemoteGlance(
        session=remote.make_session(conf, context.auth_token),
        endpoint=found,
        policy=retry.RetryPolicy.from_conf(conf),
        timeouts=(settings.connect_timeout, settings.read_timeout),
        max_redirects=settings.max_redirects,
        url_allowed=filtering.validated_address,
        max_record_size=settings.max_record_size)
    # The resolved name, as the catalog spells it, is what we report.
    return client, found.region


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


def explain_refusal(client, image_id, region, refusal):
    """The clearer error for data refused (403, 404) by a changed source.

    Only the record tells a deactivated or deleted source from one the
    user may not read; if it cannot be read either, ``refusal`` stands.
    """
    try:
        confirm_active(client, image_id, region)
    except errors.SourceChanged as exc:
        return exc
    except errors.GlanceDownloadError:
        pass
    return refusal


class _Step(task.Task):

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


class ReadSourceImage(_Step):
    """Resolve the endpoint and read the source; revert marks the failure.

    Provides the source's id, record, resolved region and digest.  As the
    first of our tasks its revert runs whatever failed later, so it is
    where the image returns to ``queued`` and its importing stores become
    failed stores, as Glance's own import steps expect.
    """

    default_provides = SOURCE

    def __init__(self, task_id, task_type, conf, action_wrapper, context,
                 method, connection, stores):
        self.context = context
        self.method = method
        self.connection = connection
        self.stores = stores
        super().__init__('Read', task_id, task_type, conf, action_wrapper)

    def execute(self):
        image_id = self.method.get('glance_image_id')
        with user_errors(self.task_id):
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


class CopyMetadata(_Step):
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
        with user_errors(self.task_id):
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


class DownloadToStaging(_Step):
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

    def execute(self, source_image_id, source_image, source_region,
                source_digest, staged_from_twin=None):
        if staged_from_twin:
            # CopyFromTwin staged the data from this region, verified.
            return staged_from_twin
        settings = self.settings
        with user_errors(self.task_id):
            file_uri, path = staging.staging_target(
                self.action_wrapper.image_id)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            self.download = fetch.StagedDownload.from_conf(
                self.conf, path, source_image['size'], source_digest,
                self.connection.client.policy,
                progress=progress.Progress(
                    self.reporter.report, settings.progress_interval,
                    source_region),
                max_size=formats.image_size_cap(),
                latency=self.connection.client.latency)
            waits = overlap.fallback_reason(
                settings.overlap_store_writes, store_feed.import_plugins(),
                store_feed.install(),
                stores.not_file_stores(self.target_stores))
            finish = functools.partial(self._finish, source_image_id,
                                       source_region, path, waits)
            if waits is not None:
                finish()
                return file_uri
            self.background = overlap.BackgroundDownload(self.download,
                                                         finish)
            store_feed.serve(path, self.download.part_path,
                             source_image['size'], self.background,
                             settings.chunk_size)
            self.background.start()
        return file_uri

    def _finish(self, source_image_id, source_region, path, waits):
        """Download to the end, verify, and say so; the result."""
        client = self.connection.client
        with user_errors(self.task_id):
            try:
                result = self.download.run(functools.partial(
                    client.open_file, source_image_id))
            except errors.RemoteImageError as exc:
                if exc.status not in (403, 404):
                    raise
                raise explain_refusal(client, source_image_id,
                                      source_region, exc) from None
            confirm_active(client, source_image_id, source_region)
            done = progress.describe_done(result, source_region)
            self.reporter.report(
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
        if self.background is not None:
            self.background.cancel()
            store_feed.withdraw(self.download.dest_path)
        if self.download is not None:
            self.download.cleanup()


class CopyFromTwin(_Step):
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
        with user_errors(self.task_id):
            result = self._from_twins(key, source_image['size'],
                                      source_digest, source_region)
            if result is None:
                return None
            confirm_active(self.connection.client, source_image_id,
                           source_region)
            self.reporter.report(twin.describe_done(result, source_region))
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
        if self.staged is not None:
            partfile.PartFile(self.staged).cleanup()


def _short(exc):
    """Why a twin failed, in a few words for the log and the task."""
    if isinstance(exc, twin.Unusable):
        return str(exc)
    if isinstance(exc, errors.VerificationError):
        return 'its data differs from the source\'s digest'
    return type(exc).__name__
