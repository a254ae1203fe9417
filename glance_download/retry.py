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

"""Which failures of a remote request are worth another attempt, and when.

Only failures that can go away by themselves are retried: the network, a
timeout, an overloaded or restarting remote (5xx, 429).  Anything else would
fail the same way again, so it is reported at once instead of after minutes
of waiting.
"""

import email.utils
import http.client
import logging
import ssl
import time

from keystoneauth1 import exceptions as ks_exceptions
import requests
import urllib3.exceptions

from glance_download import errors
from glance_download import options

LOG = logging.getLogger(__name__)

_TRANSIENT_EXCEPTIONS = (
    # keystoneauth1 sessions translate the requests exceptions below.
    ks_exceptions.RetriableConnectionFailure,
    ks_exceptions.SSLError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.TimeoutError,
    urllib3.exceptions.SSLError,
    urllib3.exceptions.ProxyError,
    urllib3.exceptions.MaxRetryError,
    urllib3.exceptions.IncompleteRead,
    urllib3.exceptions.InvalidChunkLength,
    http.client.IncompleteRead,
    ConnectionError,
    TimeoutError,
)

# Links followed when looking for the root cause of a wrapped exception;
# requests and urllib3 wrap at most three or four levels deep.
_MAX_CAUSE_DEPTH = 8


def is_transient_status(code):
    """True for HTTP answers that mean "not now" rather than "no": 429, 5xx."""
    return code == 429 or 500 <= code <= 599


def parse_retry_after(value, now=None):
    """Seconds to wait according to a Retry-After header, or None.

    The header holds either delay-seconds or an HTTP-date (RFC 9110 10.2.3).
    A date in the past means no wait.  ``now`` (seconds since the epoch,
    default the current time) makes the date form deterministic.
    Unparsable values give None, so a broken header only loses the hint.
    """
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if value >= 0 else None
    text = str(value).strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if 0 <= seconds < float('inf') else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    if now is None:
        now = time.time()
    return max(0.0, when.timestamp() - now)


def _causes(exc):
    """The exception and those it wraps, as requests and urllib3 nest them."""
    seen = []
    pending = [exc]
    while pending and len(seen) < _MAX_CAUSE_DEPTH:
        current = pending.pop()
        if not isinstance(current, BaseException) or any(
                current is s for s in seen):
            continue
        seen.append(current)
        pending.extend([current.__cause__, current.__context__,
                        getattr(current, 'reason', None)])
        pending.extend(current.args)
    return seen


def is_transient_exception(exc):
    """True when a failed request or read may succeed if tried again.

    Errors of the local disk are not transient here: they are reported by
    the caller as a staging problem.  Our own errors are decisions already
    made.  A TLS certificate that does not verify will not verify on the
    next attempt either, even though requests reports it as a connection
    error.
    """
    if isinstance(exc, errors.GlanceDownloadError):
        return False
    if not isinstance(exc, _TRANSIENT_EXCEPTIONS) and not (
            # keystoneauth1 reports a body cut short (requests'
            # ChunkedEncodingError) as an "unknown" error wrapping it.
            isinstance(exc, ks_exceptions.UnknownConnectionError)
            and isinstance(exc.original, _TRANSIENT_EXCEPTIONS)):
        return False
    return not any(isinstance(cause, ssl.SSLCertVerificationError)
                   for cause in _causes(exc))


class RetryPolicy:
    """How many attempts a request gets and how long to wait between them.

    The wait doubles from ``delay`` after each failed attempt, up to
    ``max_delay``, so a remote that is briefly down is not hammered and one
    that stays down is given up on within a predictable time.
    """

    def __init__(self, max_attempts, delay, max_delay, sleep=None):
        if max_attempts < 1:
            raise ValueError('max_attempts must be at least 1')
        if delay < 0 or max_delay < 0:
            raise ValueError('delays cannot be negative')
        self.max_attempts = max_attempts
        self.delay = delay
        self.max_delay = max_delay
        self._sleep = sleep

    @classmethod
    def from_conf(cls, conf, sleep=None):
        """The policy of the ``[glance_download]`` options (registered)."""
        group = conf[options.GROUP]
        return cls(group.max_attempts, group.retry_delay,
                   group.retry_max_delay, sleep=sleep)

    def allows_another(self, attempts_made):
        """True if another attempt may follow ``attempts_made`` attempts."""
        return attempts_made < self.max_attempts

    def delay_for(self, failures, retry_after=None):
        """Seconds to wait after ``failures`` failed attempts in a row.

        A Retry-After hint (seconds or the raw header) lengthens the wait
        but never beyond ``max_delay``: the remote must not be able to park
        an import for hours.  It never shortens it, which keeps the backoff
        meaningful against a remote that keeps answering "Retry-After: 0".
        """
        exponent = min(max(failures, 1) - 1, 64)
        seconds = min(self.max_delay, self.delay * 2 ** exponent)
        hint = parse_retry_after(retry_after)
        if hint is not None:
            seconds = max(seconds, min(hint, self.max_delay))
        return seconds

    def wait(self, failures, retry_after=None):
        """Sleep before the next attempt; return the seconds slept."""
        return self.sleep(self.delay_for(failures, retry_after))

    def sleep(self, seconds, interrupt=None):
        """Sleep a delay already computed by :meth:`delay_for`.

        Setting the ``interrupt`` event ends the wait early, so a stopped
        download does not sit out its backoff.  A ``sleep`` given to the
        constructor (a test's) is called instead.
        """
        if seconds > 0:
            if self._sleep is not None:
                self._sleep(seconds)
            elif interrupt is not None:
                interrupt.wait(seconds)
            else:
                time.sleep(seconds)
        return seconds


class Transient(Exception):
    """A failed attempt that another attempt may get past.

    ``what`` says what failed, for the log; ``give_up(attempts)`` is the
    error raised once the policy allows no other attempt.  ``progressed``
    means the attempt moved forward, which starts the backoff again.
    """

    def __init__(self, reason, what, give_up, retry_after=None,
                 progressed=False):
        super().__init__(reason)
        self.reason = reason
        self.what = what
        self.give_up = give_up
        self.retry_after = retry_after
        self.progressed = progressed


def run(policy, attempt, made=0, interrupt=None):
    """Call ``attempt(number)`` until it returns or the policy gives up.

    The one retry loop of the image record and of the data: ``attempt``
    raises Transient for a failure worth another attempt, which is logged
    and waited out; anything else ends the loop.  ``made`` counts the
    attempts already spent on the same work (a segment resumed by another
    stream), and ``interrupt`` ends a wait early.
    """
    failures = 0
    number = made
    while True:
        number += 1
        try:
            return attempt(number)
        except Transient as failed:
            failures = 1 if failed.progressed else failures + 1
            if not policy.allows_another(number):
                raise failed.give_up(number) from failed.__cause__
            delay = policy.delay_for(failures, failed.retry_after)
            LOG.warning('%s (attempt %d of %d: %s); trying again in %.1f s',
                        failed.what, number, policy.max_attempts,
                        failed.reason, delay)
            policy.sleep(delay, interrupt=interrupt)
