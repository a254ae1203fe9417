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

"""The source image record, read from the remote's answer as it was sent.

A record is small, and a remote Glance is not trusted to keep it so: the
body is never decompressed, never read past ``max_record_size``, not
read for longer than the read timeout, and must be a JSON object.
"""

import json
import time

from glance_download import errors

# The record is read as sent: a compressed answer could expand without
# bound, so none is asked for and none is accepted.
HEADERS = {'Accept': 'application/json', 'Accept-Encoding': 'identity'}
PIECE = 64 * 1024


def read(response, image_id, region, cap, allowed):
    """The record ``response`` (HTTP 200) holds, as a dict.

    ``cap`` is the most bytes it may have, ``allowed`` the seconds its
    reading may take (the read timeout).
    """
    return _parse(_body(response, region, cap, allowed), image_id, region)


def _too_large(region, cap):
    return errors.RemoteImageError(
        f'The Glance in region {region} answered an image record larger '
        f'than {cap} bytes ([glance_download] max_record_size); it was not '
        'read. Check that the catalog endpoint is a Glance, or ask your '
        'cloud operator to raise the limit.')


def _body(response, region, cap, allowed):
    """The body, as sent: never decompressed, never past the cap."""
    encoding = response.headers.get('Content-Encoding', '')
    if encoding.strip().lower() not in ('', 'identity'):
        raise errors.RemoteImageError(
            f'The Glance in region {region} answered a compressed image '
            'record although asked for an uncompressed one; it was not '
            'read. Check that the catalog endpoint is a Glance.')
    length = response.headers.get('Content-Length', '').strip()
    if length.isdigit() and int(length) > cap:
        raise _too_large(region, cap)
    # A record is small: a remote that trickles it, each byte within
    # the read timeout, is stopped once the read timeout is spent.
    deadline = time.monotonic() + allowed
    # read1 returns what one receive gave; read would wait for a
    # whole piece, however slowly it comes.
    read_piece = getattr(response.raw, 'read1', response.raw.read)
    body = bytearray()
    while True:
        piece = read_piece(min(PIECE, cap + 1 - len(body)),
                           decode_content=False)
        if not piece:
            return bytes(body)
        body += piece
        if len(body) > cap:
            raise _too_large(region, cap)
        if time.monotonic() > deadline:
            raise errors.TransferError(
                f'The Glance in region {region} sent the image record too '
                f'slowly: {len(body)} bytes in {allowed} seconds '
                '([glance_download] read_timeout). Retry later.')


def _parse(body, image_id, region):
    try:
        record = json.loads(body)
    except (ValueError, RecursionError):
        record = None
    if not isinstance(record, dict):
        raise errors.RemoteImageError(
            f'The Glance in region {region} did not answer with an image '
            f'record for {image_id}. Check that the catalog endpoint is a '
            'Glance.')
    return record
