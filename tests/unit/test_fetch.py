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

import errno
import hashlib
import io
import json
import logging
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from unittest import mock
import uuid

from oslo_config import cfg
import requests
from requests.structures import CaseInsensitiveDict

from glance_download import autotune
from glance_download import errors
from glance_download import fetch
from glance_download import options
from glance_download import overlap
from glance_download import partfile
from glance_download import ranges
from glance_download import retry
from glance_download import verify
from tests.fake_glance import Cut
from tests.fake_glance import FakeGlance
from tests.fake_glance import FlipByte
from tests.fake_glance import IgnoreRange
from tests.fake_glance import NoLength
from tests.fake_glance import Stall
from tests.fake_glance import Status
from tests.fake_glance import Trickle

CHUNK = 64 * 1024
DATA = random.Random(20240229).randbytes(1_000_003)


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


class _StubResponse:
    """The parts of a streamed requests.Response that fetch uses."""

    def __init__(self, status, headers=None, body=b''):
        self.status_code = status
        self.headers = CaseInsensitiveDict(headers or {})
        self.raw = io.BytesIO(body)
        self.closed = False

    def iter_content(self, chunk_size):
        return iter(lambda: self.raw.read(chunk_size), b'')

    def close(self):
        self.closed = True


class _SlowBody:
    """A body that takes ``delay`` seconds for each read."""

    def __init__(self, raw, delay):
        self._raw = raw
        self._delay = delay

    def read(self, amount):
        time.sleep(self._delay)
        return self._raw.read(amount)


class FetchTestCase(unittest.TestCase):
    """A FakeGlance, a session, a staging directory and a recording sleep."""

    def setUp(self):
        self.token = f'secret-{uuid.uuid4().hex}'
        self.glance = FakeGlance(tokens={self.token}).start()
        self.addCleanup(self.glance.stop)
        self.session = requests.Session()
        self.addCleanup(self.session.close)
        staging = tempfile.TemporaryDirectory()
        self.addCleanup(staging.cleanup)
        self.staging = staging.name
        self.dest = os.path.join(self.staging, str(uuid.uuid4()))
        self.slept = []
        self.policy = retry.RetryPolicy(4, 0.5, 4.0, sleep=self.slept.append)
        self.offsets = []
        self.logs = _Capture()
        logger = logging.getLogger('glance_download')
        logger.addHandler(self.logs)
        self.addCleanup(logger.removeHandler, self.logs)
        logger.propagate = False
        self.addCleanup(setattr, logger, 'propagate', True)

    def tearDown(self):
        threads = [t for t in threading.enumerate()
                   if t.name in (fetch.HASH_THREAD, fetch.STREAM_THREAD)]
        self.assertEqual([], threads)
        for message in self.logs.messages:
            self.assertNotIn(self.token, message)

    def opener(self, url, read_timeout=2.0):
        """Open ``url`` the way the plugin does; map refusals to errors."""
        def open_at(offset, end=None):
            self.offsets.append(offset)
            headers = {'X-Auth-Token': self.token,
                       'Accept-Encoding': 'identity'}
            asked = ranges.request_range(offset, end)
            if asked:
                headers['Range'] = asked
            response = self.session.get(url, headers=headers, stream=True,
                                        timeout=(1.0, read_timeout))
            if response.status_code in (401, 403, 404):
                response.close()
                raise errors.RemoteImageError(
                    f'The source image cannot be read (HTTP '
                    f'{response.status_code}).')
            return response
        return open_at

    def download(self, image, digest=None, progress=None, read_timeout=2.0,
                 **engine):
        if digest is None:
            digest = verify.expected_digest(image)
        download = fetch.StagedDownload(
            self.dest, image['size'], digest, CHUNK, self.policy,
            progress=progress, **engine)
        return download.run(self.opener(self.glance.file_url(image['id']),
                                        read_timeout=read_timeout))

    def file_requests(self):
        return self.glance.requests_to('/file')

    def ranges(self):
        return [r.headers.get('Range') for r in self.file_requests()]

    def assertStaged(self, data):
        self.assertEqual([os.path.basename(self.dest)],
                         os.listdir(self.staging))
        with open(self.dest, 'rb') as f:
            self.assertEqual(hashlib.sha512(data).hexdigest(),
                             hashlib.sha512(f.read()).hexdigest())

    def assertNothingStaged(self):
        self.assertEqual([], os.listdir(self.staging))

    def assertFailsWith(self, error, call, *args, **kwargs):
        with self.assertRaises(error) as caught:
            call(*args, **kwargs)
        message = str(caught.exception)
        self.assertNotIn(self.token, message)
        self.assertNothingStaged()
        return message

    def assertOnePlainRequest(self, download, size):
        """``download(image)`` of ``size`` bytes: one request, no Range."""
        data = DATA[:size]
        image = self.glance.add_image(data)
        result = download(image)
        self.assertStaged(data)
        self.assertEqual([None], self.ranges())
        self.assertEqual(1, result.streams)

    def assertOneStreamIfRangeIgnored(self, download, first_range):
        """``download(image)`` over a source ignoring Range: one request."""
        image = self.glance.add_image(DATA)
        self.glance.faults.append(IgnoreRange())
        result = download(image)
        self.assertStaged(DATA)
        self.assertEqual([first_range], self.ranges())
        self.assertEqual(1, result.streams)


class DownloadTest(FetchTestCase):

    def test_sha512(self):
        image = self.glance.add_image(DATA)
        result = self.download(image)
        self.assertStaged(DATA)
        self.assertEqual(
            fetch.DownloadResult(bytes=len(DATA), algorithm='sha512',
                                 hexdigest=image['os_hash_value'],
                                 attempts=1, resumes=0, restarts=0,
                                 seconds=result.seconds),
            result)
        self.assertEqual(0o600, os.stat(self.dest).st_mode & 0o777)
        self.assertEqual([None], self.ranges())
        self.assertEqual([], self.slept)

    def test_md5_fallback(self):
        image = self.glance.add_image(DATA, os_hash_algo=None,
                                      os_hash_value=None)
        result = self.download(image)
        self.assertStaged(DATA)
        self.assertEqual(('md5', image['checksum']),
                         (result.algorithm, result.hexdigest))

    def test_size_only(self):
        image = self.glance.add_image(DATA, os_hash_algo=None,
                                      os_hash_value=None, checksum=None)
        result = self.download(image)
        self.assertStaged(DATA)
        self.assertIsNone(result.algorithm)
        self.assertIsNone(result.hexdigest)

    def test_empty_image(self):
        image = self.glance.add_image(b'')
        result = self.download(image)
        self.assertStaged(b'')
        self.assertEqual(0, result.bytes)

    def test_progress_is_reported_in_order(self):
        image = self.glance.add_image(DATA)
        calls = []
        self.download(image, progress=lambda done, total, streams: (
            calls.append((done, total))))
        done = [c[0] for c in calls]
        # Reported on a clock too, so a count may repeat, never go back.
        self.assertEqual(sorted(done), done)
        self.assertEqual((len(DATA), len(DATA)), calls[-1])
        self.assertEqual({len(DATA)}, {c[1] for c in calls})

    def test_cleanup_is_idempotent(self):
        image = self.glance.add_image(DATA)
        download = fetch.StagedDownload(self.dest, len(DATA),
                                        verify.expected_digest(image), CHUNK,
                                        self.policy)
        download.run(self.opener(self.glance.file_url(image['id'])))
        download.cleanup()
        self.assertNothingStaged()
        download.cleanup()
        self.assertNothingStaged()

    def test_stale_final_file_is_removed_first(self):
        with open(self.dest, 'wb') as f:
            f.write(b'an earlier, unrelated attempt')
        image = self.glance.add_image(DATA)
        self.glance.faults.append(FlipByte(offset=1))
        self.assertFailsWith(errors.VerificationError, self.download, image)


