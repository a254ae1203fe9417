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

"""The decisions about imports whose glance-api stopped."""

import unittest

from glance_download import recovery

A = recovery.Action
TASK = 'task-1'
IMAGE = '0b6d3d7e-1f1c-4c83-9d7c-6d4c3c1b2a10'


def observed(**changes):
    values = dict(task_id=TASK, task_status='processing',
                  method='glance-download', idle=1000.0, image_id=IMAGE,
                  image_status='importing', lock=TASK, stores=('fast',))
    values.update(changes)
    return recovery.Observed(**values)


class DecideTest(unittest.TestCase):

    def test_stale_import_is_recovered_in_order(self):
        verdict = recovery.decide(observed(), 600)
        self.assertTrue(verdict.stale)
        self.assertEqual((A.QUEUE_IMAGE, A.REMOVE_STAGED, A.REMOVE_UNRECORDED,
                          A.FAIL_TASK, A.RELEASE_LOCK), verdict.actions)
        self.assertIn('16 min', verdict.reason)
        self.assertEqual(recovery.stopped_message(1000), verdict.message)

    def test_written_within_the_bound_is_alive(self):
        verdict = recovery.decide(observed(idle=599.9), 600)
        self.assertFalse(verdict.stale)
        self.assertEqual((), verdict.actions)
        self.assertIn('alive', verdict.reason)

    def test_only_glance_download_imports(self):
        for method in ('web-download', 'copy-image', None):
            self.assertFalse(
                recovery.decide(observed(method=method), 600).stale)

    def test_only_processing_tasks(self):
        for status in ('pending', 'success', 'failure'):
            self.assertFalse(
                recovery.decide(observed(task_status=status), 600).stale)

    def test_only_while_the_task_holds_the_lock(self):
        self.assertFalse(recovery.decide(observed(lock=None), 600).stale)
        verdict = recovery.decide(observed(lock='other'), 600)
        self.assertFalse(verdict.stale)
        self.assertIn('not locked', verdict.reason)

    def test_task_of_a_deleted_image_is_only_failed(self):
        verdict = recovery.decide(observed(image_status=None, lock=None),
                                  600)
        self.assertTrue(verdict.stale)
        self.assertEqual((A.FAIL_TASK,), verdict.actions)
        self.assertIn('image was deleted since', verdict.message)
        self.assertFalse(recovery.decide(
            observed(image_status=None, idle=30), 600).stale)

    def test_image_elsewhere(self):
        for status in ('active', 'uploading', 'deactivated'):
            self.assertFalse(
                recovery.decide(observed(image_status=status), 600).stale)

    def test_queued_image_under_the_lock_finishes_the_steps_left(self):
        verdict = recovery.decide(observed(image_status='queued'), 600)
        self.assertTrue(verdict.stale)
        self.assertEqual((A.REMOVE_STAGED, A.REMOVE_UNRECORDED, A.FAIL_TASK,
                          A.RELEASE_LOCK), verdict.actions)


class SettingsTest(unittest.TestCase):

    def test_bound_is_many_heartbeats(self):
        self.assertIsNone(recovery.settings_problem(30, 150))
        self.assertEqual(900, recovery.stale_bound(30, 900))
        problem = recovery.settings_problem(30, 60)
        self.assertIn('less than 5 times heartbeat_interval', problem)
        self.assertIn('150 s is used', problem)
        self.assertEqual(150, recovery.stale_bound(30, 60))


class MessageTest(unittest.TestCase):

    def test_says_what_happened_and_what_to_do(self):
        message = recovery.stopped_message(1900)
        self.assertIn('glance-api running this import stopped', message)
        self.assertIn('31 min', message)
        self.assertIn('queued again', message)
        self.assertIn('import it again', message)

    def test_ages(self):
        self.assertEqual('59 s', recovery.describe_age(59.9))
        self.assertEqual('2 min', recovery.describe_age(120))
        self.assertEqual('2.5 h', recovery.describe_age(9000))


def staged(name, size=5, age=10.0):
    return recovery.StagedFile(name, size, age)


class ResidueTest(unittest.TestCase):

    def test_part_without_sidecar_and_verified_data_go(self):
        files = [staged(IMAGE + '.part'), staged(IMAGE),
                 staged('f5e1d2c3-0000-4000-8000-000000000000.part')]
        self.assertEqual([IMAGE + '.part', IMAGE],
                         recovery.staged_residue(IMAGE, files))
        self.assertEqual([], recovery.staged_residue(IMAGE, []))

    def test_part_with_its_sidecar_is_kept_for_a_resume(self):
        files = [staged(IMAGE + '.part'), staged(IMAGE + '.part.json'),
                 staged(IMAGE)]
        self.assertEqual([IMAGE], recovery.staged_residue(IMAGE, files))
        self.assertEqual({IMAGE + '.part', IMAGE + '.part.json'},
                         recovery.kept_for_resume(
                             IMAGE, [f.name for f in files]))
        files.append(staged(IMAGE + '.part.json.new'))
        self.assertEqual([IMAGE, IMAGE + '.part.json.new'],
                         recovery.staged_residue(IMAGE, files))

    def test_sidecar_alone_goes(self):
        files = [staged(IMAGE + '.part.json')]
        self.assertEqual([IMAGE + '.part.json'],
                         recovery.staged_residue(IMAGE, files))
        self.assertEqual(set(), recovery.kept_for_resume(
            IMAGE, [IMAGE + '.part', 'other.part.json']))

    def test_staged_file(self):
        part = staged(IMAGE + '.part', size=3 * 2 ** 20, age=300)
        self.assertEqual(IMAGE, part.image_id)
        self.assertTrue(part.partial)
        self.assertFalse(staged(IMAGE).partial)
        self.assertEqual(IMAGE + '.part: 3.0 MiB, 5 min old',
                         part.describe())


class OrphanPartTest(unittest.TestCase):

    def test_part_kept_only_while_its_image_imports(self):
        part = staged(IMAGE + '.part')
        self.assertFalse(recovery.orphan_part(part, 'importing'))
        for status in (None, 'queued', 'active', 'deleted', 'uploading'):
            self.assertTrue(recovery.orphan_part(part, status), status)

    def test_part_kept_for_a_resume_lives_while_its_image_is_queued(self):
        self.assertTrue(staged(IMAGE + '.part.json.new').partial)
        for name in (IMAGE + '.part', IMAGE + '.part.json'):
            part = staged(name)
            self.assertTrue(part.partial)
            self.assertFalse(recovery.orphan_part(part, 'queued', kept=True))
            self.assertFalse(recovery.orphan_part(part, 'importing',
                                                  kept=True))
            for status in (None, 'active', 'deleted', 'uploading'):
                self.assertTrue(recovery.orphan_part(part, status, kept=True),
                                status)

    def test_only_part_files(self):
        # <id> alone is glance-direct's staged upload, or Glance's to
        # remove when the image is deleted.
        self.assertFalse(recovery.orphan_part(staged(IMAGE), None))
        self.assertFalse(recovery.orphan_part(staged(IMAGE), 'uploading'))
