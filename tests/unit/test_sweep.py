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

"""One sweep over Glance's own database code and a staging directory."""

import os
import threading
import time
import unittest
from unittest import mock

from oslo_config import cfg

from glance.async_.flows import api_image_import
import glance.db

from glance_download.boundary import repositories
from glance_download.boundary import stores
from glance_download import options
from glance_download import plugin
from glance_download import recovery
from glance_download import sweep
from tests.unit import boundary_fakes
from tests.unit import helpers

CONF = cfg.CONF


class SweepTest(unittest.TestCase):

    def setUp(self):
        options.register_opts(CONF)
        self.db = boundary_fakes.GlanceDatabase(self)
        for name, value in (('heartbeat_interval', 1.0),
                            ('stale_after', 600.0)):
            helpers.override(self, name, value, group=options.GROUP)

    def sweep(self):
        return sweep.sweep_once(CONF, self.db.api)

    def test_dead_import_is_recovered(self):
        image_id, task_id = self.db.add_import(idle=700,
                                               stores=('fast', 'cheap'))
        self.db.stage(image_id + '.part')
        # What the store step wrote before the kill, without a location.
        stored = os.path.join(boundary_fakes.file_store(self), image_id)
        with open(stored, 'wb') as f:
            f.write(b'partial')
        report = self.sweep()
        self.assertFalse(os.path.exists(stored))
        self.assertIn(stored, report.recovered[0].removed)
        self.assertEqual([(image_id, task_id)],
                         [(r.image_id, r.task_id) for r in report.recovered])
        self.assertEqual([a.value for a in recovery.Action],
                         report.recovered[0].steps)
        image = self.db.image(image_id)
        self.assertEqual('queued', image.status)
        self.assertNotIn('os_glance_import_task', image.extra_properties)
        self.assertEqual('cheap,fast',
                         image.extra_properties['os_glance_failed_import'])
        task = self.db.task(task_id)
        self.assertEqual('failure', task.status)
        self.assertIn('stopped during it', task.message)
        self.assertEqual([], self.db.staged())

    def test_store_data_a_location_names_is_kept(self):
        image_id, _task = self.db.add_import(idle=700)
        stored = os.path.join(boundary_fakes.file_store(self), image_id)
        with open(stored, 'wb') as f:
            f.write(b'complete')
        self.db.locate(image_id, 'file://' + stored)
        report = self.sweep()
        self.assertTrue(os.path.exists(stored))
        self.assertNotIn(recovery.Action.REMOVE_UNRECORDED.value,
                         report.recovered[0].steps)

    def test_stores_that_are_not_file_stores(self):
        boundary_fakes.file_store(self)
        self.assertEqual([], stores.not_file_stores([None, 'fast']))
        helpers.override(self, 'default_store', 'rbd', group='glance_store')
        self.assertEqual(['default'], stores.not_file_stores([None]))

    def test_store_data_of_another_driver_is_not_looked_for(self):
        image_id, _task = self.db.add_import(idle=700)
        stored = os.path.join(boundary_fakes.file_store(self), image_id)
        with open(stored, 'wb') as f:
            f.write(b'partial')
        helpers.override(self, 'default_store', 'rbd', group='glance_store')
        self.sweep()
        self.assertTrue(os.path.exists(stored))

    def test_part_file_with_its_sidecar_is_kept_for_a_resume(self):
        image_id, _task = self.db.add_import(idle=700)
        for name in ('.part', '.part.json', ''):
            self.db.stage(image_id + name)
        self.sweep()
        self.assertEqual('queued', self.db.image(image_id).status)
        kept = [image_id + '.part', image_id + '.part.json']
        self.assertEqual(kept, self.db.staged())
        # Not an orphan while its image waits for the next import ...
        self.assertEqual([], self.sweep().parts_removed)
        self.assertEqual(kept, self.db.staged())
        # ... but gone with its image.
        self.db.delete_image(image_id)
        self.assertEqual(kept, sorted(f.name for f in
                                      self.sweep().parts_removed))
        self.assertEqual([], self.db.staged())

    def test_in_tree_imports_are_left_alone(self):
        # Glance's own method writes no heartbeat: a long download of its
        # must not be taken for dead.
        CONF.set_override('implementation', 'in-tree', group=options.GROUP)
        self.addCleanup(CONF.clear_override, 'implementation',
                        group=options.GROUP)
        image_id, task_id = self.db.add_import(idle=700)
        self.assertEqual([], self.sweep().recovered)
        self.assertEqual('importing', self.db.image(image_id).status)
        self.assertEqual('processing', self.db.task(task_id).status)

    def test_live_and_foreign_imports_are_left_alone(self):
        live = self.db.add_import(idle=30)
        other = self.db.add_import(idle=700, method='web-download')
        unlocked = self.db.add_import(idle=700, locked=False)
        for image_id, _task in (live, other, unlocked):
            self.db.stage(image_id + '.part')
        report = self.sweep()
        self.assertEqual([], report.recovered)
        for image_id, task_id in (live, other, unlocked):
            self.assertEqual('importing', self.db.image(image_id).status)
            self.assertEqual('processing', self.db.task(task_id).status)
        self.assertEqual(3, len(self.db.staged()))

    def test_task_of_a_deleted_image_is_failed(self):
        image_id, task_id = self.db.add_import(idle=700)
        self.db.stage(image_id + '.part')
        self.db.delete_image(image_id)
        report = self.sweep()
        self.assertEqual(['fail the task'], report.recovered[0].steps)
        self.assertIn('deleted since', self.db.task(task_id).message)
        self.assertEqual([image_id], [f.image_id
                                      for f in report.parts_removed])
        self.assertEqual([], self.db.staged())

    def test_too_small_a_bound_is_raised(self):
        helpers.override(self, 'heartbeat_interval', 200.0,
                         group=options.GROUP)
        image_id, _task = self.db.add_import(idle=700)
        self.assertEqual(1000, sweep.bound(CONF))
        self.assertEqual([], self.sweep().recovered)
        self.assertEqual('importing', self.db.image(image_id).status)

    def test_interrupted_recovery_is_finished(self):
        image_id, task_id = self.db.add_import(idle=700,
                                               image_status='queued')
        self.db.stage(image_id)
        report = self.sweep()
        self.assertEqual(['remove the staged data', 'fail the task',
                          'release the import lock'],
                         report.recovered[0].steps)
        self.assertEqual('failure', self.db.task(task_id).status)
        self.assertEqual([], self.db.staged())

    def test_a_sweep_that_comes_second_does_nothing(self):
        # Two sweeps read the same stale import; one acts after the other
        # is done, on what it read before.
        for image_status in ('importing', 'queued'):
            image_id, task_id = self.db.add_import(idle=700,
                                                   image_status=image_status)
            (first_read, verdict), = sweep.find_stale(CONF, self.db.api)
            (second_read, _v), = sweep.find_stale(CONF, self.db.api)
            self.assertTrue(sweep.recover(first_read, verdict,
                                          self.db.api).steps)
            # A new import takes the image and starts writing.
            self.db.api.image_update(
                self.db.context, image_id,
                {'status': 'importing',
                 'properties': {'os_glance_import_task': 'new-task'}})
            self.db.stage(image_id + '.part')
            late = sweep.recover(second_read, verdict, self.db.api)
            self.assertEqual(([], []), (late.steps, late.removed))
            self.assertEqual([image_id + '.part'], self.db.staged())
            image = self.db.image(image_id)
            self.assertEqual('new-task',
                             image.extra_properties['os_glance_import_task'])
            self.assertEqual('importing', image.status)
            self.db.delete_image(image_id)
            self.sweep()

    def test_orphan_part_files_are_removed(self):
        deleted, _t = self.db.add_import(idle=1)
        self.db.delete_image(deleted)
        queued, _t = self.db.add_import(idle=1, image_status='queued',
                                        locked=False)
        live, _t = self.db.add_import(idle=1)
        never = 'f5e1d2c3-0000-4000-8000-000000000000'
        for image_id in (deleted, queued, live, never):
            self.db.stage(image_id + '.part')
        # Glance's own: glance-direct's upload, and a file it ignores.
        self.db.stage(queued)
        self.db.stage('README')
        report = self.sweep()
        self.assertEqual(sorted([deleted, queued, never]),
                         sorted(f.image_id for f in report.parts_removed))
        self.assertEqual(sorted([live + '.part', queued, 'README']),
                         self.db.staged())


