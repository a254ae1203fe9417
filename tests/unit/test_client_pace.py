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


import unittest

from glance_download.client import pace
from glance_download import progress

MIB = 1024 * 1024


def downloading(done_mib, total_mib, rate_mib):
    return progress.describe(done_mib * MIB, total_mib * MIB,
                             done_mib / rate_mib, 'R1')


class IntervalTest(unittest.TestCase):

    def test_a_long_download_is_polled_at_the_longest(self):
        self.assertEqual(1.0, pace.interval(60, downloading(100, 1000, 10)))

    def test_sooner_right_after_the_start(self):
        self.assertLess(pace.interval(0), 1.0)
        self.assertEqual(1.0, pace.interval(pace.EARLY + 1))

    def test_sooner_when_the_download_is_nearly_over(self):
        near = pace.interval(60, downloading(990, 1000, 10))
        self.assertLess(near, 1.0)
        self.assertGreaterEqual(near, pace.SHORTEST)

    def test_soonest_once_the_download_is_done(self):
        done = progress.DONE_PREFIX + '5 MiB from region R1 in 1.0 s'
        self.assertEqual(pace.SHORTEST, pace.interval(60, done))

    def test_soonest_while_glance_saves_the_end(self):
        # Glance's own last message replaced the method's closing one.
        self.assertEqual(pace.SHORTEST, pace.interval(60, 'Copied 5 MiB',
                                                      ending=True))
        self.assertEqual(1.0, pace.interval(60, 'Copied 5 MiB'))

    def test_sooner_when_regions_wait_to_be_relayed(self):
        self.assertEqual(pace.SHORTEST, pace.interval(0, gating=True))
        self.assertLess(pace.interval(0, gating=True), pace.interval(0))
        self.assertLess(pace.interval(60, '', gating=True),
                        pace.interval(60, ''))

    def test_never_below_the_shortest(self):
        for elapsed in (0, 1, 100):
            for message in ('', downloading(999, 1000, 1000)):
                self.assertGreaterEqual(
                    pace.interval(elapsed, message, gating=True),
                    pace.SHORTEST)

    def test_a_region_s_imports_share_its_polls(self):
        # However near their ends, twelve imports of one region are polled
        # REGION_POLLS times a second together, beyond the longest wait.
        wait = pace.interval(0, gating=True, in_region=12)
        self.assertEqual(12 / pace.REGION_POLLS, wait)
        self.assertLessEqual(12 / wait, pace.REGION_POLLS)

    def test_halfway_to_the_expected_end(self):
        # 40 MiB left at 10 MiB/s: 4 s left, polled in 2.
        self.assertEqual(2.0, pace.interval(
            60, downloading(960, 1000, 10), longest=5.0))


class SecondsLeftTest(unittest.TestCase):

    def test_read_from_the_progress_message(self):
        self.assertAlmostEqual(10.0, pace.seconds_left(
            downloading(900, 1000, 10)), places=0)

    def test_unknown_without_a_progress_message(self):
        for message in ('', 'Copied 5 B', progress.DONE_PREFIX + 'x'):
            self.assertIsNone(pace.seconds_left(message))
