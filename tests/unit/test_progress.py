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

import types
import unittest

from glance_download import errors
from glance_download import progress


class DescribeTest(unittest.TestCase):

    def test_human_size(self):
        self.assertEqual('0 B', progress.human_size(0))
        self.assertEqual('1023 B', progress.human_size(1023))
        self.assertEqual('1.0 KiB', progress.human_size(1024))
        self.assertEqual('1.5 GiB', progress.human_size(3 * 2 ** 29))

    def test_describe(self):
        self.assertEqual(
            'Downloading from region R1: 512.0 MiB of 1.0 GiB (50%) at '
            '128.0 MiB/s', progress.describe(2 ** 29, 2 ** 30, 4.0, 'R1'))
        self.assertIn('(100%)', progress.describe(0, 0, 0, 'R1'))
        self.assertTrue(progress.describe(1, 2, 1.0, 'R1', 4).endswith(
            'at 1 B/s over 4 streams'))

    def test_describe_done(self):
        result = types.SimpleNamespace(bytes=2 ** 20, seconds=0.5,
                                       algorithm='sha512', resumes=2,
                                       restarts=0)
        line = progress.describe_done(result, 'R1')
        self.assertIn('1.0 MiB from region R1', line)
        self.assertIn('sha512 verified', line)
        self.assertIn('2 resumed', line)
        result.algorithm = None
        self.assertIn('size verified', progress.describe_done(result, 'R1'))
        result.streams = 3
        self.assertIn('from region R1 over up to 3 streams in 0.5 s',
                      progress.describe_done(result, 'R1'))


class ProgressTest(unittest.TestCase):

    def test_reports_at_most_once_per_interval(self):
        now = [100.0]
        seen = []
        reporter = progress.Progress(seen.append, 5.0, 'R1', first_after=2.0,
                                     clock=lambda: now[0])
        for step in range(1, 21):
            now[0] = 100.0 + step
            reporter(step * 10, 200)
        # At 2 s, then every 5 s: 7, 12, 17.
        self.assertEqual(4, len(seen))
        self.assertIn('20 B of 200 B (10%)', seen[0])
        self.assertIn('at 10 B/s', seen[0])
        self.assertIn('70 B of 200 B (35%)', seen[1])

    def test_nothing_reported_for_a_download_over_before_first_after(self):
        now = [0.0]
        seen = []
        reporter = progress.Progress(seen.append, 5.0, 'R1',
                                     clock=lambda: now[0])
        for step in range(1, 10):
            now[0] = step * 0.1
            reporter(step, 9)
        self.assertEqual([], seen)
        now[0] = 1.0
        reporter(10, 10)
        self.assertEqual(1, len(seen))

    def test_first_report_never_later_than_the_interval(self):
        now = [0.0]
        seen = []
        reporter = progress.Progress(seen.append, 0.5, 'R1', first_after=3.0,
                                     clock=lambda: now[0])
        now[0] = 0.4
        reporter(1, 10)
        self.assertEqual([], seen)
        now[0] = 0.5
        reporter(2, 10)
        self.assertEqual(1, len(seen))

    def test_abort_from_report_propagates(self):
        def report(message):
            raise errors.Aborted('gone')
        now = [0.0]
        reporter = progress.Progress(report, 1.0, 'R1', clock=lambda: now[0])
        now[0] = 2.0
        self.assertRaises(errors.Aborted, reporter, 1, 2)
