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

import concurrent.futures
import types
import unittest

from glance_download.client import ids
from glance_download.client import image_fields
from glance_download.client import images
from glance_download.client import plan
from glance_download.client import polling
from glance_download.client import runner
from glance_download import metadata
from glance_download import progress
from glance_download import protocol

SOURCE = {'id': 'src', 'size': 5, 'os_hash_value': 'h',
          'os_hash_algo': 'sha512', 'name': 'n',
          'disk_format': 'raw', 'container_format': 'bare'}

PROVENANCE = metadata.provenance('R1', 'src')


OWNER = 'p1'


class FakeRegion:
    """A region's image service in memory; refuse names calls to fail.

    Like Glance, an id is never given twice, not even once deleted, and an
    image takes one import at a time.
    """

    def __init__(self, region, refuse=()):
        self.region = region
        self.refuse = dict(refuse)
        self.images = {}
        self.tasks = {}
        self.calls = []
        self.reads = []
        self.used = set()

    def _check(self, call):
        self.calls.append(call)
        if call in self.refuse:
            raise images.GlanceError(f'{call} refused', self.refuse[call],
                                     f'req-{call}')

    def add(self, image_id, **fields):
        self.images[image_id] = dict(PROVENANCE, id=image_id, owner=OWNER)
        self.images[image_id].update(fields)
        self.used.add(image_id)
        return self.images[image_id]

    def create(self, fields):
        self._check('create')
        image_id = fields.get('id', 'new')
        if image_id in self.used:
            raise images.GlanceError('409 exists', 409, 'req-create')
        image = dict(fields, id=image_id, status='queued', owner=OWNER,
                     created_at='2026-01-01T10:00:05Z')
        self.images[image_id] = image
        self.used.add(image_id)
        return image, 'req-create'

    def delete(self, image_id):
        self._check('delete')
        self.images.pop(image_id, None)

    def start_import(self, image_id, source_id, region, interface):
        self._check('import')
        image = self.images.get(image_id)
        if image is None:
            raise images.GlanceError('404 gone', 404, 'req-import')
        if image['status'] != 'queued' or image.get(protocol.IMPORT_LOCK):
            raise images.GlanceError('409 active task', 409, 'req-import')
        image['status'] = 'importing'
        self.tasks[image_id] = {'id': f'task-{image_id}',
                                'status': 'processing', 'message': ''}
        return 'req-import'

    def newest_task(self, image_id):
        # Glance answers 404 for the tasks of an image that is gone.
        self.reads.append(('tasks', image_id))
        if image_id not in self.images:
            return None
        return self.tasks.get(image_id)

    def update(self, image_id, operations):
        self._check('update')
        for op in operations:
            self.images[image_id][op['path'][1:]] = op['value']
        return 'req-update'

    def get(self, image_id):
        self.reads.append(('get', image_id))
        return self.images.get(image_id)

    def finish(self, image_id, ok, message='Downloaded 5 B, sha512 verified'):
        self.images[image_id].update(
            status='active' if ok else 'queued',
            os_hash_value='h' if ok else None,
            os_hash_algo='sha512' if ok else None, size=5)
        self.tasks[image_id].update(status='success' if ok else 'failure',
                                    message=message)


class Clock:

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 1
        return self.now


def make_runner(region, **kwargs):
    kwargs.setdefault('timeout', 5)
    kwargs.setdefault('deadline', 5)
    return runner.Runner({'R2': region}, 'R1', 'public', clock=Clock(),
                         owner=OWNER, **kwargs)


def reimport_queued(**runner):
    """A runner that started the import of queued image 'a' in R2."""
    region = FakeRegion('R2')
    work = make_runner(region, **runner)
    region.images['a'] = {'id': 'a', 'status': 'queued'}
    rows = work.run([(plan.Step('R2', plan.REIMPORT, 'src', 'a'), SOURCE,
                      None)])
    return region, work, rows


def copy_ids():
    return ids.copy_ids('R1', 'src', OWNER, 'R2')


class NoWaiting:
    """polling.POLL at 0 for the test."""

    def setUp(self):
        super().setUp()
        saved = polling.POLL
        polling.POLL = 0
        self.addCleanup(setattr, polling, 'POLL', saved)