class FromConfTest(unittest.TestCase):

    def test_settings_of_the_options(self):
        conf = cfg.ConfigOpts()
        options.register_opts(conf)
        conf([], project='glance-download-test')
        for name, value in [('chunk_size', 128 * 1024),
                            ('parallel_streams', 6),
                            ('segment_size', 8 * 1024 * 1024),
                            ('process_streams', 9), ('min_rate', 77),
                            ('min_rate_period', 12.5),
                            ('download_timeout', 300.0)]:
            conf.set_override(name, value, group=options.GROUP)
        policy = retry.RetryPolicy(2, 0, 0)
        download = fetch.StagedDownload.from_conf(
            conf, '/staging/image', 1000, None, policy, max_size=5000)
        self.assertEqual(
            ('/staging/image', 1000, None, 128 * 1024, policy, 6,
             8 * 1024 * 1024, 77, 12.5, 300.0, 5000, 9),
            (download.dest_path, download.size, download.digest,
             download.chunk_size, download.policy, download.streams,
             download.segment_size, download.min_rate,
             download.min_rate_period, download.deadline,
             download.max_size, download.slots.limit))

    def test_a_followed_download_from_afar_has_finer_segments(self):
        # Decided where the download is built, from its own far: the
        # store step reads the prefix, which large segments would hold.
        far = autotune.Settings().near * 2
        cases = [(True, far, overlap.FOLLOWED_SEGMENT_SIZE),
                 (True, None, 64 * 1024 * 1024),
                 (False, far, 64 * 1024 * 1024)]
        for followed, latency, expected in cases:
            download = self.default_download(
                latency=latency, followed=followed,
                segment_size=64 * 1024 * 1024)
            self.assertEqual((expected, latency is not None),
                             (download.segment_size, download.far))

    @staticmethod
    def default_download(latency=None, followed=False, **overrides):
        """The download of the default options but ``overrides``."""
        conf = cfg.ConfigOpts()
        options.register_opts(conf)
        conf([], project='glance-download-test')
        for name, value in overrides.items():
            conf.set_override(name, value, group=options.GROUP)
        return fetch.StagedDownload.from_conf(
            conf, '/staging/image', 1000, None, retry.RetryPolicy(2, 0, 0),
            latency=latency, followed=followed)

    def test_streams_are_tuned_by_default(self):
        download = self.default_download()
        self.assertEqual('auto', download.streams)
        self.assertIsNotNone(download.tuning)
        self.assertEqual(4 * 1024 * 1024, download.min_split_size)
        self.assertEqual(3, self.default_download(
            parallel_streams='3').streams)

    def test_stream_count_values(self):
        kind = options.StreamCount()
        self.assertEqual('auto', kind(' AUTO '))
        self.assertEqual(64, kind('64'))
        self.assertEqual(1, kind(1))
        for wrong in ('0', '65', 'many', True, ''):
            with self.subTest(value=wrong):
                self.assertRaises(ValueError, kind, wrong)

    def test_no_download_timeout_is_no_deadline(self):
        self.assertIsNone(self.default_download().deadline)


class ResumeTest(FetchTestCase):

    def test_resume_after_connection_cut(self):
        image = self.glance.add_image(DATA)
        self.glance.faults.append(Cut(after=300_000))
        result = self.download(image)
        self.assertStaged(DATA)
        # A body cut short loses the chunk it was filling, no more.
        self.assertEqual([None, f'bytes={300_000 // CHUNK * CHUNK}-'],
                         self.ranges())
        self.assertLess(self.glance.bytes_sent, 2 * len(DATA))
        self.assertEqual((2, 1, 0),
                         (result.attempts, result.resumes, result.restarts))
        self.assertEqual([0.5], self.slept)

    def test_retry_after_connection_reset(self):
        image = self.glance.add_image(DATA)
        self.glance.faults.append(Cut(after=300_000, reset=True))
        result = self.download(image)
        self.assertStaged(DATA)
        self.assertEqual(2, result.attempts)
        # The reset drops what the client had received but not read.
        self.assertLessEqual(self.offsets[1], 300_000)

    def test_resume_after_stall_longer_than_read_timeout(self):
        image = self.glance.add_image(DATA)
        self.glance.faults.append(Stall(after=200_000, seconds=10))
        started = time.monotonic()
        result = self.download(image, read_timeout=0.3)
        self.assertLess(time.monotonic() - started, 5)
        self.assertStaged(DATA)
        self.assertEqual(1, result.resumes)
        self.assertEqual(f'bytes={200_000 // CHUNK * CHUNK}-',
                         self.ranges()[1])

    def test_server_ignoring_range_restarts_from_zero(self):
        image = self.glance.add_image(DATA)
        self.glance.faults += [Cut(after=300_000), IgnoreRange()]
        result = self.download(image)
        self.assertStaged(DATA)
        self.assertEqual((2, 0, 1),
                         (result.attempts, result.resumes, result.restarts))
        self.assertEqual(image['os_hash_value'], result.hexdigest)

    def run_answers(self, *answers):
        """(result, offsets asked) of a download the ``answers`` serve."""
        answers = iter(answers)
        offsets = []

        def opener(offset):
            offsets.append(offset)
            return next(answers)

        digest = ('sha512', hashlib.sha512(DATA).hexdigest())
        result = fetch.StagedDownload(self.dest, len(DATA), digest, CHUNK,
                                      self.policy).run(opener)
        return result, offsets

    def test_restart_then_resume_keeps_the_digest_consistent(self):
        size = len(DATA)
        result, offsets = self.run_answers(
            _StubResponse(200, {'Content-Length': str(size)}, DATA[:300_000]),
            _StubResponse(200, {'Content-Length': str(size)}, DATA[:600_000]),
            _StubResponse(206, {'Content-Range':
                                f'bytes 600000-{size - 1}/{size}'},
                          DATA[600_000:]))
        self.assertStaged(DATA)
        self.assertEqual([0, 300_000, 600_000], offsets)
        self.assertEqual((3, 1, 1),
                         (result.attempts, result.resumes, result.restarts))

    def test_whole_image_again_that_differs_starts_over(self):
        # The bytes written first are not what the source sends again: the
        # answer is not used, and the download starts over from byte 0.
        full = {'Content-Length': str(len(DATA))}
        bad = bytes([DATA[0] ^ 0xFF]) + DATA[1:300_000]
        result, offsets = self.run_answers(_StubResponse(200, full, bad),
                                           _StubResponse(200, full, DATA),
                                           _StubResponse(200, full, DATA))
        self.assertStaged(DATA)
        self.assertEqual([0, 300_000, 0], offsets)
        self.assertEqual((3, 1), (result.attempts, result.restarts))

    def test_repeated_cuts_use_up_the_attempts(self):
        image = self.glance.add_image(DATA)
        self.glance.faults.append(Cut(after=100_000, times=10))
        message = self.assertFailsWith(errors.TransferError, self.download,
                                       image)
        self.assertIn('4 attempt(s) failed', message)
        self.assertEqual(4, len(self.file_requests()))
        self.assertEqual([0.5, 0.5, 0.5], self.slept)

    def test_backoff_starts_over_after_progress(self):
        self.policy = retry.RetryPolicy(5, 0.5, 4.0, sleep=self.slept.append)
        image = self.glance.add_image(DATA)
        self.glance.faults += [Cut(after=200_000), Status(503),
                               Cut(after=200_000)]
        result = self.download(image)
        self.assertStaged(DATA)
        self.assertEqual([0.5, 1.0, 0.5], self.slept)
        self.assertEqual(2, result.resumes)

    def test_other_range_answered_refetches_from_zero(self):
        half = len(DATA) // 2
        full = {'Content-Length': str(len(DATA))}
        result, offsets = self.run_answers(
            _StubResponse(200, full, DATA[:half]),
            _StubResponse(206, {'Content-Range':
                                f'bytes 0-{len(DATA) - 1}/{len(DATA)}'},
                          DATA),
            _StubResponse(200, full, DATA))
        self.assertStaged(DATA)
        self.assertEqual([0, half, 0], offsets)
        self.assertEqual((3, 1), (result.attempts, result.restarts))


