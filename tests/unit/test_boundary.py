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

"""The contracts between the plugin and the installed Glance."""

import importlib
import importlib.metadata
import os
import pkgutil
import re
import subprocess
import sys
import tempfile
import types
import unittest
from unittest import mock

from oslo_config import cfg
from oslo_utils import timeutils
from stevedore import named

from glance.async_.flows import api_image_import
from glance.common import exception as glance_exc

from glance_download import boundary
from glance_download.boundary import filtering
from glance_download.boundary import formats
from glance_download.boundary import image_metadata
from glance_download.boundary import reporting
from glance_download.boundary import repositories
from glance_download.boundary import staging
from glance_download.boundary import takeover
from glance_download import errors
from glance_download import metadata
from glance_download import options
from glance_download import plugin
from tests.unit import boundary_fakes
from tests.unit import helpers

CONF = cfg.CONF


def use(test, implementation):
    options.register_opts(CONF)
    helpers.override(test, 'implementation', implementation,
                     group=options.GROUP)


class PackageTest(unittest.TestCase):
    """The package's own file lists its modules and loads no Glance."""

    def test_every_module_is_listed(self):
        modules = {m.name for m in pkgutil.iter_modules(boundary.__path__)}
        listed = set(re.findall(r'^- ``(\w+)``', boundary.__doc__, re.M))
        self.assertEqual(modules, listed)

    def test_the_package_alone_loads_no_glance(self):
        script = ('import sys, glance_download.boundary; '
                  "print(sorted(n for n in sys.modules if n == 'glance' "
                  "or n.startswith(('glance.', 'glance_store'))))")
        result = subprocess.run([sys.executable, '-c', script],
                                capture_output=True, text=True, timeout=120)
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertEqual('[]', result.stdout.strip())


class StagingTargetTest(unittest.TestCase):

    def test_legacy_node_staging_uri(self):
        helpers.override(self, 'enabled_backends', None)
        for uri in ('file:///srv/staging', 'file:///srv/staging/'):
            helpers.override(self, 'node_staging_uri', uri)
            self.assertEqual(('file:///srv/staging/abc', '/srv/staging/abc'),
                             staging.staging_target('abc'))

    def test_multiple_stores_use_the_reserved_staging_store(self):
        boundary_fakes.register_staging_store_group()
        helpers.override(self, 'enabled_backends', {'fast': 'file'})
        helpers.override(self, 'filesystem_store_datadir', '/srv/st',
                         group='os_glance_staging_store')
        self.assertEqual(('file:///srv/st/abc', '/srv/st/abc'),
                         staging.staging_target('abc'))

    def test_staging_that_is_not_a_directory_is_refused(self):
        helpers.override(self, 'enabled_backends', None)
        helpers.override(self, 'node_staging_uri', 'http://elsewhere/')
        with self.assertRaises(errors.InvalidRequest) as ctx:
            staging.staging_target('abc')
        self.assertIn('not a local directory', str(ctx.exception))


class ImageSizeCapTest(unittest.TestCase):

    def test_glance_option_is_read(self):
        self.assertEqual(1024 ** 4, formats.image_size_cap())
        helpers.override(self, 'image_size_cap', 12345)
        self.assertEqual(12345, formats.image_size_cap())