class StartTest(unittest.TestCase):

    def test_one_sweeper_per_process(self):
        options.register_opts(CONF)
        helpers.override(self, 'recovery_interval', 3600,
                         group=options.GROUP)
        sweep._started.clear()
        self.addCleanup(sweep._started.clear)
        first = sweep.ensure_started(CONF)
        self.addCleanup(first.stop)
        self.assertIs(first, sweep.ensure_started(CONF))
        self.assertEqual(0, first.calls)

    def test_sweeps_until_stopped_past_a_failed_sweep(self):
        conf = helpers.make_conf(heartbeat_interval=10.0, stale_after=20.0,
                                 recovery_interval=1.0)
        swept = threading.Event()
        seen = []

        def sweep_once(conf_seen):
            seen.append(conf_seen)
            if len(seen) == 1:
                raise RuntimeError('database is locked')
            swept.set()
        patcher = mock.patch.object(sweep, 'sweep_once', sweep_once)
        patcher.start()
        self.addCleanup(patcher.stop)
        sweeper = sweep.Sweeper(conf)
        self.assertEqual(1.0, sweeper.interval)
        sweeper.interval = 0.01
        with self.assertLogs('glance_download', 'WARNING') as logs:
            sweeper.start()
            self.addCleanup(sweeper.stop)
            self.assertTrue(swept.wait(10))
            sweeper.stop()
            self.assertTrue(sweeper.join(10))
        self.assertIs(conf, seen[0])
        self.assertGreaterEqual(sweeper.calls, 1)
        self.assertEqual(len(seen) - 1, sweeper.calls)
        messages = [record.getMessage() for record in logs.records]
        # The settings warning first: stale_after is under five beats.
        self.assertIn('less than 5 times heartbeat_interval', messages[0])
        self.assertIn('The sweep for stopped imports failed (RuntimeError: '
                      'database is locked)', messages[1])

    def test_paste_filter_changes_no_request(self):
        started = []
        real = sweep.ensure_started
        sweep.ensure_started = started.append
        self.addCleanup(setattr, sweep, 'ensure_started', real)
        app = object()
        self.assertIs(app, sweep.filter_factory({})(app))
        self.assertEqual(1, len(started))


