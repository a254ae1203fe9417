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

"""Imports over several ranged streams, through SLOW-REGION1's proxy.

REGION2 cuts images into 4 MiB segments and fetches up to 4 at once, with
at most 6 streams per glance-api process (tools/cloud sets these).  The
proxy targets its faults at the request whose Range starts at a given
segment, and counts the data answers it relays at once.
"""

import hashlib
import os
import subprocess
import threading
import time

from glance_download import progress
from tests.functional import base
from tests.functional import proxy
from tests.functional import test_faults

MIB = test_faults.MIB
SEGMENT = 4 * MIB
SIZE = 6 * SEGMENT + 12345
# REGION2's glance-api has two worker processes, each with its own cap.
PROCESS_STREAMS = 6
PROCESSES = 2


class StreamsTestCase(test_faults.ProxyTestCase):

    def data_requests(self):
        return self.proxy.requests_to('/file')

    def bytes_crossed(self):
        return sum(r.body_bytes for r in self.data_requests())

    def assert_nothing_staged(self, target_id):
        self.assertEqual([], [name for name in self.staged_files()
                              if name.startswith(target_id)])


class ParallelStreamsTest(StreamsTestCase):

    def test_segments_cross_over_several_streams(self):
        # Slow enough per stream that a segment outlasts a stream's start.
        self.proxy.rate = 8 * MIB
        source = self.source_image(data=os.urandom(SIZE))
        image, task = self.import_through_proxy(source)
        self.assert_verified_copy(source, image, task)
        starts = sorted(r.range_start for r in self.data_requests())
        self.assertEqual(list(range(0, SIZE, SEGMENT)), starts)
        self.assertEqual(SIZE, self.bytes_crossed())
        self.assertGreater(self.proxy.most_data_answers(), 1)
        self.assertLessEqual(self.proxy.most_data_answers(), 4)

    def test_cut_stall_and_refused_extra_stream(self):
        source = self.source_image(data=os.urandom(SIZE))
        self.proxy.add(
            proxy.Cut(after=MIB + 4321, at=SEGMENT),
            proxy.Stall(after=MIB + 77, seconds=test_faults.STALL,
                        at=2 * SEGMENT),
            proxy.Status(code=503, at=3 * SEGMENT))
        image, task = self.import_through_proxy(source)
        self.assert_verified_copy(source, image, task)
        requests = self.data_requests()
        self.assertIn(503, [r.status for r in requests])
        resumed = [r.range_start for r in requests
                   if r.range_start not in range(0, SIZE, SEGMENT)]
        self.assertEqual(2, len(resumed), requests)
        self.assertTrue(SEGMENT < resumed[0] <= SEGMENT + MIB + 4321
                        or SEGMENT < resumed[1] <= SEGMENT + MIB + 4321,
                        resumed)
        self.assertLess(self.bytes_crossed(), 1.2 * SIZE)

    def test_flipped_byte_in_one_segment_fails_and_leaves_nothing(self):
        source = self.source_image(data=os.urandom(SIZE))
        target = self.target_image()
        self.proxy.add(proxy.FlipByte(offset=4 * SEGMENT + 99,
                                      at=4 * SEGMENT))
        self.start_import(source, target)
        self.assert_failed_and_queued(self.region2, target['id'],
                                      test_faults.DIGEST_MISMATCH)
        self.assert_nothing_staged(target['id'])
        self.assertIsNone(self.region2.get(target['id'])['os_hash_value'])

    def test_remote_ignoring_range_gives_one_stream(self):
        source = self.source_image(data=os.urandom(SIZE))
        self.proxy.add(proxy.IgnoreRange())
        image, task = self.import_through_proxy(source)
        self.assert_verified_copy(source, image, task)
        (only,) = self.data_requests()
        self.assertEqual(f'bytes=0-{int(SEGMENT - 1)}', only.range)
        self.assertEqual(200, only.status)
        self.assertEqual(SIZE, only.body_bytes)


