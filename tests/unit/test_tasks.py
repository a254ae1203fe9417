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

"""The whole glance-download flow, as Glance runs it, against a local server.

Our flow runs inside a flow shaped like Glance's own (revert everything on
failure, a step after ours that may fail), with Glance's real
ImportActionWrapper over in-memory repositories, a real HTTP server as the
source region and a temporary staging directory.
"""

import os
import shutil
import tempfile
import threading
import unittest
from unittest import mock

from oslo_config import cfg
from taskflow import engines
from taskflow.patterns import linear_flow
from taskflow import retry as tf_retry
from taskflow import task as tf_task

from glance.async_.flows import api_image_import
from glance.common.scripts import utils as script_utils

from glance_download import autotune
from glance_download.boundary import reporting
from glance_download import fetch
from glance_download import options
from glance_download import overlap
from glance_download import partfile
from glance_download import plugin
from glance_download.tasks import copy_metadata
from tests import fake_glance
from tests.unit import boundary_fakes
from tests.unit import helpers

CONF = cfg.CONF
TOKEN = boundary_fakes.TOKEN
DATA = os.urandom(3 * 1024 * 1024 + 17)


class NextHostStep(tf_task.Task):
    """Stands for Glance's steps after ours; fails on request.

    Given the staged data's ``uri``, it reads it to the end as Glance's
    store step does, through ``get_image_data_iter``, into ``stored``.
    """

    def __init__(self, fail=False, uri=None):
        super().__init__(name='next-host-step')
        self.fail = fail
        self.uri = uri
        self.stored = None
        self.read = 0

    def execute(self):
        if self.fail:
            raise RuntimeError('store unavailable')
        if self.uri is None:
            return
        opened = script_utils.get_image_data_iter(self.uri)
        reader = opened[0] if isinstance(opened, tuple) else opened
        chunks = []
        try:
            for chunk in iter(lambda: reader.read(65536), b''):
                chunks.append(chunk)
                self.read += len(chunk)
        finally:
            if hasattr(reader, 'close'):
                reader.close()
        self.stored = b''.join(chunks)


