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

"""Where a URL leads, over a table of the URLs an attacker would send."""

import unittest
import urllib.parse

import requests
import urllib3.util

from glance_download import urls

# (URL, the reason it is refused, in part)
REFUSED = [
    # Backslashes: urllib3 ends the authority at one, urllib.parse does not.
    ('http://127.0.0.2:1234\\@127.0.0.1:9292/v2/images/x', 'backslash'),
    ('http://127.0.0.1:9292\\/v2/images/x', 'backslash'),
    ('http:\\\\127.0.0.2/v2', 'backslash'),
    ('http://127.0.0.1/v2\\..\\x', 'backslash'),
    # @ tricks: userinfo, in every spelling.
    ('http://user:secret@127.0.0.1:9292/v2', 'user name or password'),
    ('http://127.0.0.1:9292@127.0.0.2/v2', 'user name or password'),
    ('http://@127.0.0.2/v2', 'user name or password'),
    ('http://a@b@127.0.0.2/', 'user name or password'),
    ('HTTP://USER@127.0.0.1/', 'user name or password'),
    # Percent-encoded authority: urllib3 decodes what urllib.parse keeps.
    ('http://%31%32%37.0.0.2/v2', 'percent-encoded'),
    ('http://127.0.0.1%40127.0.0.2/', 'percent-encoded'),
    ('http://127.0.0.1%2F@127.0.0.2/', 'user name or password'),
    ('http://[fe80::1%25eth0]:9292/', 'percent-encoded'),
    # Whitespace and control characters, anywhere.
    ('http://127.0.0.1 /v2', 'whitespace or control'),
    (' http://127.0.0.1/v2', 'whitespace or control'),
    ('http://127.0.0.1/v2\r\nX-Injected: 1', 'whitespace or control'),
    ('http://127.0.0.1\t.example/', 'whitespace or control'),
    ('http://127.0.0.1/\x00', 'whitespace or control'),
    ('http://127.0.0.1/\x7f', 'whitespace or control'),
    ('http://127.0.0.1/\u00a0', 'whitespace or control'),
    # Ports that are no port.
    ('http://127.0.0.1:99999/v2', 'port is not a number from 1 to 65535'),
    ('http://127.0.0.1:0/v2', 'port is not a number from 1 to 65535'),
    ('http://127.0.0.1:80a/v2', 'port is not a number from 1 to 65535'),
    ('http://127.0.0.1:-1/v2', 'port is not a number from 1 to 65535'),
    ('http://127.0.0.1:80:81/v2', 'port is not a number from 1 to 65535'),
    ('http://[::1]:65536/', 'port is not a number from 1 to 65535'),
    # IPv4 addresses the resolver reads, spelled otherwise.
    ('http://127.1/', 'IPv4 address not written a.b.c.d'),
    ('http://2130706434/', 'IPv4 address not written a.b.c.d'),
    ('http://0x7f.0.0.2/', 'IPv4 address not written a.b.c.d'),
    ('http://0177.0.0.2/', 'IPv4 address not written a.b.c.d'),
    ('http://127.0.0.02/', 'IPv4 address not written a.b.c.d'),
    # Not absolute http(s) URLs.
    ('ftp://127.0.0.1/x', 'scheme is not http or https'),
    ('file:///etc/passwd', 'scheme is not http or https'),
    ('//127.0.0.2/v2', 'not a valid URL'),
    ('http:///v2', 'not a valid URL'),
    ('http//no-scheme', 'not a valid URL'),
    ('', 'not a URL'),
    (None, 'not a URL'),
]

# (URL, origin connected to, URL sent)
ACCEPTED = [
    ('http://127.0.0.1:9292/v2/images/x', ('http', '127.0.0.1', 9292),
     'http://127.0.0.1:9292/v2/images/x'),
    # Default ports: implicit and explicit are the same origin.
    ('http://127.0.0.1/v2', ('http', '127.0.0.1', 80),
     'http://127.0.0.1/v2'),
    ('http://127.0.0.1:80/v2', ('http', '127.0.0.1', 80),
     'http://127.0.0.1:80/v2'),
    ('https://glance.example/image', ('https', 'glance.example', 443),
     'https://glance.example/image'),
    ('https://glance.example:443', ('https', 'glance.example', 443),
     'https://glance.example:443/'),
    ('http://127.0.0.1:/v2', ('http', '127.0.0.1', 80),
     'http://127.0.0.1/v2'),
    # Mixed case: scheme and host fold, the path does not.
    ('HTTPS://Glance.EXAMPLE:8443/V2', ('https', 'glance.example', 8443),
     'https://glance.example:8443/V2'),
    # IPv6 literals, IPv4-mapped ones included.
    ('http://[::1]:9292/v2', ('http', '[::1]', 9292),
     'http://[::1]:9292/v2'),
    ('http://[::FFFF:127.0.0.2]/v2', ('http', '[::ffff:127.0.0.2]', 80),
     'http://[::ffff:127.0.0.2]/v2'),
    # An @ after the authority is path, query or fragment.
    ('http://127.0.0.1/v2/@127.0.0.2/', ('http', '127.0.0.1', 80),
     'http://127.0.0.1/v2/@127.0.0.2/'),
    ('http://127.0.0.1?@127.0.0.2/', ('http', '127.0.0.1', 80),
     'http://127.0.0.1/?@127.0.0.2/'),
    ('http://127.0.0.1#@127.0.0.2/', ('http', '127.0.0.1', 80),
     'http://127.0.0.1/#@127.0.0.2/'),
    # Percent-encoding in the path is kept as it is.
    ('http://127.0.0.1/v2/images/a%2F..%2Fb',
     ('http', '127.0.0.1', 80), 'http://127.0.0.1/v2/images/a%2F..%2Fb'),
]