class RunnerTest(NoWaiting, unittest.TestCase):

    def run_one(self, region, step, fields=None, **kwargs):
        [row] = make_runner(region, **kwargs).run(
            [(step, SOURCE, dict(PROVENANCE) if fields is None else fields)])
        return row

    def test_create_and_import_with_the_derived_id(self):
        region = FakeRegion('R2')
        row = self.run_one(region, plan.Step('R2', plan.CREATE, 'src'))
        first = copy_ids()[0]
        self.assertEqual(('created', 'importing', first, f'task-{first}',
                          'req-import', 'ok', True),
                         (row.action, row.status, row.image_id, row.task_id,
                          row.request_id, row.outcome, row.owned))

    def test_the_ids_are_the_same_for_every_run(self):
        self.assertEqual(copy_ids(), copy_ids())
        self.assertEqual(ids.GENERATIONS, len(set(copy_ids())))
        self.assertNotEqual(copy_ids(), ids.copy_ids('R1', 'src', 'p2',
                                                     'R2'))
        self.assertNotEqual(copy_ids(), ids.copy_ids('R1', 'src', OWNER,
                                                     'R3'))

    def test_a_placeholder_made_at_the_same_time_gets_the_import(self):
        region = FakeRegion('R2')
        region.add(copy_ids()[0], status='queued')
        row = self.run_one(region, plan.Step('R2', plan.CREATE, 'src'))
        self.assertEqual(('attached', copy_ids()[0], 'importing', True,
                          True, 'ok'),
                         (row.action, row.image_id, row.status, row.waiting,
                          row.owned, row.outcome))
        self.assertIn('made at the same time by another run', row.message)
        self.assertEqual([copy_ids()[0]], list(region.images))

    def test_an_import_started_at_the_same_time_is_attached_to(self):
        region = FakeRegion('R2')
        image = region.add(copy_ids()[0], status='importing')
        region.tasks[image['id']] = {'id': 'task-0', 'status': 'processing'}
        row = self.run_one(region, plan.Step('R2', plan.CREATE, 'src'))
        self.assertEqual(('attached', 'task-0', True, False, 'ok'),
                         (row.action, row.task_id, row.waiting, row.owned,
                          row.outcome))
        self.assertNotIn('import', region.calls)
        self.assertNotIn('delete', region.calls)

    def test_an_active_copy_made_at_the_same_time_is_kept(self):
        region = FakeRegion('R2')
        region.add(copy_ids()[0], status='active', os_hash_value='h',
                   os_hash_algo='sha512', size=5)
        row = self.run_one(region, plan.Step('R2', plan.CREATE, 'src'))
        self.assertEqual(('skipped', copy_ids()[0], True, False),
                         (row.action, row.image_id, row.hash_verified,
                          row.waiting))

    def test_a_deleted_copy_s_id_is_passed_over(self):
        region = FakeRegion('R2')
        region.used.update(copy_ids()[:2])
        row = self.run_one(region, plan.Step('R2', plan.CREATE, 'src'))
        self.assertEqual(('created', copy_ids()[2]),
                         (row.action, row.image_id))

    def test_an_id_held_by_an_image_of_another_project_is_passed_over(self):
        region = FakeRegion('R2')
        region.add(copy_ids()[0], status='queued', owner='intruder')
        row = self.run_one(region, plan.Step('R2', plan.CREATE, 'src'))
        self.assertEqual(('created', copy_ids()[1]),
                         (row.action, row.image_id))
        self.assertEqual('intruder',
                         region.images[copy_ids()[0]]['owner'])

    def test_every_id_held_fails_clearly(self):
        region = FakeRegion('R2')
        region.used.update(copy_ids())
        row = self.run_one(region, plan.Step('R2', plan.CREATE, 'src'))
        self.assertEqual('failed', row.outcome)
        self.assertIn('No id is left for a new copy', row.message)

    def test_the_creator_whose_import_another_run_started_attaches(self):
        region = FakeRegion('R2')
        start_import = region.start_import

        def another_run_first(image_id, *args):
            # Another run found the placeholder and started its import.
            start_import(image_id, *args)
            return start_import(image_id, *args)
        region.start_import = another_run_first
        row = self.run_one(region, plan.Step('R2', plan.CREATE, 'src'))
        self.assertEqual(('created', copy_ids()[0], 'importing', True,
                          False, 'ok'),
                         (row.action, row.image_id, row.status, row.waiting,
                          row.owned, row.outcome))
        self.assertIn(copy_ids()[0], region.images)
        self.assertNotIn('delete', region.calls)

    def test_refused_import_deletes_the_new_placeholder(self):
        region = FakeRegion('R2', {'import': 400})
        row = self.run_one(region, plan.Step('R2', plan.CREATE, 'src'),
                           {'name': 'n'})
        self.assertEqual('failed', row.outcome)
        self.assertIn('import refused', row.message)
        self.assertIn('was deleted', row.message)
        self.assertEqual({}, region.images)
        self.assertEqual('req-import', row.request_id)

    def test_refused_reimport_keeps_the_earlier_placeholder(self):
        region = FakeRegion('R2', {'import': 403})
        region.add('old', status='queued')
        row = self.run_one(region, plan.Step('R2', plan.REIMPORT, 'src',
                                             'old'))
        self.assertEqual('failed', row.outcome)
        self.assertIn('old', region.images)

    def test_reimport_into_a_placeholder_another_run_imports_attaches(self):
        region = FakeRegion('R2')
        region.add('old', status='importing')
        region.tasks['old'] = {'id': 'task-0', 'status': 'processing'}
        row = self.run_one(region, plan.Step('R2', plan.REIMPORT, 'src',
                                             'old'))
        self.assertEqual(('attached', 'old', 'task-0', 'ok'),
                         (row.action, row.image_id, row.task_id,
                          row.outcome))

    def test_reimport_into_a_deleted_placeholder_creates_a_copy(self):
        region = FakeRegion('R2')
        row = self.run_one(region, plan.Step('R2', plan.REIMPORT, 'src',
                                             'gone'))
        self.assertEqual(('created', copy_ids()[0], 'ok'),
                         (row.action, row.image_id, row.outcome))

    def test_same_id_taken_by_a_copy_made_at_the_same_time(self):
        region = FakeRegion('R2')
        region.add('src', status='importing')
        region.tasks['src'] = {'id': 'task-0', 'status': 'processing'}
        row = self.run_one(region, plan.Step('R2', plan.CREATE, 'src'),
                           dict(PROVENANCE, id='src'))
        self.assertEqual(('attached', 'src', 'task-0', True, 'ok'),
                         (row.action, row.image_id, row.task_id, row.waiting,
                          row.outcome))
        self.assertNotIn('import', region.calls)

    def test_same_id_clash_says_so(self):
        region = FakeRegion('R2')
        region.used.add('src')
        row = self.run_one(region, plan.Step('R2', plan.CREATE, 'src'),
                           {'id': 'src'})
        self.assertIn('Image id src exists in region R2, or existed',
                      row.message)

    def test_same_id_held_by_an_image_that_is_not_a_copy(self):
        region = FakeRegion('R2')
        region.add('src', status='active', owner='alt', os_hash_value='x',
                   os_hash_algo='sha512')
        row = self.run_one(region, plan.Step('R2', plan.CREATE, 'src'),
                           dict(PROVENANCE, id='src'))
        self.assertEqual('failed', row.outcome)
        self.assertIn('holds that id but is not a copy', row.message)
        self.assertIn('owned by project alt', row.message)
        self.assertEqual('alt', region.images['src']['owner'])