class FlowTestBase(unittest.TestCase):

    def setUp(self):
        self.cfg = helpers.config(self)
        self.glance = fake_glance.FakeGlance(tokens=[TOKEN]).start()
        self.addCleanup(self.glance.stop)
        self.staging = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.staging, True)
        options.register_opts(CONF)
        port = int(self.glance.url.rsplit(':', 1)[1])
        for name, value, group in [
                ('enabled_backends', None, None),
                ('node_staging_uri', 'file://' + self.staging, None),
                ('allowed_hosts', ['127.0.0.1'], 'import_filtering_opts'),
                ('allowed_ports', [port], 'import_filtering_opts'),
                ('retry_delay', 0.0, options.GROUP),
                ('read_timeout', 2.0, options.GROUP),
                ('chunk_size', 256 * 1024, options.GROUP),
                ('progress_interval', 0.5, options.GROUP),
                ('max_attempts', 3, options.GROUP),
                # These flows run with a stand-in request context, which
                # Glance's repositories cannot serve: the search for a copy
                # already in the region is tests.unit.test_twin's.
                ('reuse_local_copies', False, options.GROUP)]:
            self.cfg.config(**{name: value, 'group': group})
        boundary_fakes.restore_glance_after(self)
        boundary_fakes.file_store(self)
        self.source = self.glance.add_image(
            DATA, disk_format='qcow2', container_format='ovf',
            hw_disk_bus='virtio', os_distro='cirros', foo='bar',
            os_admin_user='root')
        self.objs = boundary_fakes.HostObjects(
            stores=('fast',), disk_format='raw', container_format='bare',
            extra_properties={'hw_disk_bus': 'ide', 'keep': 'me'})
        self.before = self.snapshot()

    def snapshot(self):
        image = self.objs.image
        props = dict(image.extra_properties)
        props.pop('os_glance_import_task', None)
        props.pop('os_glance_importing_to_stores', None)
        props.pop('os_glance_failed_import', None)
        return image.disk_format, image.container_format, props

    def import_req(self, **method):
        fields = {'name': 'glance-download', 'glance_region': 'REGION1',
                  'glance_image_id': self.source['id'],
                  'glance_service_interface': 'public'}
        fields.update(method)
        return {'method': fields}

    def run_import(self, next_step=None, context=None, **method):
        context = context or boundary_fakes.context(
            boundary_fakes.catalog(self.glance.url))
        ours = plugin.get_flow(
            task_id=self.objs.task_id, task_type='api_image_import',
            context=context, task_repo=self.objs.task_repo,
            image_repo=self.objs.image_repo, image_factory=None,
            backend=self.objs.stores, image_id=self.objs.image_id,
            import_req=self.import_req(**method),
            action_wrapper=self.objs.action_wrapper)
        self.store_step = next_step or NextHostStep(
            uri='file://' + os.path.join(self.staging, self.objs.image_id))
        flow = linear_flow.Flow('host', retry=tf_retry.AlwaysRevert())
        flow.add(ours, self.store_step)
        engine = engines.load(flow, engine='serial')
        engine.run()
        return engine

    def when_staged(self, size, change):
        """Run ``change`` once the first ``size`` bytes are staged.

        An event of the download itself rather than a timer: on a loaded
        machine the data may take any time to arrive.
        """
        real = partfile.PartFile.write
        done = threading.Event()

        def write(part, data, offset):
            written = real(part, data, offset)
            if offset + len(data) >= size and not done.is_set():
                done.set()
                change()
            return written
        patcher = mock.patch.object(partfile.PartFile, 'write', write)
        patcher.start()
        self.addCleanup(patcher.stop)

    def staged_files(self):
        return sorted(os.listdir(self.staging))

    def assert_failed_cleanly(self, text, **kwargs):
        with self.assertRaises(reporting.ImportFailed) as ctx:
            self.run_import(**kwargs)
        message = str(ctx.exception)
        self.assertIn(text, message)
        self.assertNotIn(TOKEN, message)
        self.assertEqual('queued', self.objs.image.status)
        self.assertEqual(self.before, self.snapshot())
        props = self.objs.image.extra_properties
        self.assertEqual('', props['os_glance_importing_to_stores'])
        self.assertEqual('fast', props['os_glance_failed_import'])
        self.assertEqual([], self.staged_files())
        return message

    def retry_succeeds(self):
        """A new import of the same image, as the API would start it."""
        image = self.objs.image
        self.objs.task_id = self.objs.task_id + '-again'
        self.objs.task_repo = boundary_fakes.FakeTaskRepo(self.objs.task_id)
        self.objs.action_wrapper = api_image_import.ImportActionWrapper(
            self.objs.image_repo, self.objs.image_id, self.objs.task_id)
        image.extra_properties['os_glance_import_task'] = self.objs.task_id
        image.status = 'importing'
        self.run_import()
        self.assert_staged()

    def assert_staged(self):
        self.assertEqual([self.objs.image_id], self.staged_files())
        with open(os.path.join(self.staging, self.objs.image_id), 'rb') as f:
            self.assertEqual(DATA, f.read())
        if self.store_step.uri is not None:
            self.assertEqual(DATA, self.store_step.stored)