class StatusTest(FetchTestCase):

    def test_transient_statuses_then_success(self):
        image = self.glance.add_image(DATA)
        self.glance.faults += [Status(500), Status(503), Status(429)]
        result = self.download(image)
        self.assertStaged(DATA)
        self.assertEqual(4, result.attempts)
        self.assertEqual([0.5, 1.0, 2.0], self.slept)
        self.assertEqual([None] * 4, self.ranges())

    def test_persistent_5xx_gives_up_after_max_attempts(self):
        image = self.glance.add_image(DATA)
        self.glance.faults.append(Status(503, times=10))
        message = self.assertFailsWith(errors.TransferError, self.download,
                                       image)
        self.assertIn('4 attempt(s) failed', message)
        self.assertIn('HTTP 503 Service Unavailable', message)
        self.assertIn('Nothing was activated', message)
        self.assertEqual(4, len(self.file_requests()))
        self.assertEqual([0.5, 1.0, 2.0], self.slept)
        self.assertEqual(3, len(self.logs.messages))

    def test_retry_after_is_honoured_within_the_cap(self):
        image = self.glance.add_image(DATA)
        self.glance.faults += [Status(503, retry_after='3'),
                               Status(429, retry_after='3600')]
        self.download(image)
        self.assertStaged(DATA)
        self.assertEqual([3.0, 4.0], self.slept)

    def test_other_status_is_not_retried(self):
        image = self.glance.add_image(DATA)
        self.glance.faults.append(Status(400))
        message = self.assertFailsWith(errors.TransferError, self.download,
                                       image)
        self.assertIn('HTTP 400 Bad Request', message)
        self.assertEqual(1, len(self.file_requests()))
        self.assertEqual([], self.slept)

    def test_permanent_error_of_the_opener_is_not_retried(self):
        image = self.glance.add_image(DATA, visible_to={'someone else'})
        self.assertFailsWith(errors.RemoteImageError, self.download, image)
        self.assertEqual(1, len(self.file_requests()))
        self.assertEqual([], self.slept)

    def test_unreachable_source_is_retried_then_reported(self):
        with socket.socket() as probe:
            probe.bind(('127.0.0.1', 0))
            port = probe.getsockname()[1]
        download = fetch.StagedDownload(self.dest, 10, None, CHUNK,
                                        self.policy)
        url = f'http://127.0.0.1:{port}/v2/images/x/file'
        message = self.assertFailsWith(errors.TransferError, download.run,
                                       self.opener(url))
        self.assertIn('4 attempt(s) failed', message)
        self.assertIn('ConnectionError', message)
        self.assertEqual([0, 0, 0, 0], self.offsets)
        self.assertEqual([0.5, 1.0, 2.0], self.slept)

    def test_encoded_body_is_refused(self):
        def opener(offset):
            return _StubResponse(200, {'Content-Encoding': 'gzip'}, b'x')
        download = fetch.StagedDownload(self.dest, 1, None, CHUNK,
                                        self.policy)
        message = self.assertFailsWith(errors.TransferError, download.run,
                                       opener)
        self.assertIn("'gzip'", message)


class VerificationTest(FetchTestCase):

    def test_flipped_byte(self):
        image = self.glance.add_image(DATA)
        self.glance.faults.append(FlipByte(offset=654_321))
        message = self.assertFailsWith(errors.VerificationError,
                                       self.download, image)
        self.assertIn(f'expected {image["os_hash_value"]}, received ',
                      message)
        self.assertIn('Nothing was activated', message)
        self.assertEqual(1, len(self.file_requests()))

    def test_flipped_byte_with_md5(self):
        image = self.glance.add_image(DATA, os_hash_value=None)
        self.glance.faults.append(FlipByte(offset=0))
        message = self.assertFailsWith(errors.VerificationError,
                                       self.download, image)
        self.assertIn('md5 digest', message)

    def test_source_announces_more_than_its_size(self):
        image = self.glance.add_image(DATA, size=len(DATA) - 10)
        message = self.assertFailsWith(errors.VerificationError,
                                       self.download, image)
        self.assertIn(f'expected {len(DATA) - 10} bytes, received '
                      f'{len(DATA)} bytes announced', message)
        self.assertEqual(1, len(self.file_requests()))

    def test_source_streams_more_than_its_size(self):
        image = self.glance.add_image(DATA, size=len(DATA) - 10)
        self.glance.faults.append(NoLength())
        message = self.assertFailsWith(errors.VerificationError,
                                       self.download, image)
        self.assertIn('received at least', message)
        self.assertEqual(1, len(self.file_requests()))

    def test_source_announces_less_than_its_size(self):
        image = self.glance.add_image(DATA, size=len(DATA) + 10)
        self.assertFailsWith(errors.VerificationError, self.download, image)
        self.assertEqual(1, len(self.file_requests()))

    def test_source_streams_less_than_its_size(self):
        image = self.glance.add_image(DATA, size=len(DATA) + 10)
        self.glance.faults.append(NoLength())
        message = self.assertFailsWith(errors.VerificationError,
                                       self.download, image)
        self.assertIn('the source has no more', message)
        self.assertEqual([None, f'bytes={len(DATA)}-'], self.ranges())


