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

"""Failures whose message is written for the person who asked for the import.

Every message says what went wrong and, where there is one, what to do about
it.  None may contain a token: messages end up in task records and logs.
"""


def afterword(tail=''):
    """The end of the message of an import that failed and left nothing.

    A failed import reverts: the target image is queued again and nothing
    of the copy is kept, so it can be retried; ``tail`` says when a retry
    can work, as in ``' once the source serves the image data'``.
    """
    return f'Nothing was activated; the import can be retried{tail}.'


class GlanceDownloadError(Exception):
    """The import cannot go on; ``str(exc)`` is the message for the user."""


class InvalidRequest(GlanceDownloadError):
    """The request names a region, interface or image that is unusable."""


class EndpointRefused(GlanceDownloadError):
    """The remote URL does not pass the operator's import filtering."""


class RemoteImageError(GlanceDownloadError):
    """The source image cannot be read or is not in a state to be copied.

    ``status`` is the remote's HTTP status when an answer said so: a 403 or
    404 for the data may mean the source changed, which its record tells.
    """

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class SourceChanged(RemoteImageError):
    """The source was deactivated or deleted after the import started."""


class TransferError(GlanceDownloadError):
    """The data could not be transferred within the configured attempts."""


class MetadataRefused(GlanceDownloadError):
    """This Glance refused the metadata copied onto the target image."""


class VerificationError(GlanceDownloadError):
    """The bytes received differ from what the source image declares."""


class Aborted(GlanceDownloadError):
    """The import was stopped from outside: task ended or image deleted."""