class SuccessTest(FlowTestBase):

    def test_metadata_copied_and_data_staged_verified(self):
        self.run_import()
        self.assert_staged()
        image = self.objs.image
        self.assertEqual(('qcow2', 'ovf'),
                         (image.disk_format, image.container_format))
        props = image.extra_properties
        self.assertEqual('virtio', props['hw_disk_bus'])
        self.assertEqual('cirros', props['os_distro'])
        self.assertEqual('me', props['keep'])
        self.assertNotIn('foo', props)
        self.assertNotIn('os_admin_user', props)
        self.assertEqual('REGION1', props['glance_download_source_region'])
        self.assertEqual(self.source['id'],
                         props['glance_download_source_image_id'])
        messages = self.objs.task_repo.messages
        # Over in well under a second: no progress line, only the result.
        self.assertEqual(1, len(messages), messages)
        self.assertIn('Downloaded 3.0 MiB from region REGION1', messages[0])
        self.assertIn('sha512 verified', messages[0])
        self.assertNotIn(TOKEN, ' '.join(messages))
        # The source record was read before the copy and once the data was
        # in, no more: Glance's own metadata step was skipped.
        self.assertEqual(2, len(self.glance.requests_to(self.source['id'])))

    def test_the_source_is_handed_on_as_taskflow_results(self):
        storage = self.run_import(glance_region='region1').storage
        self.assertEqual(self.source['id'], storage.fetch('source_image_id'))
        self.assertEqual('REGION1', storage.fetch('source_region'))
        record = storage.fetch('source_image')
        self.assertEqual((self.source['id'], 'qcow2'),
                         (record['id'], record['disk_format']))
        self.assertEqual(('sha512', self.source['os_hash_value']),
                         storage.fetch('source_digest'))
        # What the metadata step replaced, for its revert.
        saved = storage.get(copy_metadata.CopyMetadata(
            self.objs.task_id, 'api_image_import', CONF, None).name)
        self.assertEqual('raw', saved['disk_format'])
        self.assertEqual('ide', saved['properties']['hw_disk_bus'])
        self.assert_staged()

    def test_multiple_stores_stage_in_the_reserved_staging_store(self):
        boundary_fakes.register_staging_store_group()
        for name, value, group in [
                ('enabled_backends', {'fast': 'file'}, None),
                ('node_staging_uri', 'file:///nonexistent', None),
                ('filesystem_store_datadir', self.staging,
                 'os_glance_staging_store')]:
            self.cfg.config(**{name: value, 'group': group})
        self.run_import()
        self.assert_staged()

    def test_region_and_interface_spelled_loosely(self):
        self.run_import(glance_region='region1',
                        glance_service_interface='internalURL')
        self.assert_staged()
        self.assertEqual('REGION1', self.objs.image.extra_properties[
            'glance_download_source_region'])

    def test_interface_defaults_to_public(self):
        method = self.import_req()['method']
        del method['glance_service_interface']
        self.run_import(**{k: v for k, v in method.items() if k != 'name'})
        self.assert_staged()

    def test_broad_prefix_and_no_provenance(self):
        self.cfg.config(extra_properties=['os_', 'f'],
                        group=options.PROPERTIES_GROUP)
        self.cfg.config(record_provenance=False, group=options.GROUP)
        self.run_import()
        props = self.objs.image.extra_properties
        self.assertEqual('root', props['os_admin_user'])
        self.assertEqual('bar', props['foo'])
        self.assertEqual('ide', props['hw_disk_bus'])
        for name in ('os_hash_value', 'os_hash_algo', 'os_hidden',
                     'glance_download_source_region'):
            self.assertNotIn(name, props)

    def test_the_source_s_own_provenance_is_never_copied(self):
        # A source that is itself a copy, and a prefix that covers the
        # provenance: nothing of the source's provenance is written.
        self.source.update(glance_download_source_region='REGION0',
                           glance_download_source_image_id='first',
                           glance_download_source_owner='someone',
                           glance_download_pulled_from='REGION8')
        self.cfg.config(extra_properties=['glance_download_'],
                        group=options.PROPERTIES_GROUP)
        self.run_import()
        props = self.objs.image.extra_properties
        for name in ('glance_download_source_region',
                     'glance_download_source_image_id',
                     'glance_download_source_owner',
                     'glance_download_pulled_from'):
            self.assertNotIn(name, props)

    def test_a_relayed_copy_keeps_the_original_s_provenance(self):
        # The client recorded the original at creation, and imports from
        # a region that relays it: the relay's name must not replace it.
        self.source.update(glance_download_source_region='REGION0',
                           glance_download_source_image_id='first')
        self.objs.image.extra_properties.update(
            glance_download_source_region='REGION0',
            glance_download_source_image_id='first',
            glance_download_source_owner='owner0')
        self.run_import()
        props = self.objs.image.extra_properties
        self.assertEqual(('REGION0', 'first', 'owner0'), (
            props['glance_download_source_region'],
            props['glance_download_source_image_id'],
            props['glance_download_source_owner']))

    def test_a_remote_claiming_another_origin_cannot_write_it(self):
        # A hostile remote names a provenance of its own choosing: the
        # target keeps what its creator recorded, and no claim is copied.
        self.source.update(glance_download_source_region='REGION9',
                           glance_download_source_image_id='victim')
        self.objs.image.extra_properties.update(
            glance_download_source_region='REGION0',
            glance_download_source_image_id='first')
        self.run_import()
        props = self.objs.image.extra_properties
        self.assertEqual(('REGION0', 'first'), (
            props['glance_download_source_region'],
            props['glance_download_source_image_id']))

    def assert_records_the_request(self, **claim):
        # One property alone, or an empty one, is not a copy's provenance:
        # the import records where the data came from, as for any source.
        self.source.update(claim)
        self.run_import()
        props = self.objs.image.extra_properties
        self.assertEqual(('REGION1', self.source['id']), (
            props['glance_download_source_region'],
            props['glance_download_source_image_id']))

    def test_half_a_provenance_is_no_relay(self):
        self.assert_records_the_request(
            glance_download_source_region='REGION0')

    def test_an_empty_provenance_is_no_relay(self):
        self.assert_records_the_request(
            glance_download_source_region='REGION0',
            glance_download_source_image_id='')

    def test_cut_and_stalled_transfers_resume(self):
        self.glance.faults += [fake_glance.Cut(after=1024 * 1024),
                               fake_glance.Stall(after=1024 * 1024, seconds=5)]
        self.cfg.config(read_timeout=0.5, group=options.GROUP)
        self.run_import()
        self.assert_staged()
        ranges = [r.headers.get('Range')
                  for r in self.glance.requests_to('/file')]
        self.assertEqual([None, 'bytes=1048576-', 'bytes=2097152-'], ranges)
        self.assertIn('2 resumed', self.objs.task_repo.messages[-1])

    def segment_sizes(self):
        """The segment size of each download run from now on."""
        sizes = []
        real = fetch.StagedDownload.run

        def run(download, opener):
            sizes.append(download.segment_size)
            return real(download, opener)
        patcher = mock.patch.object(fetch.StagedDownload, 'run', run)
        patcher.start()
        self.addCleanup(patcher.stop)
        return sizes

    def test_a_followed_download_from_afar_is_cut_finer(self):
        # The store step reads in order: smaller segments keep the written
        # prefix close behind the streams.
        self.cfg.config(segment_size=64 * 1024 * 1024, group=options.GROUP)
        sizes = self.segment_sizes()
        with mock.patch.object(autotune, 'far', return_value=True):
            self.run_import()
        self.assert_staged()
        self.assertEqual([overlap.FOLLOWED_SEGMENT_SIZE], sizes)

    def test_a_followed_download_from_near_keeps_its_segments(self):
        # One stream from a near source writes in order anyway.
        self.cfg.config(segment_size=64 * 1024 * 1024, group=options.GROUP)
        sizes = self.segment_sizes()
        self.run_import()
        self.assert_staged()
        self.assertEqual([64 * 1024 * 1024], sizes)

    def test_a_staged_download_keeps_its_segments(self):
        self.cfg.config(segment_size=64 * 1024 * 1024, group=options.GROUP)
        self.cfg.config(overlap_store_writes=False, group=options.GROUP)
        sizes = self.segment_sizes()
        self.run_import()
        self.assert_staged()
        self.assertEqual([64 * 1024 * 1024], sizes)

    def test_the_store_step_reads_while_the_data_arrives(self):
        # A pause of the source, that the download resumes from.
        self.glance.faults.append(fake_glance.Stall(after=1024 * 1024,
                                                    seconds=2.5))
        # What the store step had read when the download went on.
        read_then = []
        self.when_staged(1024 * 1024 + 1,
                         lambda: read_then.append(self.store_step.read))
        self.run_import()
        self.assert_staged()
        # Up to the first MiB, read during the pause (all of it, unless
        # this machine is very busy).
        [read] = read_then
        self.assertGreater(read, 0)
        self.assertLessEqual(read, 1024 * 1024)
        self.assertIn('stored while it arrived',
                      self.objs.task_repo.messages[-1])

    def test_the_store_step_waits_where_a_plugin_reads_the_staged_file(self):
        self.cfg.config(image_import_plugins=['image_conversion'],
                        group='image_import_opts')
        read_at_commit = []
        real = partfile.PartFile.commit

        def commit(part):
            read_at_commit.append(self.store_step.read)
            return real(part)
        with mock.patch.object(partfile.PartFile, 'commit', commit):
            self.run_import()
        self.assert_staged()
        self.assertEqual([0], read_at_commit)
        self.assertIn('the store step waited for it: image_conversion reads '
                      'the staged file', self.objs.task_repo.messages[-1])

    def test_server_ignoring_range_still_gives_a_correct_image(self):
        self.glance.faults += [fake_glance.Cut(after=1024 * 1024),
                               fake_glance.IgnoreRange()]
        self.run_import()
        self.assert_staged()