class AbortTest(FetchTestCase):

    def test_abort_from_progress_stops_at_once(self):
        self.glance.close_connections = True
        image = self.glance.add_image(DATA)
        # Silent for longer than the test lasts, shorter than read_timeout:
        # only a check on the clock can see the abort.
        self.glance.faults.append(Stall(after=300_000, seconds=30))
        calls = []

        def progress(done, total, streams):
            calls.append(done)
            if len(calls) == 2:
                raise errors.Aborted('The import task was deleted.')

        started = time.monotonic()
        message = self.assertFailsWith(errors.Aborted, self.download, image,
                                       progress=progress, read_timeout=60)
        self.assertLess(time.monotonic() - started, 5)
        self.assertEqual('The import task was deleted.', message)
        self.assertEqual(2, len(calls))
        self.assertEqual(1, len(self.file_requests()))
        self.assertEqual([], self.slept)


class WriteTest(FetchTestCase):

    def test_large_chunks_are_written_in_slices(self):
        data = random.Random(7).randbytes(3 * partfile.WRITE_SLICE + 1234)
        image = self.glance.add_image(data)
        writes = []
        real_pwrite = os.pwrite

        def pwrite(fd, buffer, offset):
            writes.append((offset, len(buffer)))
            return real_pwrite(fd, buffer, offset)
        download = fetch.StagedDownload(
            self.dest, len(data), verify.expected_digest(image),
            4 * partfile.WRITE_SLICE, self.policy)
        with mock.patch.object(partfile.os, 'pwrite', side_effect=pwrite):
            download.run(self.opener(self.glance.file_url(image['id'])))
        self.assertStaged(data)
        self.assertTrue(all(size <= partfile.WRITE_SLICE
                            for _, size in writes), writes)
        # In order, without gaps or overlaps.
        offset = 0
        for at, size in writes:
            self.assertEqual(offset, at)
            offset += size
        self.assertEqual(len(data), offset)

    def test_short_writes_are_completed(self):
        image = self.glance.add_image(DATA)
        real_pwrite = os.pwrite

        def short_pwrite(fd, buffer, offset):
            return real_pwrite(fd, buffer[:1000], offset)
        with mock.patch.object(partfile.os, 'pwrite',
                               side_effect=short_pwrite):
            result = self.download(image)
        self.assertEqual(len(DATA), result.bytes)
        self.assertStaged(DATA)


class StagingErrorTest(FetchTestCase):

    def test_missing_staging_directory(self):
        self.dest = os.path.join(self.staging, 'missing', 'image')
        image = self.glance.add_image(DATA)
        message = self.assertFailsWith(errors.TransferError, self.download,
                                       image)
        self.assertIn('staging area could not be written', message)
        self.assertIn('No such file or directory', message)
        self.assertEqual([], self.offsets)

    def test_write_error_is_not_retried(self):
        image = self.glance.add_image(DATA)
        full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        with mock.patch.object(partfile.os, 'pwrite', side_effect=full):
            message = self.assertFailsWith(errors.TransferError,
                                           self.download, image)
        self.assertIn('staging area could not be written', message)
        self.assertIn(os.strerror(errno.ENOSPC), message)
        self.assertEqual(1, len(self.file_requests()))
        self.assertEqual([], self.slept)


class _StatVfs:
    """os.statvfs of a filesystem with ``free`` bytes available."""

    def __init__(self, free):
        self.free = free

    def __call__(self, path):
        return os.statvfs_result((4096, 4096, 1 << 20, self.free // 4096,
                                  self.free // 4096, 1000, 1000, 1000, 0,
                                  255))


class LimitsTest(FetchTestCase):
    """What ends a download that never ends, and checks before any byte.

    The server closes each connection after its answer, as the cloud's
    servers do: the HTTP library then lets go of the socket, and only the
    descriptor the response reads from can wake a blocked read.
    """

    def setUp(self):
        super().setUp()
        self.glance.close_connections = True

    def test_trickle_is_broken_off_below_the_minimum_rate(self):
        image = self.glance.add_image(DATA)
        self.glance.faults.append(Trickle(after=100_000, every=0.2,
                                          times=10))
        started = time.monotonic()
        message = self.assertFailsWith(
            errors.TransferError, self.download, image, read_timeout=30,
            min_rate=10_000, min_rate_period=0.5)
        self.assertLess(time.monotonic() - started, 15)
        self.assertIn('4 attempt(s) failed', message)
        self.assertIn('below the minimum of 10000 bytes/s', message)
        self.assertEqual(4, len(self.file_requests()))

    def test_a_slow_moment_is_resumed(self):
        image = self.glance.add_image(DATA)
        self.glance.faults.append(Trickle(after=200_000, every=0.2))
        result = self.download(image, read_timeout=30, min_rate=10_000,
                               min_rate_period=0.5)
        self.assertStaged(DATA)
        self.assertEqual(1, result.resumes)

    def test_deadline(self):
        image = self.glance.add_image(DATA)
        self.glance.faults.append(Trickle(after=100_000, every=0.2))
        started = time.monotonic()
        message = self.assertFailsWith(errors.TransferError, self.download,
                                       image, read_timeout=30, deadline=1.0)
        self.assertLess(time.monotonic() - started, 5)
        self.assertIn('did not arrive within the 1 s allowed', message)
        self.assertIn('download_timeout', message)

    def test_abort_checks_run_while_a_trickle_fills_no_chunk(self):
        image = self.glance.add_image(DATA)
        self.glance.faults.append(Trickle(after=100_000, every=0.2))
        seen = []

        def progress(done, total, streams):
            seen.append(done)
            if len(seen) == 8:
                raise errors.Aborted('The target image was deleted.')

        started = time.monotonic()
        self.assertFailsWith(errors.Aborted, self.download, image,
                             progress=progress, read_timeout=30)
        self.assertLess(time.monotonic() - started, 5)

    def test_image_over_the_size_cap_fails_before_any_request(self):
        image = self.glance.add_image(DATA)
        message = self.assertFailsWith(errors.TransferError, self.download,
                                       image, max_size=len(DATA) - 1)
        self.assertIn(f'image_size_cap = {len(DATA) - 1} bytes', message)
        self.assertIn(f'{len(DATA)} bytes', message)
        self.assertEqual([], self.file_requests())

    def test_not_enough_free_space_fails_before_any_request(self):
        image = self.glance.add_image(DATA)
        message = self.assertFailsWith(
            errors.TransferError, self.download, image,
            statvfs=_StatVfs(512 * 1024))
        self.assertIn('has 512.0 KiB free', message)
        self.assertIn(f'needs 976.6 KiB ({len(DATA)} bytes)', message)
        self.assertNotIn(self.staging, message)
        self.assertEqual([], self.file_requests())

    def test_allocation_refused_fails_before_any_request(self):
        image = self.glance.add_image(DATA)
        full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        with mock.patch.object(partfile.os, 'posix_fallocate',
                               side_effect=full):
            message = self.assertFailsWith(errors.TransferError,
                                           self.download, image)
        self.assertIn(f'needs 976.6 KiB ({len(DATA)} bytes)', message)
        self.assertEqual([], self.file_requests())

    def test_space_is_reserved_up_front(self):
        image = self.glance.add_image(DATA)
        sizes = []

        def progress(done, total, streams):
            sizes.append(os.stat(self.dest + partfile.PART_SUFFIX).st_blocks)

        self.download(image, progress=progress)
        self.assertStaged(DATA)
        self.assertGreaterEqual(sizes[0] * 512, len(DATA))

    def test_filesystem_without_allocation_checks_free_space(self):
        image = self.glance.add_image(DATA)
        unsupported = OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP))
        with mock.patch.object(partfile.os, 'posix_fallocate',
                               side_effect=unsupported):
            self.download(image)
        self.assertStaged(DATA)

    def test_staging_path_is_not_in_the_message(self):
        image = self.glance.add_image(DATA)
        full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        with mock.patch.object(partfile.os, 'pwrite', side_effect=full):
            message = self.assertFailsWith(errors.TransferError,
                                           self.download, image)
        self.assertNotIn(self.staging, message)
        self.assertTrue(any(self.dest in m for m in self.logs.messages))


