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

"""Glance's import filtering: which URLs, and which address, are allowed."""

import socket
import urllib.parse

from glance_download.boundary import series


def url_allowed(url):
    """Whether [import_filtering_opts] allows fetching from ``url``."""
    return series.import_filter()(url)


def validated_address(url):
    """The address [import_filtering_opts] allows for ``url``, else None.

    Glance resolves the host once to check where it leads and returns the
    allowed addresses: connecting to the first, rather than to the name,
    means a second resolution cannot lead elsewhere.  On a Glance without
    that function (30 to 32) the name is resolved once here instead.
    """
    validate = series.address_validator()
    if validate is None:
        return _resolved_once(url)
    try:
        found = validate(url)
    except ValueError:
        return None
    if isinstance(found, (list, tuple)):
        return str(found[0]) if found else None
    return str(found) if found else None


def _resolved_once(url):
    """Glance 30 to 32: the filter's verdict, then one resolution of ours.

    These series check the host by name only and give no address back, so
    the name is resolved here, once, and the connection goes to the first
    address found: a later resolution cannot lead elsewhere either.
    """
    if not url_allowed(url):
        return None
    parts = urllib.parse.urlsplit(url)
    port = parts.port or {'http': 80, 'https': 443}.get(parts.scheme)
    try:
        found = socket.getaddrinfo(parts.hostname, port,
                                   type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return None
    return found[0][4][0] if found else None
