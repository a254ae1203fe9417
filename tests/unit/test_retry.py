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

import email.utils
import http.client
import socket
import ssl
import threading
import time
import unittest

from keystoneauth1 import exceptions as ks_exceptions
from oslo_config import cfg
import requests
import urllib3.exceptions

from glance_download import errors
from glance_download import options
from glance_download import retry


class TransientStatusTest(unittest.TestCase):

    def test_429_and_5xx_are_transient(self):
        for code in (429, 500, 502, 503, 504, 599):
            self.assertTrue(retry.is_transient_status(code), code)

    def test_other_codes_are_not(self):
        for code in (200, 206, 301, 400, 401, 403, 404, 416, 428, 430, 600):
            self.assertFalse(retry.is_transient_status(code), code)


class ParseRetryAfterTest(unittest.TestCase):

    def test_seconds(self):
        self.assertEqual(5.0, retry.parse_retry_after('5'))
        self.assertEqual(7.0, retry.parse_retry_after(' 7 '))
        self.assertEqual(0.5, retry.parse_retry_after('0.5'))
        self.assertEqual(3.0, retry.parse_retry_after(3))

    def test_http_date(self):
        now = 1_700_000_000.0
        later = email.utils.formatdate(now + 120, usegmt=True)
        self.assertAlmostEqual(120.0, retry.parse_retry_after(later, now=now))

    def test_date_in_the_past_means_no_wait(self):
        now = 1_700_000_000.0
        earlier = email.utils.formatdate(now - 60, usegmt=True)
        self.assertEqual(0.0, retry.parse_retry_after(earlier, now=now))

    def test_unusable_values(self):
        for value in (None, '', 'soon', '-1', -2, 'nan', 'inf',
                      'Mon, 99 Foo 2024 00:00:00',
                      'Wed, 21 Oct 2015 07:28:00'):
            self.assertIsNone(retry.parse_retry_after(value), value)


class RetryPolicyTest(unittest.TestCase):

    def setUp(self):
        self.slept = []
        self.policy = retry.RetryPolicy(5, 1.0, 10.0, sleep=self.slept.append)

    def test_backoff_doubles_up_to_the_cap(self):
        self.assertEqual([1.0, 2.0, 4.0, 8.0, 10.0, 10.0],
                         [self.policy.delay_for(n) for n in range(1, 7)])
        self.assertEqual(10.0, self.policy.delay_for(10_000))

    def test_retry_after_lengthens_within_the_cap(self):
        self.assertEqual(6.0, self.policy.delay_for(1, '6'))
        self.assertEqual(10.0, self.policy.delay_for(1, '3600'))
        self.assertEqual(4.0, self.policy.delay_for(3, '0'))
        self.assertEqual(2.0, self.policy.delay_for(2, 'garbage'))

    def test_wait_sleeps_and_reports(self):
        self.assertEqual(2.0, self.policy.wait(2))
        self.assertEqual(10.0, self.policy.wait(1, retry_after=60))
        self.assertEqual([2.0, 10.0], self.slept)

    def test_no_sleep_for_zero_delay(self):
        policy = retry.RetryPolicy(3, 0, 0, sleep=self.slept.append)
        self.assertEqual(0, policy.wait(1))
        self.assertEqual([], self.slept)

    def test_a_stopped_download_does_not_sit_out_its_backoff(self):
        policy = retry.RetryPolicy(3, 30, 30)
        stop = threading.Event()
        threading.Timer(0.2, stop.set).start()
        started = time.monotonic()
        self.assertEqual(30, policy.sleep(30, interrupt=stop))
        self.assertLess(time.monotonic() - started, 5)

    def test_attempts_bound(self):
        self.assertTrue(self.policy.allows_another(4))
        self.assertFalse(self.policy.allows_another(5))
        single = retry.RetryPolicy(1, 1.0, 1.0)
        self.assertFalse(single.allows_another(1))

    def test_invalid_settings(self):
        self.assertRaises(ValueError, retry.RetryPolicy, 0, 1, 1)
        self.assertRaises(ValueError, retry.RetryPolicy, 1, -1, 1)

    def test_from_conf(self):
        conf = cfg.ConfigOpts()
        options.register_opts(conf)
        conf([], project='glance-download-test')
        conf.set_override('max_attempts', 7, group=options.GROUP)
        conf.set_override('retry_delay', 0.5, group=options.GROUP)
        conf.set_override('retry_max_delay', 3.0, group=options.GROUP)
        policy = retry.RetryPolicy.from_conf(conf, sleep=self.slept.append)
        self.assertEqual((7, 0.5, 3.0),
                         (policy.max_attempts, policy.delay, policy.max_delay))
        policy.wait(4)
        self.assertEqual([3.0], self.slept)