class ThenTest(unittest.TestCase):
    """A region's step decided from its own checks, as soon as they end."""

    def test_decided_when_the_checks_end_not_before(self):
        checks = concurrent.futures.Future()
        seen = []
        decided = runner.then(checks, lambda copies: seen.append(copies)
                              or ('step', copies))
        self.assertFalse(decided.done())
        self.assertEqual([], seen)
        checks.set_result(['copy'])
        self.assertEqual(('step', ['copy']), decided.result(timeout=0))
        self.assertEqual([['copy']], seen)

    def test_an_error_of_either_is_the_new_future_s(self):
        checks = concurrent.futures.Future()
        decided = runner.then(checks, lambda copies: copies)
        checks.set_exception(images.GlanceError('unreachable'))
        self.assertRaises(images.GlanceError, decided.result, timeout=0)
        checks = concurrent.futures.Future()
        decided = runner.then(checks, lambda copies: 1 / 0)
        checks.set_result([])
        self.assertRaises(ZeroDivisionError, decided.result, timeout=0)


class OriginTest(NoWaiting, unittest.TestCase):

    def test_the_origin_is_recorded_once_the_import_ended(self):
        # A placeholder another run made: no PATCH while an import may
        # run in it, the origin once the copy is verified.
        region = FakeRegion('R2')
        region.add('old', status='queued')
        step = plan.Step('R2', plan.REIMPORT, 'src', 'old',
                         origin=('R3', 'relay-copy'))
        work = make_runner(region)
        [row] = work.run([(step, SOURCE, None)])
        self.assertEqual(['import'], region.calls)
        region.finish('old', True)
        work.wait([row], {'src': SOURCE})
        self.assertEqual(('ok', 'R3'), (
            row.outcome,
            region.images['old'][image_fields.PULLED_FROM_PROPERTY]))
        self.assertEqual(['import', 'update'], region.calls)


