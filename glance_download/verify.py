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

"""What the copied bytes must match, and how a mismatch is told to the user.

The source image declares its size and digests; a copy is activated only
when the bytes received match them, so a download corrupted on the way (or
a source that changed) never becomes a usable image.
"""

import hashlib
import logging
import string

from glance_download import errors

LOG = logging.getLogger(__name__)

FALLBACK_ALGORITHM = 'md5'

_AFTERWORD = errors.afterword(
    ', and if it fails the same way again the source image itself is '
    'damaged')


def new_hash(algorithm):
    """A hashlib object for ``algorithm``, usable on FIPS hosts.

    The digest checks integrity against a value the source published; it
    is not a security control, which is what ``usedforsecurity`` asks.
    """
    return hashlib.new(algorithm, usedforsecurity=False)


def _fixed_digest_size(algorithm):
    """Bytes of the algorithm's digest, or None if hashlib cannot do it."""
    try:
        size = new_hash(algorithm).digest_size
    except (ValueError, TypeError):
        return None
    return size or None


def _is_hex(value, digest_size):
    return (len(value) == 2 * digest_size
            and all(c in string.hexdigits for c in value))


def _declared(remote_image, field):
    """A digest field of the record, normalised; '' when not declared."""
    value = remote_image.get(field)
    if value is None:
        return ''
    if not isinstance(value, str):
        raise errors.VerificationError(
            f'The source image declares a {field} that is not a string '
            f'({type(value).__name__}), so the copy could not be verified. '
            f'Nothing was activated.')
    return value.strip().lower()


def expected_digest(remote_image):
    """The ``(algorithm, hexvalue)`` to check the data against, or None.

    ``os_hash_algo``/``os_hash_value`` are preferred (sha512 by default in
    Glance); the legacy md5 ``checksum`` is the fallback for old images or a
    multihash algorithm this host lacks.  None means only the size can be
    checked.  A declared value that is not a digest of its algorithm is
    refused now rather than after the whole transfer.
    """
    algorithm = _declared(remote_image, 'os_hash_algo')
    value = _declared(remote_image, 'os_hash_value')
    checksum = _declared(remote_image, 'checksum')
    if algorithm and value:
        digest_size = _fixed_digest_size(algorithm)
        if digest_size is not None:
            if not _is_hex(value, digest_size):
                raise errors.VerificationError(
                    f'The source image declares an os_hash_value that is '
                    f'not a {algorithm} digest, so the copy could not be '
                    f'verified. Nothing was activated.')
            return algorithm, value
        if not checksum:
            raise errors.VerificationError(
                f'The source image is hashed with {algorithm!r}, which '
                f'this Glance cannot compute, and it has no md5 checksum to '
                f'fall back on, so the copy could not be verified. Nothing '
                f'was activated.')
        LOG.warning('Hash algorithm %r of the source image is not available '
                    'here; verifying the copy with its md5 checksum.',
                    algorithm)
    if checksum:
        if not _is_hex(checksum, _fixed_digest_size(FALLBACK_ALGORITHM)):
            raise errors.VerificationError(
                'The source image declares a checksum that is not an md5 '
                'digest, so the copy could not be verified. Nothing was '
                'activated.')
        return FALLBACK_ALGORITHM, checksum
    return None


def mismatch_error(what, expected, received):
    """The user-facing error for received data that differs from the source."""
    return errors.VerificationError(
        f'The image data received does not match the {what} declared by '
        f'the source image: expected {expected}, received {received}. '
        f'{_AFTERWORD}')


def oversize_error(size, received_at_least):
    """The error for a source that sends more bytes than its declared size."""
    return mismatch_error('size', f'{size} bytes',
                          f'at least {received_at_least} bytes')


def check(size, digest, received_size, received_hexdigest):
    """Raise VerificationError unless the received data matches the source.

    ``digest`` is what :func:`expected_digest` returned; with None only the
    size is compared.
    """
    if received_size != size:
        raise mismatch_error('size', f'{size} bytes', f'{received_size} bytes')
    if digest is None:
        return
    algorithm, expected = digest
    if (received_hexdigest or '').lower() != expected.lower():
        raise mismatch_error(f'{algorithm} digest', expected,
                             received_hexdigest)