class TargetTest(unittest.TestCase):

    def test_hostile_urls_are_refused_with_the_reason(self):
        for url, reason in REFUSED:
            with self.subTest(url=url):
                with self.assertRaises(urls.UnsafeURL) as ctx:
                    urls.target(url)
                self.assertIn(reason, str(ctx.exception))
                self.assertNotIn('secret', str(ctx.exception))

    def test_accepted_urls_and_their_origin(self):
        for url, origin, sent in ACCEPTED:
            with self.subTest(url=url):
                found = urls.target(url)
                self.assertEqual(origin, found.origin)
                self.assertEqual(sent, found.url)

    def test_the_decision_is_the_senders_reading(self):
        """What is decided on is what requests sends and urllib3 reads."""
        for url, _origin, _sent in ACCEPTED:
            with self.subTest(url=url):
                found = urls.target(url)
                prepared = requests.Request('GET', found.url).prepare()
                self.assertEqual(found.url, prepared.url)
                parsed = urllib3.util.parse_url(prepared.url)
                self.assertEqual(found.host, parsed.host)
                self.assertEqual(found.port, parsed.port or {
                    'http': 80, 'https': 443}[parsed.scheme])
                # And Glance's filtering, which uses urllib.parse, reads the
                # same host and port in the URL it is given.
                split = urllib.parse.urlsplit(found.filtering_url)
                self.assertEqual(found.port, split.port)
                self.assertEqual(found.host.strip('[]'), split.hostname)

    def test_the_parsers_disagree_on_the_reported_url(self):
        """Why a backslash is refused: each parser reads another host."""
        url = 'http://127.0.0.2:1234\\@127.0.0.1:9292/v2/images/x'
        self.assertEqual('127.0.0.1', urllib.parse.urlsplit(url).hostname)
        self.assertEqual('127.0.0.2', urllib3.util.parse_url(url).host)

    def test_origins_compare_whatever_the_spelling(self):
        self.assertEqual(urls.target('http://127.0.0.1/a').origin,
                         urls.target('HTTP://127.0.0.1:80/b').origin)
        self.assertNotEqual(urls.target('http://127.0.0.1/').origin,
                            urls.target('https://127.0.0.1/').origin)
        self.assertNotEqual(urls.target('http://127.0.0.1:81/').origin,
                            urls.target('http://127.0.0.1/').origin)

    def test_filtering_url_always_names_the_port(self):
        self.assertEqual('https://glance.example:443/',
                         urls.target('https://glance.example/x').filtering_url)
        self.assertEqual('http://[::1]:80/',
                         urls.target('http://[::1]/').filtering_url)


class JoinTest(unittest.TestCase):

    BASE = 'http://127.0.0.1:9292/v2/images/x'

    def test_relative_and_absolute_locations(self):
        self.assertEqual('http://127.0.0.1:9292/v2/images/y',
                         urls.join(self.BASE, '/v2/images/y').url)
        self.assertEqual('http://127.0.0.1:9292/v2/images/y/file',
                         urls.join(self.BASE, 'y/file').url)
        self.assertEqual(('http', '127.0.0.3', 80),
                         urls.join(self.BASE, '//127.0.0.3/v2').origin)
        self.assertEqual(('https', '127.0.0.1', 443),
                         urls.join(self.BASE, 'https://127.0.0.1/').origin)

    def test_hostile_locations_are_refused_before_joining(self):
        for location, reason in [
                ('/\\127.0.0.2/v2', 'backslash'),
                ('\\\\127.0.0.2\\v2', 'backslash'),
                ('//user:secret@127.0.0.1:9292/v2', 'user name or password'),
                ('//127.0.0.1:9292@127.0.0.2/', 'user name or password'),
                ('/v2/images/x y', 'whitespace or control'),
                ('http://127.0.0.1:99999/v2', 'port is not a number'),
                ('//%31%32%37.0.0.2/', 'percent-encoded'),
                ('ftp://127.0.0.1/', 'scheme is not http or https')]:
            with self.subTest(location=location):
                with self.assertRaises(urls.UnsafeURL) as ctx:
                    urls.join(self.BASE, location)
                self.assertIn(reason, str(ctx.exception))


class MaskTest(unittest.TestCase):

    def test_userinfo_is_masked_in_any_text(self):
        for text, expected in [
                ('http://user:secret@h:1/x', 'http://***@h:1/x'),
                ('at https://secret@h/ and HTTP://u:p@[::1]/ too',
                 'at https://***@h/ and HTTP://***@[::1]/ too'),
                ('http://u:se/cret@h/', 'http://***@h/'),
                ('http://h:1/v2 (no userinfo)', 'http://h:1/v2 (no userinfo)'),
                ('', '')]:
            self.assertEqual(expected, urls.mask_userinfo(text))
        self.assertIsNone(urls.mask_userinfo(None))

    def test_shown_urls_hide_userinfo_and_escape_controls(self):
        self.assertEqual('http://***@h/a\\r\\nX: 1 b',
                         urls.shown('http://u:secret@h/a\r\nX: 1 b'))
        self.assertEqual('None', urls.shown(None))
