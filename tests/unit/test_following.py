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

"""The reader Glance's store step gets while the data still arrives."""

import os
import tempfile
import threading
import unittest
from unittest import mock

from glance_download import errors
from glance_download import following
from glance_download import overlap
from glance_download import partfile
from glance_download import segments

SIZE = 10 * 1024


class Feed:
    """A download in the making: a real segment table, written by hand."""

    def __init__(self, test, size=SIZE):
        handle, self.path = tempfile.mkstemp()
        os.close(handle)
        test.addCleanup(os.unlink, self.path)
        with open(self.path, 'wb') as f:
            f.truncate(size)
        self.table = segments.SegmentTable.plan(size, size, 1)
        self.segment = self.table.claim()
        self.stopping = threading.Event()
        self.error = None
        self.verdicts = 0

    def write(self, data, offset):
        with open(self.path, 'r+b') as f:
            f.seek(offset)
            f.write(data)
        self.table.wrote(self.segment, offset + len(data))

    def stop(self, error=None):
        self.error = error
        self.stopping.set()
        self.table.wake()

    def await_prefix(self, read, generation):
        return self.table.await_prefix(read, generation, self.stopping, 0.05)

    def verdict(self):
        self.verdicts += 1
        if self.error is not None:
            raise self.error
        return 'verified'

    # How far release() lets bytes go: the hash's place, say.
    allowed = 0
    asked = ()

    def release(self, read):
        self.asked += (read,)
        return min(read, self.allowed)


def allocated(path):
    """Bytes of ``path`` that hold blocks."""
    return os.stat(path).st_blocks * 512


class FollowingReaderTest(unittest.TestCase):

    def reader(self, feed, size=SIZE):
        reader = following.FollowingReader(feed.path, size, feed, 4096)
        self.addCleanup(reader.close)
        return reader

    def test_serves_what_is_written_and_ends_on_the_verdict(self):
        feed = Feed(self)
        reader = self.reader(feed)
        data = os.urandom(SIZE)
        feed.write(data[:3000], 0)
        self.assertEqual(data[:3000], reader.read(8192))
        # The next read waits for the next byte.
        later = threading.Timer(0.2, feed.write, (data[3000:], 3000))
        later.start()
        self.addCleanup(later.cancel)
        rest = b''
        while len(rest) < SIZE - 3000:
            rest += reader.read(4096)
        self.assertEqual(data[3000:], rest)
        self.assertEqual(0, feed.verdicts)
        # Every byte served: the end is the verdict's.
        feed.stop()
        self.assertEqual(b'', reader.read())
        self.assertEqual(1, feed.verdicts)
        self.assertEqual(b'', reader.read())

    def test_a_failed_verdict_is_raised_instead_of_the_end(self):
        feed = Feed(self)
        reader = self.reader(feed)
        feed.write(b'x' * SIZE, 0)
        served = 0
        while served < SIZE:
            served += len(reader.read(4096))
        feed.stop(errors.TransferError('digest mismatch'))
        with self.assertRaisesRegex(errors.TransferError, 'digest mismatch'):
            reader.read(4096)

    def test_a_download_that_fails_midway_raises_its_error(self):
        feed = Feed(self)
        reader = self.reader(feed)
        feed.write(b'y' * 100, 0)
        self.assertEqual(b'y' * 100, reader.read(4096))
        threading.Timer(0.1, feed.stop,
                        (errors.TransferError('source gone'),)).start()
        with self.assertRaisesRegex(errors.TransferError, 'source gone'):
            reader.read(4096)

    def test_a_restart_after_bytes_were_served_fails(self):
        feed = Feed(self)
        reader = self.reader(feed)
        feed.write(b'z' * 100, 0)
        self.assertEqual(100, len(reader.read(4096)))
        feed.table.restart(feed.segment)
        with self.assertRaisesRegex(errors.TransferError, 'started over'):
            reader.read(4096)

    def test_iterates_in_chunks(self):
        feed = Feed(self)
        data = os.urandom(SIZE)
        feed.write(data, 0)
        feed.stop()
        chunks = list(self.reader(feed))
        self.assertEqual(data, b''.join(chunks))
        self.assertLessEqual(max(map(len, chunks)), 4096)