class ImportFilteringTest(unittest.TestCase):

    def test_defaults_refuse_loopback_and_odd_ports(self):
        self.assertFalse(filtering.url_allowed('http://127.0.0.1:9292/v2'))
        self.assertFalse(filtering.url_allowed('ftp://192.0.2.10/'))
        self.assertFalse(filtering.url_allowed('http://192.0.2.10:9292/'))
        self.assertTrue(filtering.url_allowed('https://192.0.2.10/image'))

    def test_operator_allows_a_loopback_glance(self):
        helpers.override(self, 'allowed_hosts', ['127.0.0.1'],
                         group='import_filtering_opts')
        helpers.override(self, 'allowed_ports', [9292],
                         group='import_filtering_opts')
        self.assertTrue(filtering.url_allowed('http://127.0.0.1:9292/v2'))
        self.assertFalse(filtering.url_allowed('http://127.0.0.2:9292/v2'))
        self.assertFalse(filtering.url_allowed('http://127.0.0.1:9293/v2'))

    def test_validated_address_is_the_one_to_connect_to(self):
        helpers.override(self, 'allowed_hosts', ['127.0.0.1'],
                         group='import_filtering_opts')
        helpers.override(self, 'allowed_ports', [9292],
                         group='import_filtering_opts')
        self.assertEqual('127.0.0.1',
                         filtering.validated_address('http://127.0.0.1:9292/'))
        for refused in ('http://127.0.0.2:9292/', 'http://127.0.0.1:9293/'):
            self.assertIsNone(filtering.validated_address(refused))


class FailureTypeTest(unittest.TestCase):

    def test_glance_writes_our_text_into_the_task(self):
        # Glance's executor uses str(exc) only for UploadException.
        exc = reporting.ImportFailed('Image x was not found in region R1.')
        self.assertIsInstance(exc, glance_exc.UploadException)
        self.assertEqual('Image x was not found in region R1.', str(exc))


class ImageFormatsTest(unittest.TestCase):

    def test_the_formats_this_glance_accepts(self):
        helpers.override(self, 'disk_formats', ['raw', 'qcow2'],
                         group='image_format')
        helpers.override(self, 'container_formats', ['bare'],
                         group='image_format')
        self.assertEqual((('raw', 'qcow2'), ('bare',)),
                         formats.image_formats())


class ReservedNamesTest(unittest.TestCase):

    def test_glance_lists_are_read(self):
        names, prefixes = image_metadata.reserved_names()
        # From the API's reserved, read-only and disallowed lists, the
        # image schema and the domain: some are not in our own floor.
        for name in ('location', 'deleted', 'deleted_at', 'locations',
                     'direct_url', 'stores', 'os_hidden', 'os_hash_value',
                     'owner', 'virtual_size', 'schema'):
            self.assertIn(name, names)
        self.assertIn('os_glance', prefixes)

    def test_floor_covers_what_glance_lists(self):
        # Our own list is a floor: a Glance that stops listing a name
        # still has it refused.
        names, _ = image_metadata.reserved_names()
        self.assertEqual(set(), set(names) - metadata.CORE_ATTRIBUTES)


class MetadataRefusalsTest(unittest.TestCase):

    def refused(self, exc):
        with self.assertRaises(errors.GlanceDownloadError) as ctx:
            with image_metadata.metadata_refusals(5):
                raise exc
        return ctx.exception

    def test_property_quota(self):
        helpers.override(self, 'image_property_quota', 4)
        exc = self.refused(glance_exc.ImagePropertyLimitExceeded(
            attempted=7, maximum=4))
        self.assertIsInstance(exc, errors.MetadataRefused)
        message = str(exc)
        self.assertIn('Copying 5 properties', message)
        self.assertIn('[DEFAULT] image_property_quota is 4', message)
        self.assertIn('Attempted: 7, Maximum: 4', message)
        self.assertNotIn('Internal Error', message)

    def test_forbidden_property(self):
        for glance_error, text in [
                (glance_exc.ReservedProperty(property='secret'),
                 "Attribute 'secret' is reserved."),
                (glance_exc.Forbidden('Property protected'),
                 'Property protected.'),
                (glance_exc.Invalid('Bad value'), 'Bad value.')]:
            exc = self.refused(glance_error)
            self.assertIsInstance(exc, errors.MetadataRefused)
            self.assertIn("refused the source image's metadata for the "
                          "target image: " + text, str(exc))

    def test_target_gone_or_taken(self):
        exc = self.refused(glance_exc.ImageNotFound(image_id='x'))
        self.assertIsInstance(exc, errors.Aborted)
        self.assertIn('target image was deleted', str(exc))
        exc = self.refused(glance_exc.TaskAbortedError())
        self.assertIn('Another import took over', str(exc))

    def test_other_errors_pass_through(self):
        with self.assertRaises(KeyError):
            with image_metadata.metadata_refusals(1):
                raise KeyError('x')