class SplitStreamsTest(StreamsTestCase):
    """REGION2 with the default settings, but splits down to 1 MiB.

    With 64 MiB segments a 24 MiB image is one segment: only splits give
    it more than one stream, and auto chooses how many.
    """

    exclusive = True
    SIZE = 24 * MIB + 4321

    def setUp(self):
        super().setUp()
        self.addCleanup(self.cloud, 'restart', 'REGION2')
        self.cloud('restart', 'REGION2',
                   '--set', 'glance_download.parallel_streams=auto',
                   '--set', f'glance_download.segment_size={64 * MIB}',
                   '--set', f'glance_download.min_split_size={MIB}')

    def test_small_image_is_split_over_several_streams(self):
        # Each connection bound, as over a long round trip: more streams
        # carry more.
        self.proxy.rate = 4 * MIB
        source = self.source_image(data=os.urandom(self.SIZE))
        image, task = self.import_through_proxy(source)
        self.assert_verified_copy(source, image, task)
        requests = self.data_requests()
        self.assertEqual(f'bytes=0-{self.SIZE - 1}', requests[0].range)
        self.assertGreater(self.proxy.most_data_answers(), 1)
        self.assertGreater(len({r.range_start for r in requests}), 2)
        # Splits ask for no byte twice; an over-read of a split stream
        # is at most what was in flight.
        self.assertLess(self.bytes_crossed(), 1.2 * self.SIZE, [
            (r.range, r.status, r.body_bytes) for r in requests])

    def test_cut_of_the_segment_being_split_is_resumed(self):
        self.proxy.rate = 4 * MIB
        source = self.source_image(data=os.urandom(self.SIZE))
        # The first answer, the whole image's, is cut once its first
        # half has been taken over by other streams.
        self.proxy.add(proxy.Cut(after=3 * MIB + 4321))
        image, task = self.import_through_proxy(source)
        self.assert_verified_copy(source, image, task)
        requests = self.data_requests()
        self.assertEqual(3 * MIB + 4321, requests[0].body_bytes)
        # Resumed from the byte reached: at most the chunk being read is
        # lost, and what a last short read brought is kept.
        self.assertTrue([r for r in requests
                         if 2 * MIB <= r.range_start <= 3 * MIB + 4321],
                        [r.range_start for r in requests])
        self.assertLess(self.bytes_crossed(), 1.3 * self.SIZE)