class PluginTest(unittest.TestCase):
    """Building an import starts its heartbeat and the process's sweeper."""

    def test_heartbeat_and_sweeper_start_with_the_import(self):
        boundary_fakes.restore_glance_after(self)
        db = boundary_fakes.GlanceDatabase(self)
        patcher = mock.patch('glance.db.get_api', return_value=db.api)
        patcher.start()
        self.addCleanup(patcher.stop)
        options.register_opts(CONF)
        for name, value in (('heartbeat_interval', 0.5),
                            ('recovery_interval', 3600.0)):
            helpers.override(self, name, value, group=options.GROUP)
        sweep._started.clear()
        self.addCleanup(sweep._started.clear)
        image_id, task_id = db.add_import(idle=700)
        image_repo = glance.db.ImageRepo(db.context, db.api)
        plugin.get_flow(
            task_id=task_id, task_type='api_image_import',
            context=boundary_fakes.context([]),
            task_repo=glance.db.TaskRepo(db.context, db.api),
            image_repo=image_repo, image_id=image_id, backend=['fast'],
            import_req={'method': {'name': 'glance-download'}},
            action_wrapper=api_image_import.ImportActionWrapper(
                image_repo, image_id, task_id))
        self.addCleanup(sweep._started[os.getpid()].stop)
        # Nothing of the flow runs: the task is written all the same.
        deadline = time.monotonic() + 30
        while dict(repositories.processing_import_tasks(db.api))[task_id] > 60:
            self.assertLess(time.monotonic(), deadline, 'no heartbeat')
            time.sleep(0.05)
        # Once the task ends, the heartbeat no longer writes it.
        db.api.task_update(db.context, task_id, {'status': 'success'})
        time.sleep(1.0)  # a beat already under way ends
        written = db.task(task_id).updated_at
        time.sleep(1.5)
        self.assertEqual(written, db.task(task_id).updated_at)