class TaskReporterTest(unittest.TestCase):

    def setUp(self):
        self.objs = boundary_fakes.HostObjects()
        self.reporter = reporting.TaskReporter(
            self.objs.task_repo, self.objs.task_id, self.objs.action_wrapper)

    def test_report_saves_the_message(self):
        self.reporter.report('half way')
        self.assertEqual('half way', self.objs.task_repo.task.message)

    def test_task_no_longer_processing(self):
        self.objs.task_repo.task.status = 'failure'
        self.assertRaises(errors.Aborted, self.reporter.report, 'x')

    def test_image_deleted(self):
        self.objs.image_repo.delete(self.objs.image_id)
        with self.assertRaises(errors.Aborted) as ctx:
            self.reporter.report('x')
        self.assertIn('deleted', str(ctx.exception))

    def test_image_being_deleted(self):
        # Glance's delete drops the lock before the image is gone.
        self.objs.image_repo.mark_deleted(self.objs.image_id)
        with self.assertRaises(errors.Aborted) as ctx:
            self.reporter.report('x')
        self.assertIn('target image was deleted', str(ctx.exception))

    def test_lock_taken_by_another_task(self):
        self.objs.image.extra_properties['os_glance_import_task'] = 'other'
        with self.assertRaises(errors.Aborted) as ctx:
            self.reporter.report('x')
        self.assertIn('took over', str(ctx.exception))


class ClosingLineTest(unittest.TestCase):
    """The method's closing line, through Glance's store-step progress."""

    def setUp(self):
        boundary_fakes.restore_glance_after(self)
        self.objs = boundary_fakes.HostObjects()
        self.reporter = reporting.TaskReporter(
            self.objs.task_repo, self.objs.task_id, self.objs.action_wrapper)
        reporting.keep_closing_lines()
        reporting.keep_closing_lines()
        self.addCleanup(self.reporter.retract)

    def store_progress(self, copied):
        """Glance's own callback, as its store step calls it."""
        step = types.SimpleNamespace(task_repo=self.objs.task_repo,
                                     task_id=self.objs.task_id,
                                     last_status=timeutils.now())
        api_image_import._ImportToStore._status_callback(
            step, self.objs.action_wrapper, copied, copied)
        return self.objs.task_repo.task.message

    def test_glance_s_progress_follows_the_closing_line(self):
        self.reporter.conclude('Downloaded 2 MiB from region R1, '
                               'sha512 verified')
        self.assertEqual('Downloaded 2 MiB from region R1, sha512 verified; '
                         'Copied 2 MiB', self.store_progress(2 * 1024 ** 2))

    def test_without_a_closing_line_glance_s_own(self):
        self.reporter.report('Downloading from region R1: 1 MiB of 2 MiB')
        self.assertEqual('Copied 1 MiB', self.store_progress(1024 ** 2))

    def test_a_retracted_line_is_no_longer_kept(self):
        self.reporter.conclude('Downloaded 1 MiB')
        self.reporter.retract()
        self.assertEqual('Copied 1 MiB', self.store_progress(1024 ** 2))

    def test_only_recent_imports_keep_their_line(self):
        self.reporter.conclude('Downloaded 1 MiB')
        for n in range(reporting._CLOSING_KEPT):
            other = types.SimpleNamespace(
                task_id=f'other-{n}', report=lambda message: None)
            reporting.TaskReporter.conclude(other, 'done')
            self.addCleanup(reporting.TaskReporter.retract, other)
        self.assertIsNone(reporting.closing_line(self.objs.task_id))
        self.assertEqual(reporting._CLOSING_KEPT, len(reporting._closing))