class FailureTest(FlowTestBase):

    def test_unknown_region(self):
        message = self.assert_failed_cleanly(
            "Region 'REGION9' has no image service endpoint",
            glance_region='REGION9')
        self.assertIn('REGION1, REGION2', message)
        self.assertEqual([], self.glance.requests)
        self.retry_succeeds()

    def test_bad_interface(self):
        self.assert_failed_cleanly("glance_service_interface 'private'",
                                   glance_service_interface='private')

    def test_image_not_visible_in_source_region(self):
        hidden = self.glance.add_image(b'x', visible_to={'other'})
        self.assert_failed_cleanly('was not found in region REGION1',
                                   glance_image_id=hidden['id'])

    def test_expired_token(self):
        context = boundary_fakes.context(
            boundary_fakes.catalog(self.glance.url), token='expired')
        self.assert_failed_cleanly('did not accept your token',
                                   context=context)

    def test_source_not_active(self):
        for status in ('queued', 'deactivated'):
            queued = self.glance.add_image(b'x', status=status)
            self.assert_failed_cleanly(f"'{status}', not 'active'",
                                       glance_image_id=queued['id'])

    def test_endpoint_refused_by_import_filtering(self):
        self.cfg.config(allowed_ports=[80], group='import_filtering_opts')
        self.assert_failed_cleanly('[import_filtering_opts]')
        self.assertEqual([], self.glance.requests)

    def test_flipped_byte_is_caught_and_retry_works(self):
        self.glance.faults.append(fake_glance.FlipByte(offset=12345))
        message = self.assert_failed_cleanly('sha512 digest')
        self.assertIn('Nothing was activated', message)
        self.retry_succeeds()

    def test_wrong_size_declared(self):
        self.source['size'] = len(DATA) + 1
        self.assert_failed_cleanly('size')

    def test_persistent_server_errors(self):
        self.glance.faults.append(fake_glance.Status(500, times=10))
        self.assert_failed_cleanly('3 attempt(s) failed')
        self.assertEqual(3, len(self.glance.requests_to('/file')))

    def test_later_host_step_failing_removes_staged_data(self):
        with self.assertRaises(RuntimeError):
            self.run_import(next_step=NextHostStep(fail=True))
        self.assertEqual('queued', self.objs.image.status)
        self.assertEqual(self.before, self.snapshot())
        self.assertEqual([], self.staged_files())
        self.retry_succeeds()

    def test_task_abandoned_stops_the_download(self):
        self.glance.faults.append(fake_glance.Stall(after=1024 * 1024,
                                                    seconds=1.5))
        self.cfg.config(read_timeout=1.0, group=options.GROUP)
        self.when_staged(1024 * 1024, lambda: setattr(
            self.objs.task_repo.task, 'status', 'failure'))
        self.assert_failed_cleanly('no longer processing')

    def test_target_deleted_during_download(self):
        self.glance.faults.append(fake_glance.Stall(after=1024 * 1024,
                                                    seconds=1.5))
        self.cfg.config(read_timeout=1.0, group=options.GROUP)
        self.when_staged(1024 * 1024, lambda: self.objs.image_repo.delete(
            self.objs.image_id))
        with self.assertRaises(reporting.ImportFailed) as ctx:
            self.run_import()
        self.assertIn('target image was deleted', str(ctx.exception))
        self.assertEqual([], self.staged_files())