SEGMENT = 128 * 1024


class ParallelTest(FetchTestCase):
    """Several ranged streams at once, each resuming on its own."""

    def parallel(self, image, streams=4, **kwargs):
        return self.download(image, streams=streams, segment_size=SEGMENT,
                             **kwargs)

    def starts(self):
        return sorted(int(r[len('bytes='):].split('-')[0]) if r else 0
                      for r in self.ranges())

    def test_segments_over_several_streams(self):
        image = self.glance.add_image(DATA)
        calls = []
        result = self.parallel(image, progress=lambda *call: calls.append(
            call))
        self.assertStaged(DATA)
        self.assertEqual(image['os_hash_value'], result.hexdigest)
        self.assertEqual(list(range(0, len(DATA), SEGMENT)), self.starts())
        self.assertIn(f'bytes=0-{SEGMENT - 1}', self.ranges())
        self.assertGreater(result.streams, 1)
        self.assertLessEqual(self.glance.most_data_streams, 4)
        self.assertEqual(len(DATA), self.glance.bytes_sent)
        self.assertEqual((len(DATA), len(DATA)), calls[-1][:2])

    def test_cut_stall_and_refused_extra_stream(self):
        image = self.glance.add_image(DATA)
        self.glance.faults += [
            Cut(after=70_000, at=2 * SEGMENT),
            Stall(after=70_000, seconds=10, at=4 * SEGMENT),
            Status(503, at=3 * SEGMENT)]
        started = time.monotonic()
        result = self.parallel(image, read_timeout=0.5)
        self.assertLess(time.monotonic() - started, 8)
        self.assertStaged(DATA)
        self.assertEqual(image['os_hash_value'], result.hexdigest)
        self.assertEqual(2, result.resumes)
        self.assertLess(self.glance.bytes_sent, 1.2 * len(DATA))
        self.assertIn(f'bytes={2 * SEGMENT + CHUNK}-{3 * SEGMENT - 1}',
                      self.ranges())

    def test_flipped_byte_in_one_segment(self):
        image = self.glance.add_image(DATA)
        self.glance.faults.append(FlipByte(offset=5 * SEGMENT + 77,
                                           at=5 * SEGMENT))
        message = self.assertFailsWith(errors.VerificationError,
                                       self.parallel, image)
        self.assertIn('sha512 digest', message)

    def test_remote_ignoring_range_gives_one_stream(self):
        self.assertOneStreamIfRangeIgnored(self.parallel,
                                           f'bytes=0-{SEGMENT - 1}')

    def test_ignored_range_on_a_later_segment_is_retried(self):
        image = self.glance.add_image(DATA)
        self.glance.faults.append(IgnoreRange(at=3 * SEGMENT))
        result = self.parallel(image)
        self.assertStaged(DATA)
        self.assertLess(self.glance.bytes_sent, 3 * len(DATA))
        self.assertEqual(image['os_hash_value'], result.hexdigest)

    def test_small_image_is_one_stream(self):
        self.assertOnePlainRequest(self.parallel, 2 * SEGMENT - 1)

    def test_process_cap_bounds_the_streams(self):
        from glance_download import streams
        slots = streams.StreamSlots(2)
        image = self.glance.add_image(DATA)
        # One stream pauses, so that the other would open more if allowed.
        self.glance.faults.append(Stall(after=SEGMENT // 2, seconds=0.5,
                                        at=SEGMENT))
        result = self.parallel(image, slots=slots)
        self.assertStaged(DATA)
        self.assertLessEqual(self.glance.most_data_streams, 2)
        self.assertEqual(2, result.streams)
        self.assertEqual(0, slots.in_use)

    def test_first_stream_waits_for_a_slot(self):
        from glance_download import streams
        slots = streams.StreamSlots(1)
        self.assertTrue(slots.acquire(wait=False))
        threading.Timer(0.5, slots.release).start()
        image = self.glance.add_image(DATA)
        self.parallel(image, slots=slots)
        self.assertStaged(DATA)
        self.assertEqual(0, slots.in_use)

    def test_segment_gives_up_after_its_attempts(self):
        image = self.glance.add_image(DATA)
        self.glance.faults.append(Cut(after=1000, at=SEGMENT, times=10))
        message = self.assertFailsWith(errors.TransferError, self.parallel,
                                       image)
        self.assertIn('4 attempt(s) failed', message)
        self.assertIn(f'at byte {SEGMENT + 0} of {len(DATA)}', message)