class ReplaceTest(NoWaiting, unittest.TestCase):

    def replace(self, region, copies, finish=True):
        """Run a replacement; the import ends as finish says."""
        step = plan.copy_step('R2', SOURCE, copies, 'replace')
        work = make_runner(region)
        start_import = region.start_import

        def ending(image_id, *args):
            request_id = start_import(image_id, *args)
            region.finish(image_id, finish, 'Downloaded 5 B, sha512 verified'
                          if finish else 'The data does not match')
            return request_id
        region.start_import = ending
        [row] = work.run([(step, SOURCE, dict(PROVENANCE))])
        return row

    def old_copy(self, region):
        return region.add('old', status='active', os_hash_value='h',
                          os_hash_algo='sha512', size=5,
                          created_at='2026-01-01T10:00:00Z')

    def test_the_old_copy_goes_once_the_new_one_is_verified(self):
        region = FakeRegion('R2')
        old = self.old_copy(region)
        row = self.replace(region, [old])
        new = ids.successor_ids('old')[0]
        self.assertEqual(('replaced', new, 'active', True, 'ok'),
                         (row.action, row.image_id, row.status,
                          row.hash_verified, row.outcome))
        self.assertEqual([new], list(region.images))
        self.assertIn('(old) were deleted', row.message)

    def test_a_failed_replacement_keeps_the_old_copy(self):
        region = FakeRegion('R2')
        old = self.old_copy(region)
        row = self.replace(region, [old], finish=False)
        self.assertEqual('failed', row.outcome)
        self.assertEqual(['old'], list(region.images))
        self.assertIn('were kept', row.message)
        self.assertIn('was deleted', row.message)

    def test_a_refused_replacement_keeps_the_old_copy(self):
        region = FakeRegion('R2', {'create': 403})
        old = self.old_copy(region)
        row = self.replace(region, [old])
        self.assertEqual('failed', row.outcome)
        self.assertEqual(['old'], list(region.images))

    def test_a_concurrent_replacement_is_continued(self):
        region = FakeRegion('R2')
        old = self.old_copy(region)
        new = region.add(ids.successor_ids('old')[0], status='importing',
                         created_at='2026-01-01T10:00:09Z')
        region.tasks[new['id']] = {'id': 'task-n', 'status': 'processing'}
        step = plan.copy_step('R2', SOURCE, [old, new], 'replace')
        self.assertEqual((new['id'], ('old',)), (step.image_id, step.delete))
        work = make_runner(region)
        region.finish(new['id'], True)
        [row] = work.run([(step, SOURCE, dict(PROVENANCE))])
        self.assertEqual(('replaced', new['id'], 'ok'),
                         (row.action, row.image_id, row.outcome))
        self.assertEqual([new['id']], list(region.images))
        self.assertNotIn('create', region.calls)