class ReleaseTest(unittest.TestCase):
    """The reader drops what it served, as far as the feed lets it."""

    BLOCK = 64 * 1024
    SIZE = 3 * BLOCK + 4096

    def setUp(self):
        patch = mock.patch.object(overlap, 'RELEASE_BLOCK', self.BLOCK)
        patch.start()
        self.addCleanup(patch.stop)
        self.feed = Feed(self, self.SIZE)
        self.data = os.urandom(self.SIZE)
        self.feed.write(self.data, 0)

    def read_all(self, reader):
        served = b''
        while len(served) < self.SIZE:
            served += reader.read(16 * 1024)
        return served

    def test_served_blocks_leave_the_file_as_far_as_the_feed_allows(self):
        self.feed.allowed = 2 * self.BLOCK
        reader = following.FollowingReader(self.feed.path, self.SIZE,
                                           self.feed, 4096, release=True)
        self.addCleanup(reader.close)
        self.assertEqual(self.data, self.read_all(reader))
        # Asked at each block it passed; the file's length stays.
        self.assertIn(self.BLOCK, self.feed.asked)
        self.assertEqual(self.SIZE, os.path.getsize(self.feed.path))
        with open(self.feed.path, 'rb') as f:
            kept = f.read()
        self.assertEqual(bytes(2 * self.BLOCK), kept[:2 * self.BLOCK])
        self.assertEqual(self.data[2 * self.BLOCK:], kept[2 * self.BLOCK:])
        self.assertLessEqual(allocated(self.feed.path),
                             self.SIZE - 2 * self.BLOCK + 8192)

    def test_nothing_leaves_the_file_without_release(self):
        self.feed.allowed = self.SIZE
        reader = following.FollowingReader(self.feed.path, self.SIZE,
                                           self.feed, 4096)
        self.addCleanup(reader.close)
        self.assertEqual(self.data, self.read_all(reader))
        self.assertEqual((), self.feed.asked)
        with open(self.feed.path, 'rb') as f:
            self.assertEqual(self.data, f.read())

    def test_a_filesystem_that_cannot_punch_keeps_every_byte(self):
        self.feed.allowed = self.SIZE
        reader = following.FollowingReader(self.feed.path, self.SIZE,
                                           self.feed, 4096, release=True)
        self.addCleanup(reader.close)
        with mock.patch.object(partfile, '_fallocate',
                               lambda: lambda *args: -1):
            self.assertEqual(self.data, self.read_all(reader))
        # Asked once: after the first refusal the reader stops trying.
        self.assertEqual(1, len(self.feed.asked))
        with open(self.feed.path, 'rb') as f:
            self.assertEqual(self.data, f.read())


class FallbackTest(unittest.TestCase):

    def test_a_followed_download_from_afar_has_smaller_segments(self):
        big, small = 64 * 1024 * 1024, 4 * 1024 * 1024
        self.assertEqual(overlap.FOLLOWED_SEGMENT_SIZE,
                         overlap.segment_size(big, True, True))
        self.assertEqual(small, overlap.segment_size(small, True, True))
        # One stream from a near source writes in order anyway.
        self.assertEqual(big, overlap.segment_size(big, True, False))
        self.assertEqual(big, overlap.segment_size(big, False, True))

    def test_reasons(self):
        self.assertIsNone(overlap.fallback_reason(True, [], True))
        self.assertIsNone(overlap.fallback_reason(
            True, ['inject_image_metadata'], True))
        self.assertEqual('overlap_store_writes is off',
                         overlap.fallback_reason(False, [], True))
        self.assertEqual(
            'image_conversion and image_decompression read the staged file',
            overlap.fallback_reason(True, ['image_conversion',
                                           'image_decompression'], True))
        self.assertEqual('image_conversion reads the staged file',
                         overlap.fallback_reason(True, ['image_conversion'],
                                                 True))
        self.assertIn('cannot read data still arriving',
                      overlap.fallback_reason(True, [], False))
        self.assertEqual('store ceph is not a filesystem store',
                         overlap.fallback_reason(True, [], True, ['ceph']))