class SplitTest(FetchTestCase):
    """Streams with nothing to claim split the largest segment left."""

    WHOLE = 64 * 1024 * 1024

    # A source on loopback answers within near seconds, where auto starts
    # with one stream: these tests take it for a distant one.
    FAR = autotune.Settings(near=0.0)

    def split(self, image, streams=4, **kwargs):
        if streams == 'auto':
            kwargs.setdefault('tuning', self.FAR)
        return self.download(image, streams=streams, segment_size=self.WHOLE,
                             min_split_size=CHUNK, **kwargs)

    def starts(self):
        return sorted(int(r[len('bytes='):].split('-')[0])
                      for r in self.ranges())

    def test_one_segment_image_is_shared_out(self):
        image = self.glance.add_image(DATA)
        # The first stream pauses, so that the others take over its bytes.
        self.glance.faults.append(Stall(after=3 * CHUNK, seconds=1.0))
        result = self.split(image)
        self.assertStaged(DATA)
        self.assertEqual(image['os_hash_value'], result.hexdigest)
        self.assertGreater(result.streams, 1)
        self.assertLessEqual(self.glance.most_data_streams, 4)
        # A ranged first request, so the answer says ranges are served.
        self.assertEqual(f'bytes=0-{len(DATA) - 1}', self.ranges()[0])
        self.assertGreater(len(set(self.starts())), 2)
        self.assertEqual(1, result.resumes)

    def test_source_ignoring_range_is_not_split(self):
        self.assertOneStreamIfRangeIgnored(
            self.split, f'bytes=0-{len(DATA) - 1}')

    def test_too_small_to_split_is_one_plain_request(self):
        self.assertOnePlainRequest(self.split, 2 * CHUNK - 1)

    def test_flipped_byte_in_a_split_half_fails(self):
        image = self.glance.add_image(DATA)
        # Every answer but the stalled first one flips the byte, so that
        # whichever split half holds it writes it flipped.
        self.glance.faults += [Stall(after=3 * CHUNK, seconds=1.0),
                               FlipByte(offset=len(DATA) - 5, times=20)]
        self.assertFailsWith(errors.VerificationError, self.split, image)

    def test_auto_downloads_and_splits(self):
        image = self.glance.add_image(DATA)
        self.glance.faults.append(Stall(after=3 * CHUNK, seconds=1.0))
        result = self.split(image, streams='auto')
        self.assertStaged(DATA)
        self.assertEqual(image['os_hash_value'], result.hexdigest)
        self.assertGreater(result.streams, 1)
        self.assertLessEqual(result.streams, autotune.Settings.ceiling)

    def test_streams_over_the_limit_give_their_segment_back(self):
        asked = []

        def opener(offset, end=None):
            end = end or len(DATA)
            asked.append((offset, end))
            response = _StubResponse(206, {
                'Content-Range': f'bytes {offset}-{end - 1}/{len(DATA)}'},
                DATA[offset:end])
            response.raw = _SlowBody(response.raw, 0.1)
            return response
        logger = logging.getLogger('glance_download')
        self.addCleanup(logger.setLevel, logger.level)
        logger.setLevel(logging.DEBUG)
        # No doubling is worth it: 4, 8, back to 4 and, with no hold,
        # fewer measured at once: those over 4 leave mid-segment.
        tuning = autotune.Settings(start=4, ceiling=8, window=0.0,
                                   resolution=0, gain=100.0, hold=0.0,
                                   near=0.0)
        result = fetch.StagedDownload(
            self.dest, len(DATA), ('sha512', hashlib.sha512(
                DATA).hexdigest()), CHUNK // 4, self.policy, streams='auto',
            segment_size=self.WHOLE, min_split_size=CHUNK,
            tuning=tuning).run(opener)
        self.assertStaged(DATA)
        self.assertGreater(result.streams, 1)
        # What was given back was asked for again, from where it was left.
        self.assertGreater(len(asked), result.streams)
        self.assertTrue([m for m in self.logs.messages
                         if 'fewer streams are wanted' in m])

    def test_auto_over_a_source_ignoring_range(self):
        # The first answer is the whole image: one stream takes it.
        image = self.glance.add_image(DATA)
        self.glance.faults.append(IgnoreRange(times=20))
        result = self.split(image, streams='auto')
        self.assertStaged(DATA)
        self.assertEqual(image['os_hash_value'], result.hexdigest)
        self.assertEqual(len(DATA), result.bytes)
        self.assertEqual([f'bytes=0-{len(DATA) - 1}'], self.ranges())
        self.assertEqual(1, result.streams)

    def test_auto_starts_with_one_stream_from_a_near_source(self):
        image = self.glance.add_image(DATA)
        result = self.split(image, streams='auto',
                            tuning=autotune.Settings(near=10.0))
        self.assertStaged(DATA)
        self.assertEqual(1, result.streams)
        self.assertEqual([f'bytes=0-{len(DATA) - 1}'], self.ranges())

    def test_auto_gives_up_streams_refused_with_429(self):
        image = self.glance.add_image(DATA)
        self.glance.faults += [Stall(after=3 * CHUNK, seconds=1.0),
                               Status(429, times=3)]
        result = self.split(image, streams='auto')
        self.assertStaged(DATA)
        self.assertEqual(image['os_hash_value'], result.hexdigest)
        self.assertEqual([], self.glance.faults)