class ConcurrentImportsTest(StreamsTestCase):

    IMPORTS = 10

    def test_ten_imports_respect_the_stream_cap(self):
        # Slow enough that the streams of different imports overlap.
        self.proxy.rate = 4 * MIB
        size = 3 * SEGMENT
        sources = [self.source_image(data=os.urandom(size))
                   for _ in range(self.IMPORTS)]
        targets = [self.target_image() for _ in sources]
        results = [None] * self.IMPORTS

        def run(index):
            self.start_import(sources[index], targets[index])
            results[index] = self.wait_for(self.region2,
                                           targets[index]['id'])

        threads = [threading.Thread(target=run, args=(i,))
                   for i in range(self.IMPORTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(600)
        for source, result in zip(sources, results):
            self.assertIsNotNone(result)
            image, task = result
            self.assert_verified_copy(source, image, task)
        self.assertGreater(self.proxy.most_data_answers(), PROCESSES)
        self.assertLessEqual(self.proxy.most_data_answers(),
                             PROCESSES * PROCESS_STREAMS)
        self.assertLess(self.bytes_crossed(), 1.2 * size * self.IMPORTS)


class TrickleTest(StreamsTestCase):
    """A source sending one byte every two seconds after its first MiB.

    No read ever waits read_timeout (3 s in the test cloud), so only the
    clock of the download can end it: REGION2 breaks off a stream under
    1 KiB/s over 4 s (min_rate_period).
    """

    def wait_until(self, condition, seconds, what):
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                self.fail(f'{what}: not within {int(seconds)} s')
            time.sleep(0.2)

    def test_trickle_fails_below_the_minimum_rate(self):
        source = self.source_image(data=os.urandom(test_faults.SIZE))
        target = self.target_image()
        self.proxy.add(proxy.Trickle(after=MIB, every=2, times=10))
        started = time.monotonic()
        self.start_import(source, target)
        message = self.assert_failed_and_queued(
            self.region2, target['id'],
            'below the minimum of 1024 bytes/s')
        self.assertIn('4 attempt(s) failed', message)
        self.assertLess(time.monotonic() - started, 90)
        self.assert_nothing_staged(target['id'])
        self.assertEqual(4, len(self.data_requests()))

    def test_deleting_the_target_stops_a_trickling_download(self):
        source = self.source_image(data=os.urandom(test_faults.SIZE))
        target = self.target_image()
        self.proxy.add(proxy.Trickle(after=MIB, every=2))
        self.start_import(source, target)
        self.wait_until(lambda: any(r.body_bytes >= MIB
                                    for r in self.data_requests()),
                        60, 'the first MiB crossed')
        self.region2.delete(target['id'])
        deleted = time.monotonic()
        self.wait_until(lambda: self.proxy.wire.streams.open == 0, 15,
                        'the download stopped after the delete')
        self.assertLess(time.monotonic() - deleted, 15)
        self.wait_until(lambda: not any(
            name.startswith(target['id']) for name in self.staged_files()),
            15, 'the staged data removed')
        self.assertEqual(1, len(self.data_requests()))


class SmallStagingTest(StreamsTestCase):
    """REGION2's staging area on a real 8 MiB tmpfs, for a 12 MiB image.

    The tmpfs is mounted over the staging directory while REGION2 runs, so
    the test has the cloud alone (no other import may stage meanwhile).
    Mounting needs root (CAP_SYS_ADMIN); RewritedSizeTest shows the same
    check everywhere with a declared size.
    """

    exclusive = True
    TMPFS = 8 * MIB

    def mount_small_staging(self):
        staging = self.env['regions']['REGION2']['staging']
        self.assertEqual([], os.listdir(staging), 'staging is not empty')
        mounted = subprocess.run(
            ['mount', '-t', 'tmpfs', '-o', f'size={self.TMPFS}',
             'gd-small-staging', staging], capture_output=True, text=True)
        if mounted.returncode != 0:
            self.skipTest(f'cannot mount a tmpfs: {mounted.stderr.strip()}')
        self.addCleanup(self.unmount, staging)
        return staging

    def unmount(self, staging):
        if not os.path.ismount(staging):
            return
        if subprocess.run(['umount', staging]).returncode != 0:
            subprocess.run(['umount', '-l', staging], check=True)

    def test_fails_before_any_data_moves_and_a_retry_works(self):
        source = self.source_image(data=os.urandom(12 * MIB))
        target = self.target_image()
        staging = self.mount_small_staging()
        free = os.statvfs(staging).f_bavail * os.statvfs(staging).f_frsize
        self.start_import(source, target)
        message = self.assert_failed_and_queued(
            self.region2, target['id'],
            f"this image needs {progress.human_size(source['size'])} "
            f"({source['size']} bytes) there")
        self.assertIn(f'has {progress.human_size(free)} free', message)
        self.assertEqual([], self.data_requests())
        self.assertEqual([], os.listdir(staging))
        self.assertEqual(free, os.statvfs(staging).f_bavail
                         * os.statvfs(staging).f_frsize)

        # With room again, the same target imports.
        self.unmount(staging)
        image, task = self.import_through_proxy(source, target)
        self.assert_verified_copy(source, image, task)


class RewritedSizeTest(StreamsTestCase):
    """Checks of the size the source declares, before any data moves.

    The proxy changes the size in the image record REGION2 reads.
    """

    def test_staging_area_too_small(self):
        staging = self.env['regions']['REGION2']['staging']
        stats = os.statvfs(staging)
        # More than the whole filesystem: it can never fit.
        size = stats.f_blocks * stats.f_frsize + 1024 * MIB
        source = self.source_image(data=os.urandom(MIB))
        target = self.target_image()
        self.proxy.add(proxy.Rewrite(fields={'size': size}))
        self.start_import(source, target)
        message = self.assert_failed_and_queued(
            self.region2, target['id'],
            f'this image needs {progress.human_size(size)} ({size} bytes) '
            'there')
        self.assertRegex(message, r'The staging area of this Glance has '
                                  r'[\d.]+ [KMGT]?i?B free')
        self.assertNotIn(staging, message)
        self.assertEqual([], self.data_requests())
        self.assert_nothing_staged(target['id'])

    def test_image_over_the_size_cap(self):
        cap = 1024 ** 4
        source = self.source_image(data=os.urandom(MIB))
        target = self.target_image()
        self.proxy.add(proxy.Rewrite(fields={'size': cap + 1}))
        self.start_import(source, target)
        self.assert_failed_and_queued(
            self.region2, target['id'],
            f'The source image is {cap + 1} bytes, more than this Glance '
            f'accepts (image_size_cap = {cap} bytes)')
        self.assertEqual([], self.data_requests())
        self.assert_nothing_staged(target['id'])


class OverlappedStoreTest(StreamsTestCase):
    """Glance's store step writes the data while it still arrives."""

    def assert_stored_while_arriving(self, target, stores):
        """Each store written while the part file is still in staging."""
        part = os.path.join(self.env['regions']['REGION2']['staging'],
                            target['id'] + '.part')
        first = os.path.join(self.env['regions']['REGION2']['stores'][
            stores[0]], target['id'])
        deadline = time.monotonic() + 60
        while not os.path.exists(first):
            if time.monotonic() > deadline:
                self.fail(f'nothing stored at {first}')
            time.sleep(0.02)
        self.assertTrue(os.path.exists(part), 'the download was over')

    def test_both_stores_get_the_verified_data(self):
        # 2 MiB/s per stream: the 24 MiB take several seconds.
        self.proxy.rate = 2 * MIB
        source = self.source_image(data=os.urandom(SIZE))
        target = self.target_image()
        response = self.region2.import_image(
            target['id'], base.glance_download(source['id'], self.region),
            stores=['fast', 'cheap'])
        self.assertEqual(202, response.status_code, response.text)
        self.assert_stored_while_arriving(target, ['fast'])
        image, task = self.wait_for(self.region2, target['id'])
        self.assert_verified_copy(source, image, task)
        self.assertIn('; stored while it arrived; Copied', task['message'])
        self.assertEqual(['cheap', 'fast'],
                         sorted(image['stores'].split(',')))
        # The second store reads the staged file after the first: nothing
        # of it may have left staging.
        for store in ('fast', 'cheap'):
            path = os.path.join(
                self.env['regions']['REGION2']['stores'][store], image['id'])
            with open(path, 'rb') as f:
                self.assertEqual(source['os_hash_value'],
                                 hashlib.sha512(f.read()).hexdigest(), store)

    def test_one_store_s_stored_bytes_leave_staging_while_arriving(self):
        self.proxy.rate = 2 * MIB
        source = self.source_image(data=os.urandom(SIZE))
        target = self.target_image()
        response = self.region2.import_image(
            target['id'], base.glance_download(source['id'], self.region))
        self.assertEqual(202, response.status_code, response.text)
        staging = self.env['regions']['REGION2']['staging']
        names = [target['id'] + '.part', target['id']]
        # The part file holds every byte from the start (space reserved);
        # a 16 MiB block leaves it once stored and hashed (a filesystem
        # block more may stay).
        released = SIZE - 15 * MIB
        least, deadline = SIZE, time.monotonic() + 60
        while time.monotonic() < deadline and least > released:
            for name in names:
                try:
                    found = os.stat(os.path.join(staging, name))
                except FileNotFoundError:
                    continue
                least = min(least, found.st_blocks * 512)
            time.sleep(0.02)
        self.assertLessEqual(least, released)
        image, task = self.wait_for(self.region2, target['id'])
        self.assert_verified_copy(source, image, task)
        self.assertIn('; stored while it arrived; Copied', task['message'])
        self.assert_nothing_staged(target['id'])

    def test_flipped_byte_leaves_nothing_in_the_store_being_written(self):
        self.proxy.rate = 2 * MIB
        source = self.source_image(data=os.urandom(SIZE))
        target = self.target_image()
        self.proxy.add(proxy.FlipByte(offset=5 * SEGMENT + 99,
                                      at=5 * SEGMENT))
        self.start_import(source, target)
        self.assert_stored_while_arriving(target, ['fast'])
        self.assert_failed_and_queued(self.region2, target['id'],
                                      test_faults.DIGEST_MISMATCH)
        self.assert_nothing_staged(target['id'])


class OverlapFallbackTest(StreamsTestCase):
    """REGION2 with an import plugin that reads the staged file.

    Glance's image_decompression opens the staged file after the download
    task: the store step must wait for the whole verified file, and the
    task message says why.
    """

    exclusive = True

    def setUp(self):
        super().setUp()
        self.addCleanup(self.cloud, 'restart', 'REGION2')
        self.cloud('restart', 'REGION2', '--set',
                   'image_import_opts.image_import_plugins='
                   '[image_decompression]')

    def test_a_plugin_reading_the_staged_file_gets_the_staged_path(self):
        self.proxy.rate = 4 * MIB
        source = self.source_image(data=os.urandom(SIZE))
        target = self.target_image()
        self.start_import(source, target)
        part = os.path.join(self.env['regions']['REGION2']['staging'],
                            target['id'] + '.part')
        stored = os.path.join(
            self.env['regions']['REGION2']['stores']['fast'], target['id'])
        deadline = time.monotonic() + base.IMPORT_TIMEOUT
        while not os.path.exists(part):
            self.assertLess(time.monotonic(), deadline, 'no download')
            time.sleep(0.02)
        while os.path.exists(part):
            self.assertFalse(os.path.exists(stored),
                             'stored while the data still arrived')
            self.assertLess(time.monotonic(), deadline, 'download ended')
            time.sleep(0.02)
        image, task = self.wait_for(self.region2, target['id'])
        self.assert_verified_copy(source, image, task)
        # The method's closing line, kept in front of Glance's own.
        self.assertTrue(task['message'].startswith('Downloaded '),
                        task['message'])
        self.assertIn('; the store step waited for it: image_decompression '
                      'reads the staged file; Copied', task['message'])
        self.assert_nothing_staged(target['id'])
