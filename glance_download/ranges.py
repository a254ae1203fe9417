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

"""Byte ranges of the image data: how answers are used, how work is split.

Pure decisions, with no I/O: which range a request asks for, which part
of an answer can be written where and what it means for the segment, and
which segments a download is cut into.
"""

import enum
import http
import re

from glance_download import errors
from glance_download import verify

_CONTENT_RANGE = re.compile(r'bytes\s+(\d+)-(\d+)/(\d+|\*)', re.IGNORECASE)
_UNSATISFIED_RANGE = re.compile(r'bytes\s+\*/(\d+)', re.IGNORECASE)


class Plan(enum.Enum):
    """What to do with a response to a request made at some offset."""

    APPEND = 'append'
    """The body continues the data at the offset asked for."""

    RESTART = 'restart'
    """The body is the whole image: drop what we have, write from byte 0."""

    REFETCH = 'refetch'
    """The body cannot be used: drop what we have and ask from byte 0."""


def request_range(offset, end=None):
    """The ``Range`` header for bytes [offset, end), or from ``offset`` on.

    None for the whole image (offset 0, no end): it is asked for without
    Range, which every source serves.
    """
    if end is not None:
        return f'bytes={offset}-{end - 1}'
    if offset:
        return f'bytes={offset}-'
    return None


def parse_content_range(value):
    """``(first, last, total)`` of a ``bytes a-b/n`` value, total None for *.

    None when the value is missing or malformed.
    """
    match = _CONTENT_RANGE.fullmatch((value or '').strip())
    if not match:
        return None
    first, last = int(match.group(1)), int(match.group(2))
    total = None if match.group(3) == '*' else int(match.group(3))
    if last < first or (total is not None and last >= total):
        return None
    return first, last, total


def describe_status(status):
    """``HTTP 503 Service Unavailable``, or ``HTTP 599`` if unnamed."""
    try:
        return f'HTTP {status} {http.HTTPStatus(status).phrase}'
    except ValueError:
        return f'HTTP {status}'


def plan_resume(status, headers, offset, size):
    """Decide how a non-transient answer to a request at ``offset`` is used.

    ``headers`` is a case-insensitive mapping such as
    ``requests.Response.headers``; ``size`` is the declared image size.

    * 200: the whole image.  From a request at offset 0 it is simply
      appended; at a later offset the server ignored Range, so we restart
      from zero with this very body rather than make another request.
    * 206 starting at ``offset``: resume.  It may end early (the server
      chose a smaller range): the short stream then counts as a break and
      is resumed again.
    * 206 starting elsewhere: the server does not resume correctly; refetch
      from zero, without Range.  At offset 0, where we asked for no range,
      any 206 not starting at 0 is nonsense and fails the transfer.
    * A length (Content-Length of a 200, total of a Content-Range) other
      than ``size``, or 416 when asking past the bytes we have: the source
      data differs from its declared size.  No attempt can fix that.
    * Any other status, a malformed 206 or an encoded body fails the
      transfer without retry.  Transient statuses are the caller's to
      retry before asking here.
    """
    encoding = (headers.get('Content-Encoding') or 'identity').strip().lower()
    if encoding != 'identity':
        raise errors.TransferError(
            f'The source sent the image data with Content-Encoding '
            f'{encoding!r}; it must be sent unencoded to be verified. '
            f'Nothing was activated.')
    if status == 200:
        length = headers.get('Content-Length')
        if length is not None and length.strip().isdigit() and (
                int(length) != size):
            raise verify.mismatch_error('size', f'{size} bytes',
                                        f'{int(length)} bytes announced')
        return Plan.APPEND if offset == 0 else Plan.RESTART
    if status == 206:
        content_range = parse_content_range(headers.get('Content-Range'))
        if content_range is None:
            raise errors.TransferError(
                'The source answered a partial content (HTTP 206) without '
                'a valid Content-Range, so the data cannot be placed. '
                + errors.afterword())
        first, last, total = content_range
        if total is not None and total != size:
            raise verify.mismatch_error('size', f'{size} bytes',
                                        f'{total} bytes announced')
        if last >= size:
            raise verify.oversize_error(size, last + 1)
        if first == offset:
            return Plan.APPEND
        if offset == 0:
            raise errors.TransferError(
                f'The source answered bytes {first}-{last} to a request '
                f'for the whole image. {errors.afterword()}')
        return Plan.REFETCH
    if status == 416 and offset > 0:
        match = _UNSATISFIED_RANGE.fullmatch(
            (headers.get('Content-Range') or '').strip())
        held = f'{match.group(1)} bytes' if match else f'{offset} bytes'
        raise verify.mismatch_error('size', f'{size} bytes',
                                    f'{held}, the source has no more')
    raise errors.TransferError(
        f'The source answered {describe_status(status)} to the image data '
        f'request, which is not retried. '
        + errors.afterword(' once the source serves the image data'))


class Use(enum.Enum):
    """What a stream does with an answer it may use, for its segment."""

    CONTINUE = 'continue'
    """The body continues the segment from the byte asked for."""

    RANGES = 'ranges'
    """As CONTINUE, and the source is now known to serve ranges."""

    TAKE_OVER = 'take over'
    """The whole image to a ranged request: one stream takes it all."""

    RESTART = 'restart'
    """The whole image again: it is compared with what is written."""

    REFETCH = 'refetch'
    """Another range than asked: the segment is dropped, asked again."""

    ELSEWHERE = 'elsewhere'
    """Another range than asked, while several streams share the image:
    the segment is asked again from the byte reached."""


def use_answer(status, plan, multi, alone, mine):
    """Decide what an answer means for the segment it was asked for.

    ``plan`` is :func:`plan_resume`'s for the answer; ``multi`` is true
    while the image may be fetched over several streams; ``alone`` once
    one stream takes the whole image, ``mine`` when it is this one.  With
    several streams, an answer that does not continue the segment cannot
    be placed, except a whole image, which a stream then takes over.
    """
    if status == 200 and (multi or alone) and not mine:
        return Use.TAKE_OVER
    if multi and plan is not Plan.APPEND:
        return Use.ELSEWHERE
    if plan is Plan.REFETCH:
        return Use.REFETCH
    if plan is Plan.RESTART:
        return Use.RESTART
    if status == 206 and multi:
        return Use.RANGES
    return Use.CONTINUE


def segments(size, segment_size, streams):
    """``[(start, end), ...]`` covering [0, size) for ``streams`` streams.

    One segment, the whole image, when a single stream is asked for or the
    image is smaller than two segments: extra streams would then cost
    requests and gain nothing.
    """
    if streams < 2 or segment_size < 1 or size < 2 * segment_size:
        return [(0, size)]
    return [(start, min(size, start + segment_size))
            for start in range(0, size, segment_size)]