class EagerTest(FetchTestCase):
    """A far source: the tuned streams open at once, not after an answer."""

    WHOLE = SplitTest.WHOLE
    FAR_AWAY = 1.0
    """Seconds the source record took: far, for the default settings."""

    def paced(self, opener, answer_after=0.2):
        """``opener``, its answers coming ``answer_after`` s after asking.

        It notes, for each request, how many had been answered before.
        """
        lock = threading.Lock()
        answered = []
        seen = []

        def paced_opener(offset, end=None):
            with lock:
                seen.append(len(answered))
            response = opener(offset, end)
            time.sleep(answer_after)
            with lock:
                answered.append(offset)
            return response
        return paced_opener, seen

    @staticmethod
    def slow_ranges(offset, end=None):
        """Ranges whose body is slower than the answer.

        So that every stream starts.
        """
        end = end or len(DATA)
        response = _StubResponse(206, {
            'Content-Range': f'bytes {offset}-{end - 1}/{len(DATA)}'},
            DATA[offset:end])
        response.raw = _SlowBody(response.raw, 0.05)
        return response

    def run_paced(self, opener, latency):
        opener, seen = self.paced(opener)
        result = fetch.StagedDownload(
            self.dest, len(DATA), ('sha512', hashlib.sha512(
                DATA).hexdigest()), CHUNK, self.policy, streams='auto',
            segment_size=self.WHOLE, min_split_size=CHUNK,
            tuning=autotune.Settings(start=4, ceiling=4),
            latency=latency).run(opener)
        self.assertStaged(DATA)
        return result, seen

    def test_far_source_opens_every_first_stream_at_once(self):
        result, seen = self.run_paced(self.slow_ranges, self.FAR_AWAY)
        self.assertEqual(4, result.streams)
        self.assertEqual([0, 0, 0, 0], seen[:4])

    def test_unknown_distance_waits_for_the_first_answer(self):
        result, seen = self.run_paced(self.slow_ranges, None)
        self.assertEqual(4, result.streams)
        self.assertEqual(0, seen[0])
        self.assertGreaterEqual(min(seen[1:]), 1)

    def test_near_source_is_placed_by_its_first_answer(self):
        result, seen = self.run_paced(self.slow_ranges,
                                      autotune.Settings.near / 2)
        self.assertEqual(0, seen[0])
        self.assertGreaterEqual(min(seen[1:]), 1)

    def test_eager_streams_over_a_source_ignoring_range(self):
        # Every eager stream gets the whole image: the first one takes it,
        # the others leave without an error or a retry.
        logger = logging.getLogger('glance_download')
        self.addCleanup(logger.setLevel, logger.level)
        logger.setLevel(logging.INFO)
        image = self.glance.add_image(DATA)
        self.glance.faults.append(IgnoreRange(times=20))
        result, seen = self.run_paced(
            self.opener(self.glance.file_url(image['id'])), self.FAR_AWAY)
        self.assertEqual(image['os_hash_value'], result.hexdigest)
        self.assertEqual(len(DATA), result.bytes)
        self.assertEqual([0, 0, 0, 0], seen)
        self.assertEqual(4, result.attempts)
        self.assertEqual(0, result.resumes + result.restarts)
        self.assertEqual(4, len(self.ranges()))
        self.assertTrue(all(r.startswith('bytes=') for r in self.ranges()))
        self.assertEqual(1, len([m for m in self.logs.messages
                                 if 'ignores Range' in m]))


class ResidueTest(FetchTestCase):
    """A part file left by a glance-api that died, found by the next try."""

    def leave_residue(self, data, written, digest, segments=None):
        """A part file of ``data`` whose ranges ``segments`` are written."""
        segments = segments or [(0, len(data), written)]
        with open(self.dest + partfile.PART_SUFFIX, 'wb') as f:
            f.write(data[:written].ljust(len(data), b'\0'))
        with open(self.dest + partfile.SIDECAR_SUFFIX, 'w') as f:
            json.dump(partfile.source_record(len(data), digest, segments), f)

    def test_resumes_from_the_bytes_there(self):
        image = self.glance.add_image(DATA)
        self.leave_residue(DATA, 600_000, verify.expected_digest(image))
        result = self.download(image)
        self.assertStaged(DATA)
        self.assertEqual(['bytes=600000-'], self.ranges())
        self.assertEqual(len(DATA) - 600_000, self.glance.bytes_sent)
        self.assertEqual(image['os_hash_value'], result.hexdigest)

    def test_resumes_only_unwritten_segments(self):
        image = self.glance.add_image(DATA)
        size = len(DATA)
        cuts = list(range(0, size, SEGMENT)) + [size]
        segments = [(s, e, e if i % 2 == 0 else s)
                    for i, (s, e) in enumerate(zip(cuts, cuts[1:]))]
        with open(self.dest + partfile.PART_SUFFIX, 'wb') as f:
            f.write(DATA)
        with open(self.dest + partfile.SIDECAR_SUFFIX, 'w') as f:
            json.dump(partfile.source_record(
                size, verify.expected_digest(image), segments), f)
        self.download(image, streams=4, segment_size=SEGMENT)
        self.assertStaged(DATA)
        self.assertEqual(sum(e - s for s, e, w in segments if w == s),
                         self.glance.bytes_sent)

    def test_residue_of_another_source_is_discarded(self):
        image = self.glance.add_image(DATA)
        other = ('sha512', hashlib.sha512(b'other').hexdigest())
        self.leave_residue(DATA, 600_000, other)
        self.download(image)
        self.assertStaged(DATA)
        self.assertEqual([None], self.ranges())

    def test_bad_prefix_fails_verification_and_goes(self):
        image = self.glance.add_image(DATA)
        damaged = bytes([DATA[0] ^ 1]) + DATA[1:]
        self.leave_residue(damaged, 600_000, verify.expected_digest(image))
        self.assertFailsWith(errors.VerificationError, self.download, image)

    def test_sidecar_is_written_before_the_first_byte(self):
        image = self.glance.add_image(DATA)
        records = []

        def opener(offset, end=None):
            records.append(partfile.read_sidecar(self.dest))
            return real(offset, end) if end else real(offset)
        real = self.opener(self.glance.file_url(image['id']))
        fetch.StagedDownload(self.dest, len(DATA),
                             verify.expected_digest(image), CHUNK,
                             self.policy).run(opener)
        self.assertEqual([(0, len(DATA), 0)], partfile.resumable(
            records[0], len(DATA), verify.expected_digest(image)))
        self.assertStaged(DATA)


class ResumableTest(unittest.TestCase):
    """The pure decision over a residue's sidecar."""

    DIGEST = ('sha512', 'ab' * 64)

    def record(self, **changes):
        record = partfile.source_record(100, self.DIGEST,
                                        [(0, 60, 60), (60, 100, 70)])
        record.update(changes)
        return record

    def test_same_source(self):
        self.assertEqual([(0, 60, 60), (60, 100, 70)],
                         partfile.resumable(self.record(), 100, self.DIGEST))

    def test_other_sources_and_damaged_records(self):
        for record, size, digest in [
                (self.record(), 101, self.DIGEST),
                (self.record(), 100, ('sha512', 'cd' * 64)),
                (self.record(), 100, ('md5', 'ab' * 64)),
                (self.record(), 100, None),
                (self.record(version=2), 100, self.DIGEST),
                (self.record(segments=[[0, 60, 61], [60, 100, 60]]), 100,
                 self.DIGEST),
                (self.record(segments=[[0, 60, 60]]), 100, self.DIGEST),
                (self.record(segments=[[0, 60, 60], [50, 100, 50]]), 100,
                 self.DIGEST),
                (self.record(segments=[[0, 100, '5']]), 100, self.DIGEST),
                (self.record(segments=[]), 100, self.DIGEST),
                ('not a record', 100, self.DIGEST),
                (None, 100, self.DIGEST)]:
            with self.subTest(record=record, size=size, digest=digest):
                self.assertIsNone(partfile.resumable(record, size, digest))


_CHILD = '''
import requests
import sys
from glance_download import fetch, ranges, retry, verify
url, token, dest, size, algorithm, value, segment, split = sys.argv[1:]
session = requests.Session()


def opener(offset, end=None):
    headers = {'X-Auth-Token': token, 'Accept-Encoding': 'identity'}
    asked = ranges.request_range(offset, end)
    if asked:
        headers['Range'] = asked
    return session.get(url, headers=headers, stream=True, timeout=(5, 60))


fetch.StagedDownload(dest, int(size), (algorithm, value), 65536,
                     retry.RetryPolicy(1, 0, 0), streams=2,
                     segment_size=int(segment),
                     min_split_size=int(split)).run(opener)
'''