class RunTest(unittest.TestCase):
    """The one retry loop, of the image record and of the data."""

    def setUp(self):
        self.slept = []
        self.policy = retry.RetryPolicy(3, 1.0, 10.0, sleep=self.slept.append)
        self.numbers = []

    def failing(self, times, progressed=False, retry_after=None):
        def attempt(number):
            self.numbers.append(number)
            if len(self.numbers) <= times:
                raise retry.Transient(
                    'HTTP 503', 'Reading x failed',
                    lambda n: errors.TransferError(f'gave up after {n}'),
                    retry_after, progressed) from ValueError('cause')
            return 'done'
        return attempt

    def test_returns_once_an_attempt_succeeds_and_logs_each_retry(self):
        with self.assertLogs('glance_download.retry', 'WARNING') as logs:
            self.assertEqual('done', retry.run(self.policy, self.failing(2)))
        self.assertEqual([1, 2, 3], self.numbers)
        self.assertEqual([1.0, 2.0], self.slept)
        self.assertEqual(2, len(logs.records))
        self.assertIn('Reading x failed (attempt 1 of 3: HTTP 503); trying '
                      'again in 1.0 s', logs.output[0])

    def test_gives_up_with_the_callers_error(self):
        with self.assertRaises(errors.TransferError) as ctx:
            retry.run(self.policy, self.failing(5))
        self.assertEqual('gave up after 3', str(ctx.exception))
        self.assertIsInstance(ctx.exception.__cause__, ValueError)
        self.assertEqual([1, 2, 3], self.numbers)

    def test_attempts_already_made_count(self):
        self.assertRaises(errors.TransferError, retry.run, self.policy,
                          self.failing(5), made=2)
        self.assertEqual([3], self.numbers)

    def test_progress_starts_the_backoff_again(self):
        retry.run(self.policy, self.failing(2, progressed=True))
        self.assertEqual([1.0, 1.0], self.slept)

    def test_retry_after_is_honoured(self):
        retry.run(self.policy, self.failing(1, retry_after='5'))
        self.assertEqual([5.0], self.slept)

    def test_other_errors_end_the_loop(self):
        def attempt(number):
            self.numbers.append(number)
            raise KeyError('x')
        self.assertRaises(KeyError, retry.run, self.policy, attempt)
        self.assertEqual([1], self.numbers)


def _cert_failure():
    """A certificate failure wrapped the way requests reports it."""
    cause = ssl.SSLCertVerificationError(1, 'certificate verify failed')
    reason = urllib3.exceptions.SSLError(cause)
    wrapped = urllib3.exceptions.MaxRetryError(None, '/v2/images/x', reason)
    return requests.exceptions.SSLError(wrapped)


def _cert_failure_in_keystoneauth():
    """The same, as a keystoneauth1 session raises it."""
    try:
        try:
            raise _cert_failure()
        except requests.exceptions.SSLError as exc:
            raise ks_exceptions.SSLError(f'SSL exception: {exc}')
    except ks_exceptions.SSLError as exc:
        return exc


class TransientExceptionTest(unittest.TestCase):

    def test_transport_failures_are_transient(self):
        for exc in (
                requests.exceptions.ConnectionError('refused'),
                requests.exceptions.ConnectTimeout('slow'),
                requests.exceptions.ReadTimeout('silent'),
                requests.exceptions.ChunkedEncodingError('broken'),
                requests.exceptions.SSLError('EOF in violation of protocol'),
                ks_exceptions.ConnectFailure('Unable to establish connection'),
                ks_exceptions.ConnectTimeout('Request timed out'),
                ks_exceptions.SSLError('SSL exception: EOF'),
                urllib3.exceptions.ProtocolError('Connection broken'),
                urllib3.exceptions.ReadTimeoutError(None, '/', 'timed out'),
                urllib3.exceptions.IncompleteRead(10, 20),
                urllib3.exceptions.SSLError('EOF in violation of protocol'),
                http.client.IncompleteRead(b'x', 3),
                http.client.RemoteDisconnected('closed'),
                ConnectionResetError(104, 'reset'),
                BrokenPipeError(32, 'broken pipe'),
                socket.timeout('timed out'),
                TimeoutError(),
                # How keystoneauth1 reports a response body cut short.
                ks_exceptions.UnknownConnectionError(
                    'Unexpected exception',
                    requests.exceptions.ChunkedEncodingError('cut'))):
            self.assertTrue(retry.is_transient_exception(exc), repr(exc))

    def test_other_failures_are_not(self):
        for exc in (
                errors.TransferError('no'),
                errors.Aborted('stop'),
                errors.RemoteImageError('gone'),
                FileNotFoundError(2, 'No such file or directory'),
                PermissionError(13, 'Permission denied'),
                OSError(28, 'No space left on device'),
                ValueError('bug'),
                requests.exceptions.InvalidURL('bad'),
                requests.exceptions.TooManyRedirects('loop'),
                ks_exceptions.UnknownConnectionError('odd', None),
                ks_exceptions.UnknownConnectionError(
                    'odd', requests.exceptions.InvalidURL('bad')),
                _cert_failure(),
                _cert_failure_in_keystoneauth()):
            self.assertFalse(retry.is_transient_exception(exc), repr(exc))


if __name__ == '__main__':
    unittest.main()
