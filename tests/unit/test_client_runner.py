# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

import types
import unittest

from glance_download.client import images
from glance_download.client import plan
from glance_download.client import runner
from glance_download import metadata
from glance_download import progress

SOURCE = {'id': 'src', 'size': 5, 'os_hash_value': 'h', 'name': 'n',
          'disk_format': 'raw', 'container_format': 'bare'}

PROVENANCE = metadata.provenance('R1', 'src')


class FakeRegion:
    """A region's image service in memory; refuse names calls to fail."""

    def __init__(self, region, refuse=()):
        self.region = region
        self.refuse = dict(refuse)
        self.images = {}
        self.tasks = {}
        self.calls = []

    def _check(self, call):
        self.calls.append(call)
        if call in self.refuse:
            raise images.GlanceError(f'{call} refused', self.refuse[call],
                                     f'req-{call}')

    def create(self, fields):
        self._check('create')
        image = dict(fields, id=fields.get('id', 'new'), status='queued',
                     created_at='2026-01-01T10:00:05Z')
        self.images[image['id']] = image
        return image, 'req-create'

    def delete(self, image_id):
        self._check('delete')
        self.images.pop(image_id, None)

    def copies(self, owner, source_region, source_id=None):
        self._check('copies')
        return [i for i in self.images.values()
                if i.get(metadata.SOURCE_IMAGE_PROPERTY) == source_id]

    def start_import(self, image_id, source_id, region, interface):
        self._check('import')
        self.images[image_id]['status'] = 'importing'
        self.tasks[image_id] = {'id': 'task-1', 'status': 'processing',
                                'message': ''}
        return 'req-import'

    def newest_task(self, image_id):
        return self.tasks.get(image_id)

    def get(self, image_id):
        return self.images.get(image_id)

    def finish(self, image_id, ok, message):
        self.images[image_id].update(
            status='active' if ok else 'queued',
            os_hash_value='h' if ok else None, size=5)
        self.tasks[image_id].update(status='success' if ok else 'failure',
                                    message=message)


class Clock:

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 1
        return self.now


def make_runner(region):
    return runner.Runner({'R2': region}, 'R1', 'public', clock=Clock())


