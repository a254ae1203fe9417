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

"""The segment table: what is claimed next, what is written, without I/O."""

import threading
import time
import unittest

from glance_download import segments

MIB = 1024 * 1024


class PlanTest(unittest.TestCase):

    def test_new_download_is_cut_for_its_streams(self):
        table = segments.SegmentTable.plan(5 * MIB, 2 * MIB, 4)
        self.assertEqual([(0, 2 * MIB, 0), (2 * MIB, 4 * MIB, 2 * MIB),
                          (4 * MIB, 5 * MIB, 4 * MIB)], table.record())
        self.assertTrue(table.multi)
        self.assertEqual(3, table.waiting())
        self.assertEqual(0, table.written())

    def test_one_stream_is_one_segment(self):
        table = segments.SegmentTable.plan(5 * MIB, 2 * MIB, 1)
        self.assertEqual([(0, 5 * MIB, 0)], table.record())
        self.assertFalse(table.multi)

    def test_residue_keeps_its_ranges(self):
        kept = [(0, 60, 60), (60, 100, 70)]
        table = segments.SegmentTable.plan(100, 50, 4, kept)
        self.assertEqual(kept, table.record())
        self.assertEqual(70, table.written())
        self.assertFalse(table.complete())
        # The written segment is not claimed again.
        self.assertEqual((60, 100, 70), _spans(table.claim()))
        self.assertIsNone(table.claim())


def _spans(segment):
    return segment.start, segment.end, segment.pos


class ClaimTest(unittest.TestCase):

    def setUp(self):
        self.table = segments.SegmentTable(100, [(0, 40, 0), (40, 100, 40)])

    def test_claims_in_order_then_none(self):
        first, second = self.table.claim(), self.table.claim()
        self.assertEqual([(0, 40, 0), (40, 100, 40)],
                         [_spans(first), _spans(second)])
        self.assertIsNone(self.table.claim())
        self.assertEqual(0, self.table.waiting())

    def test_given_back_is_claimed_again_where_it_was_left(self):
        first = self.table.claim()
        self.table.wrote(first, 10)
        first.attempts = 2
        self.table.give_back(first)
        self.assertEqual(2, self.table.waiting())
        again = self.table.claim()
        self.assertIs(first, again)
        self.assertEqual((10, 2), (again.pos, again.attempts))

    def test_written_and_complete(self):
        first, second = self.table.claim(), self.table.claim()
        self.assertFalse(self.table.wrote(second, 70))
        self.assertTrue(self.table.wrote(second, 100))
        self.assertEqual(60, self.table.written())
        self.assertFalse(self.table.complete())
        self.assertTrue(self.table.wrote(first, 40))
        self.assertTrue(self.table.complete())
        self.assertEqual([(0, 40, 40), (40, 100, 100)], self.table.record())

    def test_restart_drops_the_bytes_and_changes_generation(self):
        first = self.table.claim()
        self.table.wrote(first, 30)
        self.table.restart(first)
        self.assertEqual((0, 1), (first.pos, self.table.generation))
        self.assertEqual(0, self.table.written())

    def test_rewind_makes_one_segment_of_the_image_to_compare(self):
        first = self.table.claim()
        self.table.wrote(first, 30)
        second = self.table.claim()
        self.table.wrote(second, 70)
        # Bytes 0-29 are the prefix anyone may have read: compared again.
        self.assertEqual(30, self.table.rewind(second))
        self.assertEqual([(0, 100, 0)], self.table.record())
        self.assertFalse(self.table.multi)
        self.assertEqual(0, self.table.generation)


