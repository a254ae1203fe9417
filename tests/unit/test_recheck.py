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

import threading
import unittest

from glance_download import errors
from glance_download import recheck


class DueTest(unittest.TestCase):

    def test_the_bytes_left_within_the_answer_time(self):
        # 90 of 100 bytes in 0.9 s: 10 left, 0.1 s at that pace.
        self.assertTrue(recheck.due(90, 100, 0.9, 0.1))
        self.assertTrue(recheck.due(100, 100, 0.9, 0.1))
        self.assertFalse(recheck.due(80, 100, 0.8, 0.1))

    def test_never_without_a_latency_or_a_byte(self):
        self.assertFalse(recheck.due(99, 100, 1.0, None))
        self.assertFalse(recheck.due(0, 100, 1.0, 10.0))
        self.assertFalse(recheck.due(50, 100, 0.0, 10.0))


class FreshTest(unittest.TestCase):

    def test_at_most_two_answer_times_before_the_end(self):
        self.assertTrue(recheck.fresh(10.0, 10.2, 0.1))
        self.assertFalse(recheck.fresh(10.0, 10.3, 0.1))


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class RecheckTest(unittest.TestCase):

    def setUp(self):
        self.clock = _Clock()
        self.looks = []
        self.errors = []

    def look(self):
        self.looks.append(self.clock.now)
        if self.errors:
            raise self.errors.pop(0)

    def recheck(self, latency=0.1):
        return recheck.Recheck(self.look, latency, clock=self.clock)

    def progress(self, check, *points):
        for at, done in points:
            self.clock.now = at
            check.watch(done, 100)

    def test_sent_near_the_end_and_not_again(self):
        check = self.recheck()
        self.progress(check, (0.5, 50), (0.8, 80), (0.9, 90))
        self.clock.now = 1.0
        check.finish()
        self.assertEqual([0.9], self.looks)

    def test_read_again_when_the_download_slowed_down(self):
        check = self.recheck()
        self.progress(check, (0.9, 90))
        self.clock.now = 5.0
        check.finish()
        self.assertEqual([0.9, 5.0], self.looks)

    def test_read_at_the_end_when_never_due(self):
        check = self.recheck(latency=None)
        self.progress(check, (0.9, 99))
        self.clock.now = 1.0
        check.finish()
        self.assertEqual([1.0], self.looks)

    def test_a_failed_early_read_is_made_again_and_raises(self):
        deactivated = errors.SourceChanged('deactivated')
        self.errors = [deactivated, deactivated]
        check = self.recheck()
        self.progress(check, (0.95, 95))
        self.clock.now = 1.0
        with self.assertRaises(errors.SourceChanged):
            check.finish()
        self.assertEqual([0.95, 1.0], self.looks)

    def test_a_failed_early_read_then_a_good_one(self):
        self.errors = [errors.TransferError('unreachable')]
        check = self.recheck()
        self.progress(check, (0.95, 95))
        self.clock.now = 1.0
        check.finish()
        self.assertEqual(2, len(self.looks))

    def test_the_early_read_runs_beside_the_download(self):
        release = threading.Event()
        started = threading.Event()

        def look():
            started.set()
            self.assertTrue(release.wait(5))
        check = recheck.Recheck(look, 0.1, clock=self.clock)
        self.clock.now = 0.95
        check.watch(95, 100)
        # watch() returned while the read is under way.
        self.assertTrue(started.wait(5))
        release.set()
        check.finish()
        self.assertFalse([t for t in threading.enumerate()
                          if t.name == recheck.THREAD])

    def test_a_failed_download_waits_for_the_early_read_and_no_more(self):
        release = threading.Event()

        def look():
            self.looks.append(self.clock.now)
            self.assertTrue(release.wait(5))
            raise errors.SourceChanged('deactivated')
        check = recheck.Recheck(look, 0.1, clock=self.clock)
        self.clock.now = 0.95
        check.watch(95, 100)
        settled = threading.Thread(target=check.settle)
        settled.start()
        settled.join(0.2)
        self.assertTrue(settled.is_alive(), 'settle() did not wait')
        release.set()
        settled.join(5)
        self.assertFalse(settled.is_alive())
        self.assertEqual([0.95], self.looks)
        self.assertFalse([t for t in threading.enumerate()
                          if t.name == recheck.THREAD])

    def test_nothing_to_settle_without_an_early_read(self):
        check = self.recheck()
        check.settle()
        self.assertEqual([], self.looks)


if __name__ == '__main__':
    unittest.main()