class CrashTest(FetchTestCase):
    """A process killed mid-download, then the same download again."""

    def start_child(self, image, segment_size, min_split):
        child = subprocess.Popen(
            [sys.executable, '-c', _CHILD, self.glance.file_url(image['id']),
             self.token, self.dest, str(len(DATA)), 'sha512',
             image['os_hash_value'], str(segment_size), str(min_split)],
            cwd=os.path.dirname(os.path.dirname(os.path.dirname(
                os.path.abspath(__file__)))))
        self.addCleanup(child.wait)
        self.addCleanup(child.kill)
        return child

    def kill_once(self, child, image, done):
        """Kill ``child`` once its sidecar satisfies ``done(kept)``."""
        digest = verify.expected_digest(image)
        deadline = time.monotonic() + 30
        while True:
            kept = partfile.resumable(partfile.read_sidecar(self.dest),
                                      len(DATA), digest)
            if kept and done(kept):
                break
            self.assertLess(time.monotonic(), deadline, kept)
            time.sleep(0.1)
        child.kill()
        child.wait()
        return kept

    def test_resume_after_kill(self):
        image = self.glance.add_image(DATA)
        self.glance.faults.append(Stall(after=10_000, seconds=60,
                                        at=3 * SEGMENT))
        child = self.start_child(image, SEGMENT, 4 * 1024 * 1024)
        self.kill_once(child, image, lambda kept: sum(
            w - s for s, _, w in kept) >= 6 * SEGMENT)
        first = self.glance.bytes_sent
        self.assertLess(first, len(DATA))

        result = self.download(image, streams=2, segment_size=SEGMENT)
        self.assertStaged(DATA)
        self.assertEqual(image['os_hash_value'], result.hexdigest)
        self.assertLess(self.glance.bytes_sent, 1.3 * len(DATA))
        again = self.ranges()[-(result.attempts):]
        self.assertEqual([f'bytes={3 * SEGMENT}-{4 * SEGMENT - 1}'], again)

    def test_resume_after_kill_once_a_segment_was_split(self):
        # One segment, the whole image; its stream stalls, the other
        # stream takes over its second half and writes it all.
        image = self.glance.add_image(DATA)
        self.glance.faults.append(Stall(after=10_000, seconds=60))
        child = self.start_child(image, 64 * 1024 * 1024, CHUNK)
        kept = self.kill_once(child, image, lambda kept: len(kept) > 1 and (
            kept[-1][2] == kept[-1][1]))
        self.assertEqual(len(DATA), kept[-1][1])
        self.assertEqual(0, kept[0][0])
        first = self.glance.bytes_sent
        self.assertLess(first, len(DATA))

        # One stream, so that nothing is split again and over-read.
        result = self.download(image)
        self.assertStaged(DATA)
        self.assertEqual(image['os_hash_value'], result.hexdigest)
        # Only what the sidecar did not hold crossed again.
        missing = sum(e - w for s, e, w in kept)
        self.assertEqual(missing, self.glance.bytes_sent - first)
        self.assertNotIn(None, self.ranges()[-result.attempts:])


class ReleaseTest(FetchTestCase):
    """Bytes the store step took leave the part file; no resume counts them."""

    BLOCK = 64 * 1024

    def setUp(self):
        super().setUp()
        patch = mock.patch.object(overlap, 'RELEASE_BLOCK', self.BLOCK)
        patch.start()
        self.addCleanup(patch.stop)

    def test_the_sidecar_does_not_count_released_bytes(self):
        segments = [(0, 100, 100), (100, 200, 150), (200, 300, 220)]
        record = partfile.source_record(300, ('sha512', 'ab'), segments,
                                        released=150)
        self.assertEqual([[0, 100, 0], [100, 200, 100], [200, 300, 220]],
                         record['segments'])
        self.assertEqual([(0, 100, 0), (100, 200, 100), (200, 300, 220)],
                         partfile.resumable(record, 300, ('sha512', 'ab')))

    def test_only_hashed_whole_blocks_go_until_verified_then_all(self):
        image = self.glance.add_image(DATA)
        # The stream stops for a while after 300_000 bytes, then resumes.
        self.glance.faults.append(Stall(after=300_000, seconds=1.0))
        download = fetch.StagedDownload(
            self.dest, image['size'], verify.expected_digest(image), CHUNK,
            self.policy)
        background = overlap.BackgroundDownload(
            download, lambda: download.run(self.opener(
                self.glance.file_url(image['id']), read_timeout=2.0)))
        background.start()
        self.addCleanup(background.cancel)
        # Whole blocks of what is hashed, while the stream waits.
        hashed = 300_000 // self.BLOCK * self.BLOCK
        seen, deadline = [0], time.monotonic() + 5
        while seen[-1] < hashed and time.monotonic() < deadline:
            seen.append(background.release(len(DATA)))
            time.sleep(0.01)
        self.assertEqual(hashed, max(seen))
        self.assertTrue(all(n % self.BLOCK == 0 for n in seen))
        with open(self.dest + partfile.SIDECAR_SUFFIX) as f:
            self.assertEqual(0, json.load(f)['segments'][0][2])
        background.verdict()
        self.assertStaged(DATA)
        self.assertEqual(len(DATA), background.release(len(DATA)))

    def test_a_residue_whose_prefix_was_released_is_fetched_again(self):
        image = self.glance.add_image(DATA)
        with open(self.dest + partfile.PART_SUFFIX, 'wb') as f:
            f.write(bytes(300_000) + DATA[300_000:600_000])
            f.truncate(len(DATA))
        with open(self.dest + partfile.SIDECAR_SUFFIX, 'w') as f:
            json.dump(partfile.source_record(
                len(DATA), verify.expected_digest(image),
                [(0, len(DATA), 600_000)], released=300_000), f)
        self.download(image)
        self.assertStaged(DATA)
        self.assertEqual(len(DATA), self.glance.bytes_sent)

    def test_no_sidecar_is_written_once_the_part_file_is_committed(self):
        part = partfile.PartFile(self.dest)
        part.open()
        part.record({'version': partfile.SIDECAR_VERSION})
        part.commit()
        part.record({'version': partfile.SIDECAR_VERSION})
        self.assertEqual([os.path.basename(self.dest)],
                         os.listdir(self.staging))


class ReleasesTest(unittest.TestCase):

    def test_only_a_single_store_lets_staged_bytes_go(self):
        self.assertTrue(overlap.releases([None]))
        self.assertTrue(overlap.releases(['fast']))
        self.assertFalse(overlap.releases(['fast', 'cheap']))