class MarkFailedTest(unittest.TestCase):

    def test_image_queued_and_stores_failed(self):
        objs = boundary_fakes.HostObjects(stores=('fast', 'cheap'))
        image_metadata.mark_failed(objs.action_wrapper, objs.stores)
        self.assertEqual('queued', objs.image.status)
        props = objs.image.extra_properties
        self.assertEqual('', props['os_glance_importing_to_stores'])
        self.assertEqual('cheap,fast', props['os_glance_failed_import'])

    def test_vanished_image_is_not_an_error(self):
        objs = boundary_fakes.HostObjects()
        objs.image_repo.delete(objs.image_id)
        image_metadata.mark_failed(objs.action_wrapper, objs.stores)


class CopyMetadataTest(unittest.TestCase):

    def setUp(self):
        self.objs = boundary_fakes.HostObjects(
            disk_format='raw', container_format='bare',
            extra_properties={'hw_disk_bus': 'ide', 'keep': 'me'})

    def metadata(self):
        image = self.objs.image
        return (image.disk_format, image.container_format,
                dict(image.extra_properties))

    def test_copied_then_restored_as_it_was(self):
        before = self.metadata()
        saved = image_metadata.copy_metadata(
            self.objs.action_wrapper, 'qcow2', 'ovf',
            {'hw_disk_bus': 'virtio', 'os_distro': 'cirros'})
        image = self.objs.image
        self.assertEqual(('qcow2', 'ovf'),
                         (image.disk_format, image.container_format))
        self.assertEqual('virtio', image.extra_properties['hw_disk_bus'])
        self.assertEqual('cirros', image.extra_properties['os_distro'])
        self.assertEqual({'hw_disk_bus': 'ide', 'os_distro': None},
                         saved['properties'])
        image_metadata.restore_metadata(self.objs.action_wrapper, saved)
        self.assertEqual(before, self.metadata())

    def test_refusal_changes_nothing(self):
        # The target has 2 properties: 2 more exceed a quota of 3.
        self.objs.image_repo.property_quota = 3
        before = self.metadata()
        self.assertRaises(errors.MetadataRefused, image_metadata.copy_metadata,
                          self.objs.action_wrapper, 'qcow2', 'ovf',
                          {'a': '1', 'b': '2'})
        self.assertEqual(before, self.metadata())

    def test_vanished_image_is_not_an_error_on_restore(self):
        saved = image_metadata.copy_metadata(self.objs.action_wrapper,
                                             'qcow2', 'ovf', {'a': '1'})
        self.objs.image_repo.delete(self.objs.image_id)
        image_metadata.restore_metadata(self.objs.action_wrapper, saved)


class ResolutionTest(unittest.TestCase):

    def setUp(self):
        boundary_fakes.restore_glance_after(self)

    def test_our_entry_point_is_registered(self):
        eps = [ep.value for ep in importlib.metadata.entry_points(
            group=takeover.PLUGIN_NAMESPACE)
            if ep.name == takeover.PLUGIN_NAME]
        self.assertIn(helpers.OURS, eps)

    def load(self):
        """The glance_download implementation, loaded as Glance loads it."""
        return named.NamedExtensionManager(
            takeover.PLUGIN_NAMESPACE, names=[takeover.PLUGIN_NAME],
            name_order=True, invoke_on_load=False).extensions[0].plugin

    def test_claim_makes_the_in_tree_entry_point_ours(self):
        helpers.enumerated(self, helpers.OURS)
        self.assertIsNot(plugin.get_flow, self.load())
        takeover.claim_method(plugin.get_flow)
        self.assertIs(plugin.get_flow, self.load())
        takeover.claim_method(plugin.get_flow)
        self.assertIs(plugin.get_flow, self.load())

    def test_in_tree_flow_is_still_reachable_after_a_claim(self):
        in_tree = importlib.import_module(takeover.IN_TREE_MODULE)
        original = in_tree.get_flow
        takeover.claim_method(plugin.get_flow)
        with mock.patch.dict(takeover._in_tree,
                             {'get_flow': mock.Mock()}) as d:
            takeover.in_tree_flow(a=1)
            d['get_flow'].assert_called_once_with(a=1)
        self.assertIs(original, takeover._in_tree['get_flow'])