class MetadataCheckTest(FlowTestBase):
    """The source's record and this Glance's rules, before any data."""

    def assert_refused_before_data(self, text):
        message = self.assert_failed_cleanly(text)
        self.assertNotIn('Internal Error', message)
        self.assertEqual([], self.glance.requests_to('/file'))
        return message

    def test_disk_format_this_glance_refuses(self):
        self.source['disk_format'] = 'evil-format'
        message = self.assert_refused_before_data(
            "has the disk_format 'evil-format', which this Glance does not "
            "accept; it accepts ami, ari, aki, vhd, vhdx, vmdk, raw, qcow2")
        self.assertIn('[image_format] disk_formats', message)
        self.source['disk_format'] = 'qcow2'
        self.retry_succeeds()

    def test_container_format_this_glance_refuses(self):
        self.cfg.config(container_formats=['bare'], group='image_format')
        self.assert_refused_before_data(
            "has the container_format 'ovf', which this Glance does not "
            "accept; it accepts bare.")

    def test_malformed_fields_fail_with_what_was_wrong(self):
        for field, value in [('os_hash_value', 1234), ('checksum', ['x']),
                             ('os_hash_algo', 512), ('name', 5),
                             ('min_disk', 'big'), ('tags', 'a,b'),
                             ('protected', 'yes')]:
            good = self.source[field]
            self.source[field] = value
            self.assert_refused_before_data(
                f"malformed record for image {self.source['id']}: its "
                f"'{field}' is {value!r}")
            self.source[field] = good
        for field, value, text in [
                ('size', '3', 'does not state its size'),
                ('status', ['active'], "not 'active'"),
                ('disk_format', 7, 'has no disk_format')]:
            good = self.source[field]
            self.source[field] = value
            self.assert_refused_before_data(text)
            self.source[field] = good
        self.retry_succeeds()

    def test_reserved_names_never_copied_whatever_the_case(self):
        self.cfg.config(extra_properties=['l', 'L', 'os_', 'OS_'],
                        group=options.PROPERTIES_GROUP)
        self.source.update({
            'location': 'file:///etc/shadow', 'Location': 'x',
            'OS_GLANCE_IMPORT_TASK': 'stolen', 'os_GLANCE_x': 'x',
            'OS_HASH_VALUE': 'x', 'lang': 'en'})
        self.run_import()
        self.assert_staged()
        props = self.objs.image.extra_properties
        for name in ('location', 'Location', 'OS_GLANCE_IMPORT_TASK',
                     'os_GLANCE_x', 'OS_HASH_VALUE'):
            self.assertNotIn(name, props)
        self.assertEqual('en', props['lang'])
        self.assertEqual('root', props['os_admin_user'])

    def test_more_properties_than_the_quota(self):
        self.cfg.config(image_property_quota=4)
        # The target has hw_disk_bus and keep; the copy sets hw_disk_bus
        # and os_distro, and the provenance 2 more: 5 > 4.
        self.objs.image_repo.property_quota = 4
        message = self.assert_failed_cleanly(
            '[DEFAULT] image_property_quota is 4')
        self.assertIn('Copying 4 properties', message)
        self.assertIn('Attempted: 5, Maximum: 4', message)
        self.assertEqual([], self.glance.requests_to('/file'))
        self.objs.image_repo.property_quota = 5
        self.retry_succeeds()

    def test_property_refused_by_this_glance(self):
        self.objs.image_repo.protected = ('os_distro',)
        message = self.assert_failed_cleanly(
            "refused the source image's metadata for the target image: "
            "Attribute 'os_distro' is reserved.")
        self.assertIn('property protections', message)
        self.objs.image_repo.protected = ()
        self.retry_succeeds()