class RunnerTest(unittest.TestCase):

    def test_create_and_import(self):
        region = FakeRegion('R2')
        step = plan.Step('R2', plan.CREATE, 'src')
        [row] = make_runner(region).run([(step, SOURCE, {'name': 'n'})])
        self.assertEqual(('created', 'importing', 'new', 'task-1',
                          'req-import', 'ok'),
                         (row.action, row.status, row.image_id, row.task_id,
                          row.request_id, row.outcome))

    def test_a_copy_made_at_the_same_time_is_used_instead(self):
        region = FakeRegion('R2')
        region.images['old'] = dict(PROVENANCE, id='old', status='queued',
                                    created_at='2026-01-01T10:00:04Z')
        step = plan.Step('R2', plan.CREATE, 'src')
        [row] = make_runner(region).run([(step, SOURCE, PROVENANCE)])
        self.assertEqual(['old'], list(region.images))
        self.assertEqual(('attached', 'old', 'queued', True, 'ok'),
                         (row.action, row.image_id, row.status, row.waiting,
                          row.outcome))
        self.assertIn('copy new this run created was deleted', row.message)
        self.assertNotIn('import', region.calls)

    def test_an_active_copy_made_at_the_same_time_is_kept(self):
        region = FakeRegion('R2')
        region.images['done'] = dict(PROVENANCE, id='done', status='active',
                                     os_hash_value='h', size=5,
                                     created_at='2026-01-01T10:00:09Z')
        step = plan.Step('R2', plan.CREATE, 'src')
        [row] = make_runner(region).run([(step, SOURCE, PROVENANCE)])
        self.assertEqual(['done'], list(region.images))
        self.assertEqual(('skipped', 'done', True, False),
                         (row.action, row.image_id, row.hash_verified,
                          row.waiting))

    def test_the_older_copy_of_this_run_is_imported_into(self):
        region = FakeRegion('R2')
        region.images['young'] = dict(PROVENANCE, id='young',
                                      status='queued',
                                      created_at='2026-01-01T10:00:06Z')
        step = plan.Step('R2', plan.CREATE, 'src')
        [row] = make_runner(region).run([(step, SOURCE, PROVENANCE)])
        self.assertEqual(('created', 'new', 'importing'),
                         (row.action, row.image_id, row.status))
        self.assertEqual({'young', 'new'}, set(region.images))

    def test_same_id_taken_by_a_copy_made_at_the_same_time(self):
        region = FakeRegion('R2', {'create': 409})
        region.images['src'] = dict(PROVENANCE, id='src', status='importing',
                                    owner='p1')
        region.tasks['src'] = {'id': 'task-0', 'status': 'processing'}
        step = plan.Step('R2', plan.CREATE, 'src')
        work = runner.Runner({'R2': region}, 'R1', 'public', clock=Clock(),
                             owner='p1')
        [row] = work.run([(step, SOURCE, dict(PROVENANCE, id='src'))])
        self.assertEqual(('attached', 'src', 'task-0', True, 'ok'),
                         (row.action, row.image_id, row.task_id, row.waiting,
                          row.outcome))
        self.assertNotIn('import', region.calls)

    def test_a_failed_second_look_does_not_stop_the_import(self):
        region = FakeRegion('R2', {'copies': 500})
        step = plan.Step('R2', plan.CREATE, 'src')
        [row] = make_runner(region).run([(step, SOURCE, PROVENANCE)])
        self.assertEqual(('created', 'importing', 'ok'),
                         (row.action, row.status, row.outcome))

    def test_refused_import_deletes_the_new_placeholder(self):
        region = FakeRegion('R2', {'import': 400})
        step = plan.Step('R2', plan.CREATE, 'src')
        [row] = make_runner(region).run([(step, SOURCE, {'name': 'n'})])
        self.assertEqual('failed', row.outcome)
        self.assertIn('import refused', row.message)
        self.assertIn('was deleted', row.message)
        self.assertEqual({}, region.images)
        self.assertEqual('req-import', row.request_id)

    def test_refused_reimport_keeps_the_earlier_placeholder(self):
        region = FakeRegion('R2', {'import': 409})
        region.images['old'] = {'id': 'old', 'status': 'queued'}
        step = plan.Step('R2', plan.REIMPORT, 'src', 'old')
        [row] = make_runner(region).run([(step, SOURCE, None)])
        self.assertEqual('failed', row.outcome)
        self.assertIn('old', region.images)

    def test_same_id_clash_says_so(self):
        region = FakeRegion('R2', {'create': 409})
        step = plan.Step('R2', plan.CREATE, 'src')
        [row] = make_runner(region).run([(step, SOURCE, {'id': 'src'})])
        self.assertIn('Image id src exists in region R2, or existed',
                      row.message)

    def test_fail_step_does_nothing(self):
        region = FakeRegion('R2')
        step = plan.Step('R2', plan.FAIL, 'src', reason='no method')
        [row] = make_runner(region).run([(step, SOURCE, None)])
        self.assertEqual(('failed', 'no method', []),
                         (row.outcome, row.message, region.calls))

    def test_wait_success_failure_timeout(self):
        region = FakeRegion('R2')
        work = make_runner(region)
        rows = []
        for image_id in ('a', 'b', 'c'):
            region.images[image_id] = {'id': image_id, 'status': 'queued'}
            rows += work.run([(plan.Step('R2', plan.REIMPORT, 'src',
                                         image_id), SOURCE, None)])
        region.finish('a', True, 'Downloaded, sha512 verified')
        region.finish('b', False, 'The data does not match')
        runner.POLL, saved = 0, runner.POLL
        try:
            work.wait(rows, {'src': SOURCE}, timeout=5)
        finally:
            runner.POLL = saved
        self.assertEqual(['ok', 'failed', 'timeout'],
                         [r.outcome for r in rows])
        self.assertTrue(rows[0].hash_verified)
        self.assertEqual('active', rows[0].status)
        self.assertEqual(('queued', 'The data does not match'),
                         (rows[1].status, rows[1].message))
        self.assertIn('--wait', rows[2].message)
        self.assertEqual(plan.EXIT_TIMEOUT,
                         plan.exit_code(r.outcome for r in rows))

    def test_the_closing_message_of_the_method_is_kept(self):
        region = FakeRegion('R2')
        work = make_runner(region)
        region.images['a'] = {'id': 'a', 'status': 'queued'}
        rows = work.run([(plan.Step('R2', plan.REIMPORT, 'src', 'a'),
                          SOURCE, None)])
        # One poll sees the method's closing message, the next one the
        # import over, with Glance's own last message.
        messages = iter(['Downloaded 5 B, sha512 verified'])

        def newest_task(image_id):
            message = next(messages, None)
            if message is None:
                region.finish('a', True, 'Copied 5 B')
            else:
                region.tasks['a']['message'] = message
            return region.tasks['a']
        region.newest_task = newest_task
        runner.POLL, saved = 0, runner.POLL
        try:
            work.wait(rows, {'src': SOURCE}, timeout=5)
        finally:
            runner.POLL = saved
        self.assertEqual(('ok', 'Downloaded 5 B, sha512 verified'),
                         (rows[0].outcome, rows[0].message))

    def test_the_closing_message_is_recognised(self):
        result = types.SimpleNamespace(bytes=5, seconds=1.0,
                                       algorithm='sha512', resumes=0,
                                       restarts=0)
        self.assertTrue(progress.describe_done(result, 'R1').startswith(
            runner._DOWNLOADED))

    def test_progress_names_the_image_when_there_are_several(self):
        region = FakeRegion('R2')
        work = make_runner(region)
        rows = []
        for image_id, source_id in (('a', 's1'), ('b', 's2')):
            region.images[image_id] = {'id': image_id, 'status': 'queued'}
            rows += work.run([(plan.Step('R2', plan.REIMPORT, source_id,
                                         image_id), SOURCE, None)])
            region.finish(image_id, True, 'done')
        seen = []

        class Shown:
            def update(self, label, status, message):
                seen.append((label, status, message))

        work.wait(rows, {'s1': SOURCE, 's2': SOURCE}, timeout=5,
                  display=Shown())
        self.assertEqual([('R2 s1', 'active', 'done'),
                          ('R2 s2', 'active', 'done')], seen)