class SplitTest(unittest.TestCase):
    """An idle stream takes over half of the largest segment outstanding."""

    def table(self, kept=((0, 100, 0),), min_split=10, margin=0):
        return segments.SegmentTable(100, list(kept), min_split, margin)

    def test_one_segment_image_may_be_split(self):
        self.assertTrue(self.table().multi)
        self.assertFalse(self.table(min_split=None).multi)
        self.assertFalse(self.table(min_split=51).multi)
        self.assertFalse(segments.SegmentTable.plan(
            100, 200, 1, min_split=10).multi)
        self.assertTrue(segments.SegmentTable.plan(
            100, 200, 4, min_split=10).multi)

    def test_split_at_the_middle_of_the_remaining_bytes(self):
        table = self.table()
        first = table.claim()
        table.wrote(first, 20)
        second = table.claim()
        self.assertEqual((60, 100, 60), _spans(second))
        self.assertTrue(second.taken)
        self.assertEqual((0, 60, 20), _spans(first))
        self.assertEqual([(0, 60, 20), (60, 100, 60)], table.record())
        # The stream holding the first half ends there.
        self.assertTrue(table.wrote(first, 60))

    def test_largest_outstanding_is_split_first(self):
        table = self.table([(0, 30, 0), (30, 100, 30)])
        first, second = table.claim(), table.claim()
        table.wrote(second, 40)
        third = table.claim()
        self.assertEqual((70, 100, 70), _spans(third))
        # Thirty bytes left in each: the first of them is split.
        fourth = table.claim()
        self.assertEqual((15, 30, 15), _spans(fourth))
        self.assertEqual([(0, 15, 0), (15, 30, 15), (30, 70, 40),
                          (70, 100, 70)], table.record())
        self.assertEqual((0, 15, 0), _spans(first))

    def test_free_segments_are_claimed_before_any_split(self):
        table = self.table([(0, 50, 0), (50, 100, 50)])
        first = table.claim()
        self.assertEqual((50, 100, 50), _spans(table.claim()))
        self.assertEqual((0, 50, 0), _spans(first))

    def test_no_split_below_the_minimum_or_the_margin(self):
        table = self.table(min_split=30)
        first = table.claim()
        table.wrote(first, 41)
        self.assertFalse(table.can_claim())
        self.assertIsNone(table.claim())
        table = self.table(min_split=5, margin=30)
        first = table.claim()
        table.wrote(first, 41)
        self.assertIsNone(table.claim())
        table.wrote(first, 40)
        self.assertTrue(table.can_claim())

    def test_no_split_once_the_source_ignores_range(self):
        table = self.table()
        first = table.claim()
        table.rewind(first)
        self.assertFalse(table.multi)
        self.assertIsNone(table.claim())

    def test_split_ranges_resume_from_the_sidecar(self):
        from glance_download import partfile
        digest = ('sha512', 'ab' * 64)
        table = self.table()
        first = table.claim()
        table.wrote(first, 20)
        second = table.claim()
        table.wrote(second, 70)
        # A crash here: the record is what the next download finds.
        record = partfile.source_record(100, digest, table.record())
        kept = partfile.resumable(record, 100, digest)
        self.assertEqual([(0, 60, 20), (60, 100, 70)], kept)
        again = segments.SegmentTable.plan(100, 200, 4, kept, min_split=10)
        self.assertEqual(30, again.written())
        self.assertEqual((0, 60, 20), _spans(again.claim()))
        self.assertEqual((60, 100, 70), _spans(again.claim()))
        self.assertEqual((40, 60, 40), _spans(again.claim()))


class PrefixTest(unittest.TestCase):
    """What the hash follower waits for: the contiguous written prefix."""

    def setUp(self):
        self.table = segments.SegmentTable(100, [(0, 40, 0), (40, 100, 40)])
        self.stopping = threading.Event()
        self.first, self.second = self.table.claim(), self.table.claim()

    def wait(self, read, generation, timeout=0.01):
        return self.table.await_prefix(read, generation, self.stopping,
                                       timeout)

    def test_new_reader_learns_the_generation(self):
        self.assertEqual((0, 0), self.wait(0, None))

    def test_prefix_ends_at_the_first_gap(self):
        self.table.wrote(self.second, 100)
        self.table.wrote(self.first, 25)
        self.assertEqual((0, 25), self.wait(0, 0))
        self.table.wrote(self.first, 40)
        self.assertEqual((0, 100), self.wait(25, 0))

    def test_waits_for_more_than_was_read(self):
        self.table.wrote(self.first, 25)
        threading.Timer(0.1, self.table.wrote, (self.first, 30)).start()
        started = time.monotonic()
        self.assertEqual((0, 30), self.wait(25, 0, timeout=5))
        self.assertLess(time.monotonic() - started, 4)

    def test_restart_is_seen_as_a_new_generation(self):
        self.table.wrote(self.first, 25)
        self.table.restart(self.first)
        self.assertEqual((1, 0), self.wait(25, 0))

    def test_none_once_all_is_read_or_stopping(self):
        self.table.wrote(self.first, 40)
        self.table.wrote(self.second, 100)
        self.assertIsNone(self.wait(100, 0))
        self.stopping.set()
        self.assertIsNone(self.wait(0, 0))

    def test_wake_ends_a_wait_on_stopping(self):
        def stop():
            self.stopping.set()
            self.table.wake()
        threading.Timer(0.1, stop).start()
        started = time.monotonic()
        self.assertIsNone(self.wait(0, 0, timeout=5))
        self.assertLess(time.monotonic() - started, 4)