class HostFlowTest(unittest.TestCase):
    """Glance's own get_flow, with the arguments Glance passes, builds ours."""

    def setUp(self):
        self.staging = tempfile.mkdtemp()
        self.addCleanup(lambda: os.path.isdir(self.staging) and
                        os.rmdir(self.staging))
        helpers.override(self, 'enabled_backends', None)
        helpers.override(self, 'node_staging_uri', 'file://' + self.staging)
        helpers.override(self, 'enabled_import_methods',
                         ['glance-direct', 'web-download', 'glance-download'])
        boundary_fakes.restore_glance_after(self)
        self.original_execute = api_image_import._ImportMetadata.execute

    def host_flow(self):
        objs = boundary_fakes.HostObjects(stores=(None,), status='queued')
        context = boundary_fakes.context(
            boundary_fakes.catalog('http://h:9292'))
        context.owner = 'project'
        import_req = {'method': {
            'name': 'glance-download', 'glance_region': 'REGION1',
            'glance_image_id': '1d3b2bc6-2ab7-4bb3-8c0b-24e4b9d25e34',
            'glance_service_interface': 'public'}}
        # As glance.async_.taskflow_executor.TaskExecutor._get_flow passes.
        kwargs = {'task_id': objs.task_id, 'task_type': 'api_image_import',
                  'context': context, 'task_repo': objs.task_repo,
                  'image_repo': objs.image_repo, 'image_factory': None,
                  'backend': [None], 'image_id': objs.image_id,
                  'import_req': import_req}
        return objs, api_image_import.get_flow(**kwargs)

    def atoms(self, flow):
        found = []
        for atom, _ in flow.iter_nodes():
            if hasattr(atom, 'iter_nodes'):
                found.extend(self.atoms(atom))
            else:
                found.append(atom)
        return found

    def assert_ours(self):
        objs, flow = self.host_flow()
        kinds = [type(atom).__name__ for atom in self.atoms(flow)]
        start = kinds.index('ReadSourceImage')
        self.assertEqual(['ReadSourceImage', 'CopyMetadata',
                          'CopyFromTwin', 'DownloadToStaging',
                          '_VerifyStaging'], kinds[start:start + 5])
        self.assertNotIn('_DownloadGlanceImage', kinds)
        self.assertIsNot(self.original_execute,
                         api_image_import._ImportMetadata.execute)
        # Glance marked the image importing before running anything.
        self.assertEqual('importing', objs.image.status)
        # Where Glance's next task reads the staged data is where we write.
        verify = [a for a in self.atoms(flow)
                  if type(a).__name__ == '_VerifyStaging'][0]
        self.assertEqual(staging.staging_target(objs.image_id)[0], verify.uri)

    def assert_in_tree(self):
        objs, flow = self.host_flow()
        kinds = [type(atom).__name__ for atom in self.atoms(flow)]
        self.assertIn('_DownloadGlanceImage', kinds)
        self.assertNotIn('ReadSourceImage', kinds)
        self.assertIs(self.original_execute,
                      api_image_import._ImportMetadata.execute)

    def test_ours_when_found_last(self):
        helpers.enumerated(self, helpers.IN_TREE)
        self.assert_ours()

    def test_ours_when_found_first(self):
        helpers.enumerated(self, helpers.OURS)
        self.assert_ours()
        self.assert_ours()

    def test_in_tree_by_choice_when_found_last(self):
        use(self, 'in-tree')
        helpers.enumerated(self, helpers.IN_TREE)
        self.assert_in_tree()

    def test_in_tree_by_choice_when_found_first(self):
        use(self, 'in-tree')
        helpers.enumerated(self, helpers.OURS)
        self.assert_in_tree()

    def test_options_do_not_clash_with_glance(self):
        options.register_opts(CONF)
        options.register_opts(CONF)
        self.assertEqual(options.DEFAULT_PREFIXES,
                         CONF.glance_download_properties.extra_properties)
        self.assertEqual(1024 * 1024, CONF.glance_download.chunk_size)