class SourceChangedTest(FlowTestBase):
    """The source deactivated or deleted while its data was copied."""

    def after_download(self, change, before=False):
        """Run ``change`` as the last byte is in, before the re-read.

        With ``before``, run it once the record was read, before any data.
        """
        real = fetch.StagedDownload.run

        def run(download, opener):
            if before:
                change()
            result = real(download, opener)
            if not before:
                change()
            return result
        patcher = mock.patch.object(fetch.StagedDownload, 'run', run)
        patcher.start()
        self.addCleanup(patcher.stop)
        return patcher

    def test_deactivated_after_the_last_byte(self):
        patcher = self.after_download(
            lambda: self.source.update(status='deactivated'))
        message = self.assert_failed_cleanly(
            'was deactivated after this import started')
        self.assertIn('nothing was activated', message)
        patcher.stop()
        self.source['status'] = 'active'
        self.retry_succeeds()

    def test_deleted_after_the_last_byte(self):
        self.after_download(lambda: self.glance.faults.append(
            fake_glance.Status(404, on='metadata')))
        self.assert_failed_cleanly('was deleted, or your project can no '
                                   'longer see it, after this import started')

    def test_record_unreadable_after_the_last_byte(self):
        self.after_download(lambda: self.glance.faults.append(
            fake_glance.Status(500, on='metadata', times=10)))
        self.assert_failed_cleanly('Could not read image')

    def test_deactivated_during_the_download_refuses_the_rest(self):
        # Glance answers 403 for the data of a deactivated image: the
        # resume after the stall gets it, and the record says why.
        self.glance.faults.append(fake_glance.Stall(after=1024 * 1024,
                                                    seconds=1.5))
        self.cfg.config(read_timeout=1.0, group=options.GROUP)
        self.when_staged(1024 * 1024,
                         lambda: self.source.update(status='deactivated'))
        message = self.assert_failed_cleanly(
            'was deactivated after this import started')
        self.assertNotIn('not allowed', message)
        self.assertEqual([None, 'bytes=1048576-'], [
            r.headers.get('Range') for r in self.glance.requests_to('/file')])

    def test_data_forbidden_while_the_source_is_active(self):
        self.glance.faults.append(fake_glance.Status(403))
        self.assert_failed_cleanly(
            'You are not allowed to read the data of image')

    def test_data_and_record_forbidden(self):
        # The data refused, and the record too when read again: the data's
        # refusal is what the user is told.
        self.glance.faults.append(fake_glance.Status(403))
        self.after_download(lambda: self.glance.faults.append(
            fake_glance.Status(403, on='metadata')), before=True)
        self.assert_failed_cleanly(
            'You are not allowed to read the data of image')
