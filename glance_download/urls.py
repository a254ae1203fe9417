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

"""Where a URL really leads, decided the way the HTTP library sends it.

Parsers disagree on odd URLs: ``http://a:1\\@b:2/`` is host ``b`` to
``urllib.parse`` (and so to Glance's import filtering) but host ``a`` to
urllib3, which makes the connection.  Every decision here (the origin a
token may go to, the address import filtering checks) is therefore made on
the URL as requests prepares it for sending, and only once urllib3 and
``urllib.parse`` read the same scheme, host and port in it.  Text that
needs a charitable reading (backslashes, spaces, control characters,
user:password@, percent-encoded host names) is refused outright rather than
interpreted.
"""

import dataclasses
import ipaddress
import re
import urllib.parse

import requests
import urllib3.exceptions
import urllib3.util

DEFAULT_PORTS = {'http': 80, 'https': 443}

_CONTROL = re.compile(r'[\x00-\x20\x7f-\x9f\s]')
_SCHEME_AUTHORITY = re.compile(r'^([A-Za-z][A-Za-z0-9+.-]*:)?//([^/?#]*)')
# What C's inet_aton reads as an IPv4 address: 1 to 4 parts, decimal,
# octal or hexadecimal (127.1, 0x7f000001, 2130706433...).
_NUMERIC_PART = re.compile(r'^(0x[0-9a-f]*|[0-9]+)$')
# scheme:// then anything up to an "@" without crossing a blank: what may
# be a user name and password, in any text.  Generous on purpose: masking
# a path that holds an "@" costs little, showing a password costs a lot.
_USERINFO_IN_TEXT = re.compile(r'([A-Za-z][A-Za-z0-9+.-]*://)[^\s@]*@')


class UnsafeURL(ValueError):
    """A URL we will not send anything to; ``str()`` says why."""


@dataclasses.dataclass(frozen=True)
class Target:
    """A URL as it will be sent, and the origin it connects to."""

    url: str
    scheme: str
    host: str
    port: int

    @property
    def origin(self):
        """(scheme, host, port): what a token is allowed to go to."""
        return self.scheme, self.host, self.port

    @property
    def origin_text(self):
        """scheme://host:port, for messages: never any userinfo or path."""
        scheme, host, port = self.origin
        return f'{scheme}://{host}:{port}'

    @property
    def filtering_url(self):
        """The origin as a URL every parser reads alike, for filtering."""
        return self.origin_text + '/'


def mask_userinfo(text):
    """``text`` with every ``scheme://user:password@`` shown as ``***@``."""
    if not isinstance(text, str):
        return text
    return _USERINFO_IN_TEXT.sub(r'\1***@', text)


def shown(url):
    """``url`` fit for a message: no userinfo, control characters escaped."""
    text = mask_userinfo(url if isinstance(url, str) else repr(url))
    return _CONTROL.sub(
        lambda match: match.group() if match.group() == ' '
        else match.group().encode('unicode_escape').decode('ascii'), text)


def unsafe_reason(url):
    """Why the text of ``url`` is refused before any parsing, or None."""
    if not isinstance(url, str) or not url:
        return 'it is not a URL'
    if '\\' in url:
        return 'it contains a backslash'
    if _CONTROL.search(url):
        return 'it contains whitespace or control characters'
    match = _SCHEME_AUTHORITY.match(url)
    authority = match.group(2) if match else ''
    if '@' in authority:
        return 'it contains a user name or password (user:password@)'
    if '%' in authority:
        return 'its host is percent-encoded'
    return _port_problem(authority)


def _port_problem(authority):
    host_port = authority.rsplit('@', 1)[-1]
    if host_port.startswith('['):
        closing = host_port.find(']')
        rest = host_port[closing + 1:] if closing >= 0 else ''
        port = rest[1:] if rest.startswith(':') else None
    else:
        port = host_port.split(':', 1)[1] if ':' in host_port else None
    if port is None or port == '':
        return None
    if not port.isdigit() or not 0 < int(port) < 65536:
        return 'its port is not a number from 1 to 65535'
    return None


def _odd_number(host):
    """Whether ``host`` is an IPv4 address in a form other than a.b.c.d."""
    parts = host.split('.')
    if len(parts) > 4 or not all(_NUMERIC_PART.match(p) for p in parts):
        return False
    try:
        return str(ipaddress.IPv4Address(host)) != host
    except ValueError:
        return True


def _prepared(url):
    request = requests.PreparedRequest()
    request.prepare_url(url, None)
    return request.url


def target(url):
    """The :class:`Target` of ``url``, or :class:`UnsafeURL` saying why.

    ``url`` must be absolute, http or https, and read the same by urllib3
    and ``urllib.parse`` once prepared; preparing it again must not change
    it, so that what was checked is what requests sends.
    """
    reason = unsafe_reason(url)
    if reason:
        raise UnsafeURL(reason)
    try:
        sent = _prepared(url)
        if _prepared(sent) != sent:
            raise UnsafeURL('it changes each time it is prepared for sending')
        parsed = urllib3.util.parse_url(sent)
        split = urllib.parse.urlsplit(sent)
        split_port = split.port
    except (requests.RequestException, urllib3.exceptions.HTTPError,
            ValueError) as exc:
        raise UnsafeURL('it is not a valid URL '
                        f'({_invalid_detail(exc)})') from None
    scheme = (parsed.scheme or '').lower()
    if scheme not in DEFAULT_PORTS:
        raise UnsafeURL('its scheme is not http or https')
    host = (parsed.host or '').lower()
    if not host:
        raise UnsafeURL('it has no host')
    if _odd_number(host):
        raise UnsafeURL('its host is an IPv4 address not written a.b.c.d')
    if parsed.auth is not None or split.username is not None:
        raise UnsafeURL(
            'it contains a user name or password (user:password@)')
    port = parsed.port or DEFAULT_PORTS[scheme]
    split_host = (split.hostname or '').lower()
    if host.startswith('['):
        split_host = f'[{split_host}]'
    if (split.scheme.lower(), split_host,
            split_port or DEFAULT_PORTS[scheme]) != (scheme, host, port):
        raise UnsafeURL('URL parsers disagree on its host or port')
    return Target(url=sent, scheme=scheme, host=host, port=port)


def _invalid_detail(exc):
    """What was wrong, without echoing the URL (it may hold secrets)."""
    return type(exc).__name__


def join(base, location):
    """The :class:`Target` a redirect's ``Location`` leads to from base."""
    reason = unsafe_reason(location)
    if reason:
        raise UnsafeURL(reason)
    return target(urllib.parse.urljoin(base, location))
