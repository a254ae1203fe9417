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

from glance_download import periodic


def periodic_work(work, interval=0.01, what='The test work'):
    return periodic.Periodic(work, interval, what, name='test-periodic')


class PeriodicTest(unittest.TestCase):
    """The work goes on while the caller's own thread is blocked."""

    def test_calls_while_the_caller_is_blocked(self):
        called = threading.Event()
        calls = []

        def work():
            calls.append(threading.current_thread().name)
            if len(calls) == 3:
                called.set()
            return True
        worker = periodic_work(work).start()
        self.addCleanup(worker.stop)
        # As a read waiting for data or a retry's sleep blocks the flow.
        self.assertTrue(called.wait(10))
        worker.stop()
        self.assertTrue(worker.join(10))
        self.assertEqual({'test-periodic'}, set(calls))
        self.assertGreaterEqual(worker.calls, 3)

    def test_start_returns_the_daemon_worker(self):
        worker = periodic_work(lambda: False, interval=60)
        self.assertIs(worker, worker.start())
        self.addCleanup(worker.stop)
        self.assertTrue(worker._thread.daemon)
        self.assertFalse(worker.join(0))

    def test_ends_when_the_work_returns_false(self):
        answers = iter([True, False, True])
        worker = periodic_work(lambda: next(answers)).start()
        self.addCleanup(worker.stop)
        self.assertTrue(worker.join(10))
        self.assertEqual(2, worker.calls)
        # The third answer was never asked for.
        self.assertTrue(next(answers))

    def test_a_failed_call_is_logged_and_the_next_one_made(self):
        calls = []

        def work():
            calls.append(1)
            if len(calls) < 3:
                raise RuntimeError('database is locked')
            return False
        with self.assertLogs('glance_download.periodic', 'WARNING') as logs:
            worker = periodic_work(work, what='The import heartbeat').start()
            self.addCleanup(worker.stop)
            self.assertTrue(worker.join(10))
        self.assertEqual(3, len(calls))
        self.assertEqual(1, worker.calls)
        self.assertEqual(2, len(logs.records))
        for record in logs.records:
            self.assertEqual('WARNING', record.levelname)
            self.assertIn('The import heartbeat failed', record.getMessage())
            self.assertIn('RuntimeError: database is locked',
                          record.getMessage())

    def test_stop_before_the_first_call(self):
        worker = periodic_work(self.fail, interval=60).start()
        worker.stop()
        self.assertTrue(worker.join(10))
        self.assertEqual(0, worker.calls)

    def test_stop_while_calling(self):
        inside = threading.Event()
        release = threading.Event()

        def work():
            inside.set()
            self.assertTrue(release.wait(10))
            return True
        worker = periodic_work(work).start()
        self.addCleanup(release.set)
        self.addCleanup(worker.stop)
        self.assertTrue(inside.wait(10))
        worker.stop()
        release.set()
        # The call under way returns; no other one starts.
        self.assertTrue(worker.join(10))
        self.assertEqual(1, worker.calls)