class ImportCapTest(NoWaiting, unittest.TestCase):

    def test_imports_beyond_the_cap_wait_for_a_slot(self):
        region = FakeRegion('R2')
        for name in ('a', 'b', 'c'):
            region.add(name, status='queued')
        started = []
        start_import = region.start_import

        def counted(image_id, *args):
            in_flight = [i for i in region.images.values()
                         if i['status'] == 'importing']
            started.append((image_id, len(in_flight)))
            return start_import(image_id, *args)
        region.start_import = counted
        newest_task = region.newest_task

        def ends_when_read(image_id):
            # Each import ends at the first look at it.
            if region.images.get(image_id, {}).get('status') == 'importing':
                region.finish(image_id, True)
            return newest_task(image_id)
        region.newest_task = ends_when_read
        work = make_runner(region, max_imports=1, deadline=None)
        rows = work.run([(plan.Step('R2', plan.REIMPORT, 'src', name),
                          SOURCE, None) for name in ('a', 'b', 'c')])
        self.assertEqual([0, 0, 0], [count for _, count in started])
        self.assertEqual(['a', 'b', 'c'], [i for i, _ in started])
        self.assertEqual(['ok'] * 3, [r.outcome for r in rows])

    def test_imports_never_started_by_the_deadline_say_so(self):
        region = FakeRegion('R2')
        for name in ('a', 'b'):
            region.add(name, status='queued')
        work = make_runner(region, max_imports=1, deadline=5)
        rows = work.run([(plan.Step('R2', plan.REIMPORT, 'src', name),
                          SOURCE, None) for name in ('a', 'b')])
        self.assertEqual(['ok', 'timeout'], [r.outcome for r in rows])
        self.assertIn('Not started', rows[1].message)
        self.assertEqual('queued', region.images['b']['status'])


class WaitTest(NoWaiting, unittest.TestCase):

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
        work.wait(rows, {'src': SOURCE})
        self.assertEqual(['ok', 'failed', 'timeout'],
                         [r.outcome for r in rows])
        self.assertTrue(rows[0].hash_verified)
        self.assertEqual('active', rows[0].status)
        self.assertEqual(('queued', 'The data does not match'),
                         (rows[1].status, rows[1].message))
        self.assertIn('--wait', rows[2].message)
        self.assertEqual(plan.EXIT_TIMEOUT,
                         plan.exit_code(r.outcome for r in rows))

    def test_a_running_import_costs_one_request_a_poll(self):
        region, work, rows = reimport_queued(timeout=60, deadline=60)
        polls = iter(range(3))
        newest_task = region.newest_task

        def ends_at_the_third_poll(image_id):
            if next(polls, None) is None:
                region.finish('a', True)
            return newest_task(image_id)
        region.newest_task = ends_at_the_third_poll
        region.reads.clear()
        work.wait(rows, {'src': SOURCE})
        self.assertEqual('ok', rows[0].outcome)
        # The task alone while it runs; the image once, when it ended.
        self.assertEqual([('tasks', 'a')] * 4 + [('get', 'a')],
                         region.reads)

    def test_an_image_deleted_during_its_import_is_seen_by_its_task(self):
        region, work, rows = reimport_queued()
        del region.images['a']
        work.wait(rows, {'src': SOURCE})
        self.assertEqual(('failed', 'deleted'),
                         (rows[0].outcome, rows[0].status))
        self.assertIn('was deleted during its import', rows[0].message)

    def test_the_closing_message_of_the_method_is_kept(self):
        region, work, rows = reimport_queued()
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
        work.wait(rows, {'src': SOURCE})
        self.assertEqual(('ok', 'Downloaded 5 B, sha512 verified; the copy '
                          'matches by os_hash_value (sha512).'),
                         (rows[0].outcome, rows[0].message))

    def test_the_closing_message_is_recognised(self):
        result = types.SimpleNamespace(bytes=5, seconds=1.0,
                                       algorithm='sha512', resumes=0,
                                       restarts=0)
        self.assertTrue(progress.describe_done(result, 'R1').startswith(
            progress.DONE_PREFIX))

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
            def update(self, label, status, message, via=''):
                seen.append((label, status, message))

        work.wait(rows, {'s1': SOURCE, 's2': SOURCE},
                  display=Shown())
        self.assertEqual([('R2 s1', 'active', 'done'),
                          ('R2 s2', 'active', 'done')], seen)
