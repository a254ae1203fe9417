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
3. DownloadToStaging: stream, verify and stage the data.

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
from glance_download.boundary import reporting
from glance_download.boundary import staging
from glance_download import endpoint
from glance_download import errors
from glance_download import fetch
from glance_download import metadata
from glance_download import options
from glance_download import progress
from glance_download import remote
from glance_download import retry
from glance_download import streams
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
        # A source that is itself a copy has provenance of its own: that
        # of the target is the target's, never inherited.
        for name in metadata.PROVENANCE_PROPERTIES:
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
    """Stream the data into Glance's staging area, verified, resumable."""

    def __init__(self, task_id, task_type, conf, action_wrapper, connection,
                 reporter):
        super().__init__('Data', task_id, task_type, conf, action_wrapper)
        self.connection = connection
        self.reporter = reporter
        self.download = None

    def execute(self, source_image_id, source_image, source_region,
                source_digest):
        settings = self.settings
        client = self.connection.client
        image_id = self.action_wrapper.image_id
        with user_errors(self.task_id):
            file_uri, path = staging.staging_target(image_id)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            self.download = fetch.StagedDownload(
                dest_path=path, size=source_image['size'],
                digest=source_digest,
                chunk_size=settings.chunk_size,
                policy=client.policy,
                progress=progress.Progress(
                    self.reporter.report, settings.progress_interval,
                    source_region),
                streams=settings.parallel_streams,
                segment_size=settings.segment_size,
                slots=streams.process_slots(settings.process_streams),
                min_rate=settings.min_rate,
                min_rate_period=settings.min_rate_period,
                deadline=settings.download_timeout or None,
                max_size=formats.image_size_cap())
            try:
                result = self.download.run(functools.partial(
                    client.open_file, source_image_id))
            except errors.RemoteImageError as exc:
                if exc.status not in (403, 404):
                    raise
                raise explain_refusal(client, source_image_id,
                                      source_region, exc) from None
            confirm_active(client, source_image_id, source_region)
            self.reporter.report(progress.describe_done(result,
                                                        source_region))
        LOG.info('Image %s staged at %s: %d bytes from image %s in region '
                 '%s, %s', image_id, path, result.bytes, source_image_id,
                 source_region, result.algorithm or 'size only')
        return file_uri

    def revert(self, result, **kwargs):
        if self.download is not None:
            self.download.cleanup()
