"""The taskflow tasks of one glance-download import.

Glance runs them inside its own import flow, after taking the image lock
and before its own steps that move the staged data into the stores:

1. ReadSourceImage: find the remote Glance, read the source image record.
2. CopyMetadata: formats, prefixed properties and provenance onto the
   target image.
3. DownloadToStaging: stream, verify and stage the data.

Any failure makes Glance revert the whole flow: each task undoes exactly
what it did, so the image is ``queued`` again and a retry works.
"""

import contextlib
import functools
import logging
import os

from taskflow import task

from glance_download import boundary
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


@contextlib.contextmanager
def user_errors(task_id):
    """Turn our failures into the host exception whose text the user sees."""
    try:
        yield
    except errors.GlanceDownloadError as exc:
        LOG.warning('glance-download task %s failed: %s', task_id, exc)
        raise boundary.ImportFailed(str(exc)) from None


class Source(object):
    """The source image of one import, shared by the tasks of its flow."""

    def __init__(self, conf, context, method):
        self.conf = conf
        self.context = context
        self.image_id = method.get('glance_image_id')
        self.region = method.get('glance_region')
        self.interface = method.get('glance_service_interface')
        self.policy = retry.RetryPolicy.from_conf(conf)
        self.client = None
        self.image = None
        self.digest = None

    @property
    def settings(self):
        return self.conf[options.GROUP]

    def connect(self):
        found = endpoint.resolve(self.context.service_catalog, self.region,
                                 self.interface)
        # The resolved name, as the catalog spells it, is what we report.
        self.region = found.region
        settings = self.settings
        self.client = remote.RemoteGlance(
            session=remote.make_session(self.conf, self.context.auth_token),
            endpoint=found,
            policy=self.policy,
            timeouts=(settings.connect_timeout, settings.read_timeout),
            max_redirects=settings.max_redirects,
            url_allowed=boundary.validated_address,
            max_record_size=settings.max_record_size)

    def read(self):
        if not isinstance(self.image_id, str) or not self.image_id:
            raise errors.InvalidRequest(
                'glance_image_id must name the source image.')
        self.connect()
        image = self.client.get_image(self.image_id)
        metadata.check_importable(image, self.image_id, self.region)
        metadata.check_formats(image, self.image_id, self.region,
                               *boundary.image_formats())
        self.digest = verify.expected_digest(image)
        self.image = image
        return image

    def confirm_active(self):
        """Raise unless the source is still there and ``active``.

        Read again once the data is in: an image deactivated or deleted
        during the copy must not become an active copy.
        """
        try:
            image = self.client.get_image(self.image_id)
        except errors.RemoteImageError as exc:
            if exc.status == 404:
                raise metadata.deleted_error(self.image_id,
                                             self.region) from None
            raise
        metadata.check_still_active(image, self.image_id, self.region)

    def explain_refusal(self, refusal):
        """The clearer error for data refused (403, 404) by a changed source.

        Only the record tells a deactivated or deleted source from one the
        user may not read; if it cannot be read either, ``refusal`` stands.
        """
        try:
            self.confirm_active()
        except errors.SourceChanged as exc:
            return exc
        except errors.GlanceDownloadError:
            pass
        return refusal


class _Step(task.Task):

    def __init__(self, step, task_id, task_type, action_wrapper, source):
        self.task_id = task_id
        self.action_wrapper = action_wrapper
        self.source = source
        super(_Step, self).__init__(
            name='%s-GlanceDownload%s-%s' % (task_type, step, task_id))


class ReadSourceImage(_Step):
    """Resolve the endpoint and read the source; revert marks the failure.

    As the first of our tasks its revert runs whatever failed later, so it
    is where the image returns to ``queued`` and its importing stores
    become failed stores, as Glance's own import steps expect.
    """

    def __init__(self, task_id, task_type, action_wrapper, source, stores):
        self.stores = stores
        super(ReadSourceImage, self).__init__(
            'Read', task_id, task_type, action_wrapper, source)

    def execute(self):
        with user_errors(self.task_id):
            self.source.read()

    def revert(self, result, **kwargs):
        boundary.mark_failed(self.action_wrapper, self.stores)


class CopyMetadata(_Step):
    """Set formats and properties; remember what was there to restore it."""

    def __init__(self, task_id, task_type, action_wrapper, source):
        super(CopyMetadata, self).__init__(
            'Metadata', task_id, task_type, action_wrapper, source)
        self.saved = None

    def wanted(self):
        conf = self.source.conf
        source = self.source
        props = metadata.properties_to_copy(
            source.image, conf[options.PROPERTIES_GROUP].extra_properties,
            metadata.Reserved(*boundary.reserved_names()))
        if source.settings.record_provenance:
            props.update(metadata.provenance(source.region, source.image_id))
        return props

    def execute(self):
        image = self.source.image
        with user_errors(self.task_id):
            props = self.wanted()
            saved = boundary.copy_metadata(
                self.action_wrapper, image['disk_format'],
                image['container_format'], props)
        # Only what was saved is restored: a refused change left nothing.
        self.saved = saved
        LOG.info('Copied formats and %d properties from image %s in region '
                 '%s to image %s', len(props), self.source.image_id,
                 self.source.region, self.action_wrapper.image_id)

    def revert(self, result, **kwargs):
        if self.saved is None:
            return
        boundary.restore_metadata(self.action_wrapper, self.saved)
        self.saved = None


class DownloadToStaging(_Step):
    """Stream the data into Glance's staging area, verified, resumable."""

    def __init__(self, task_id, task_type, action_wrapper, source, reporter):
        super(DownloadToStaging, self).__init__(
            'Data', task_id, task_type, action_wrapper, source)
        self.reporter = reporter
        self.download = None

    def execute(self):
        source = self.source
        settings = source.settings
        image_id = self.action_wrapper.image_id
        with user_errors(self.task_id):
            file_uri, path = boundary.staging_target(image_id)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            size = source.image['size']
            self.download = fetch.StagedDownload(
                dest_path=path, size=size,
                digest=source.digest,
                chunk_size=settings.chunk_size,
                policy=source.policy,
                progress=progress.Progress(
                    self.reporter.report, settings.progress_interval,
                    source.region),
                streams=settings.parallel_streams,
                segment_size=settings.segment_size,
                slots=streams.process_slots(settings.process_streams),
                min_rate=settings.min_rate,
                min_rate_period=settings.min_rate_period,
                deadline=settings.download_timeout or None,
                max_size=boundary.image_size_cap())
            try:
                result = self.download.run(functools.partial(
                    source.client.open_file, source.image_id))
            except errors.RemoteImageError as exc:
                if exc.status not in (403, 404):
                    raise
                raise source.explain_refusal(exc) from None
            source.confirm_active()
            self.reporter.report(progress.describe_done(result,
                                                        source.region))
        LOG.info('Image %s staged at %s: %d bytes from image %s in region '
                 '%s, %s', image_id, path, result.bytes, source.image_id,
                 source.region, result.algorithm or 'size only')
        return file_uri

    def revert(self, result, **kwargs):
        if self.download is not None:
            self.download.cleanup()
