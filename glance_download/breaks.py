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

"""How a stream's attempt ends early, and what each ending means.

A break is another attempt, from the byte reached, under the retry
policy; a stream that is stopped, gives its work back or retires just
ends; any other failure ends the download, with the user's message.
"""

import requests

from glance_download import errors
from glance_download import retry


class Broken(Exception):
    """A transfer failure that is not an exception of the transport."""

    def __init__(self, reason, retry_after=None):
        super().__init__(reason)
        self.retry_after = retry_after


class Stopped(Exception):
    """The download is being stopped; the stream just ends."""


class GiveBack(Exception):
    """The stream ends, its work left to the others.

    It was refused (its segment goes back), or another stream took the
    whole image over its segment.
    """


class Retired(GiveBack):
    """More streams run than the limit: this one's segment goes back."""


def describe(exc):
    """Name and text of an exception, without the repetition of wrappers."""
    text = exc.args[0] if exc.args and isinstance(exc.args[0], str) else (
        str(exc))
    return f'{type(exc).__name__}: {text}' if text else type(exc).__name__


def failure(exc, pos, size, dest_path, progressed):
    """What an attempt that failed with ``exc`` at byte ``pos`` raises.

    A :class:`retry.Transient` for a break or a transient error of the
    transport (``progressed``: bytes arrived before it); the user's error
    for any other failure of the request; None when ``exc`` itself ends
    the download.
    """
    if isinstance(exc, Broken) or retry.is_transient_exception(exc):
        return _transient(exc, pos, size, dest_path, progressed)
    if isinstance(exc, requests.RequestException):
        return errors.TransferError(
            f'The image data could not be requested from the source '
            f'({describe(exc)}). Nothing was activated.')
    return None


def _transient(exc, pos, size, dest_path, progressed):
    reason = (str(exc) if isinstance(exc, Broken)
              else describe(exc)).rstrip('.')

    def give_up(attempts):
        return errors.TransferError(
            f'The image data could not be downloaded from the source: '
            f'{attempts} attempt(s) failed, the last one at byte {pos} '
            f'of {size} with {reason}. '
            f'{errors.afterword()}')
    return retry.Transient(
        reason, f'Image data download into {dest_path} broke '
        f'at byte {pos} of {size}', give_up,
        getattr(exc, 'retry_after', None), progressed)