class RecoveryHostTest(unittest.TestCase):
    """The recovery's reads and writes, over Glance's own database code."""

    def setUp(self):
        self.db = boundary_fakes.GlanceDatabase(self)

    def test_processing_import_tasks_and_how_long_unwritten(self):
        _image, dead = self.db.add_import(idle=700)
        self.db.add_import(idle=700, task_status='failure')
        _image, live = self.db.add_import(idle=2)
        found = dict(repositories.processing_import_tasks(self.db.api))
        self.assertEqual({dead, live}, set(found))
        self.assertGreaterEqual(found[dead], 700)
        self.assertLess(found[live], 60)

    def test_observe_import(self):
        image_id, task_id = self.db.add_import(idle=700,
                                               stores=('fast', 'cheap'))
        seen = repositories.observe_import(task_id, self.db.api)
        self.assertEqual(
            (task_id, 'processing', 'glance-download', image_id,
             'importing', task_id, ('fast', 'cheap')),
            (seen.task_id, seen.task_status, seen.method, seen.image_id,
             seen.image_status, seen.lock, seen.stores))
        self.assertGreaterEqual(seen.idle, 700)
        self.db.delete_image(image_id)
        seen = repositories.observe_import(task_id, self.db.api)
        self.assertEqual((None, None), (seen.image_status, seen.lock))
        self.assertIsNone(repositories.observe_import('no-such-task',
                                                      self.db.api))

    def test_touch_task_writes_only_the_time(self):
        image_id, task_id = self.db.add_import(idle=700)
        task = self.db.task(task_id)
        self.assertTrue(repositories.touch_task(task_id, image_id,
                                                self.db.api))
        after = self.db.task(task_id)
        self.assertGreater(after.updated_at, task.updated_at)
        self.assertEqual((task.status, task.message),
                         (after.status, after.message))
        self.assertLess(dict(repositories.processing_import_tasks(
            self.db.api))[task_id], 60)

    def test_touch_task_stops_once_the_import_is_not_ours(self):
        api = self.db.api
        image_id, task_id = self.db.add_import(idle=1, task_status='success')
        self.assertFalse(repositories.touch_task(task_id, image_id, api))
        image_id, task_id = self.db.add_import(idle=1, locked=False)
        self.assertFalse(repositories.touch_task(task_id, image_id, api))
        image_id, task_id = self.db.add_import(idle=1)
        self.db.delete_image(image_id)
        self.assertFalse(repositories.touch_task(task_id, image_id, api))
        self.assertFalse(repositories.touch_task('gone', image_id, api))

    def test_queue_stranded_image(self):
        image_id, task_id = self.db.add_import(idle=700,
                                               stores=('fast', 'cheap'))
        self.assertTrue(repositories.queue_stranded_image(
            image_id, task_id, ['fast', 'cheap'], self.db.api))
        image = self.db.image(image_id)
        self.assertEqual('queued', image.status)
        self.assertEqual('', image.extra_properties[
            'os_glance_importing_to_stores'])
        self.assertEqual('cheap,fast', image.extra_properties[
            'os_glance_failed_import'])
        # The lock stays until the rest is done; a second try is refused.
        self.assertEqual(task_id,
                         image.extra_properties['os_glance_import_task'])
        self.assertFalse(repositories.queue_stranded_image(
            image_id, task_id, ['fast', 'cheap'], self.db.api))

    def test_queue_refused_without_the_lock(self):
        image_id, _task = self.db.add_import(idle=700)
        self.assertFalse(repositories.queue_stranded_image(
            image_id, 'another-task', ['fast'], self.db.api))
        self.assertEqual('importing', self.db.image(image_id).status)
        self.assertFalse(repositories.queue_stranded_image(
            'no-such-image', 'another-task', ['fast'], self.db.api))

    def test_fail_stranded_task(self):
        _image, task_id = self.db.add_import(idle=700)
        self.assertTrue(repositories.fail_stranded_task(
            task_id, 'it stopped', self.db.api))
        task = self.db.task(task_id)
        self.assertEqual(('failure', 'it stopped'),
                         (task.status, task.message))
        self.assertFalse(repositories.fail_stranded_task(
            task_id, 'again', self.db.api))
        self.assertEqual('it stopped', self.db.task(task_id).message)
        self.assertFalse(repositories.fail_stranded_task(
            'gone', 'x', self.db.api))

    def test_release_import_lock_only_of_that_task(self):
        image_id, task_id = self.db.add_import(idle=700)
        self.assertFalse(repositories.release_import_lock(
            image_id, 'other', self.db.api))
        self.assertTrue(repositories.release_import_lock(
            image_id, task_id, self.db.api))
        self.assertNotIn('os_glance_import_task',
                         self.db.image(image_id).extra_properties)
        self.assertFalse(repositories.release_import_lock(
            image_id, task_id, self.db.api))

    def test_import_lock(self):
        image_id, task_id = self.db.add_import(idle=1)
        self.assertEqual(task_id,
                         repositories.import_lock(image_id, self.db.api))
        unlocked, _task = self.db.add_import(idle=1, locked=False)
        self.assertIsNone(repositories.import_lock(unlocked, self.db.api))
        self.db.delete_image(image_id)
        self.assertIsNone(repositories.import_lock(image_id, self.db.api))

    def test_image_status(self):
        image_id, _task = self.db.add_import(idle=1)
        self.assertEqual('importing', repositories.image_status(
            image_id, self.db.api))
        self.db.delete_image(image_id)
        self.assertIsNone(repositories.image_status(image_id, self.db.api))

    def test_staged_files_are_the_images_ones(self):
        image_id, _task = self.db.add_import(idle=1)
        self.db.stage(image_id + '.part', b'12345')
        self.db.stage(image_id)
        self.db.stage('notes.txt')
        self.assertEqual(self.db.staging, staging.staging_directory())
        found = staging.staged_files()
        self.assertEqual([image_id, image_id + '.part'],
                         [f.name for f in found])
        self.assertEqual(5, found[1].size)
        self.assertLess(found[1].age, 60)
        self.assertEqual([image_id + '.part'], [
            f.name for f in staging.staged_files(image_id) if f.partial])

    def test_remove_staged_only_while_the_task_holds_the_lock(self):
        image_id, task_id = self.db.add_import(idle=700)
        self.db.stage(image_id + '.part')
        self.db.stage(image_id)
        names = [image_id + '.part', image_id]
        self.assertEqual([], staging.remove_staged(image_id, names, 'other',
                                                   self.db.api))
        self.assertEqual(sorted(names), self.db.staged())
        self.assertEqual(names, staging.remove_staged(
            image_id, names, task_id, self.db.api))
        self.assertEqual([], self.db.staged())

    def test_remove_staged_keeps_other_images_files(self):
        image_id, _task = self.db.add_import(idle=700)
        other = self.db.stage('f5e1d2c3-0000-4000-8000-000000000000.part')
        self.assertEqual([], staging.remove_staged(
            image_id, [os.path.basename(other), 'missing.part']))
        self.assertTrue(os.path.exists(other))
