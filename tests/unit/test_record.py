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

"""The source image record: read as sent, bounded, never decompressed.

Against real loopback HTTP servers that answer the record the way a
hostile remote would: too large, without end, or compressed.  Memory is
measured with tracemalloc around the read.
"""

import io
import json
import logging
import socket
import threading
import time
import tracemalloc
import unittest
import zlib

from glance_download import endpoint
from glance_download import errors
from glance_download import remote
from glance_download import retry
from glance_download import sessions
from tests import fake_glance
from tests.unit import boundary_fakes
from tests.unit import helpers

TOKEN = boundary_fakes.TOKEN
MIB = 1024 * 1024
# What one read of a record may cost in memory, at most: the 1 MiB cap,
# a copy, and the libraries' buffers.
MEMORY_BOUND = 8 * MIB
# A server stops sending after this many bytes, whatever happens.
SERVER_LIMIT = 256 * MIB
IMAGE_ID = '3f7cd9a2-2a1b-4f43-9d7e-0d2c4b6a1e11'


class RawServer:
    """A loopback HTTP server whose answer is written by ``respond(send)``.

    ``send(data)`` returns False once the client went away; ``heads``
    holds the request heads received, ``sent`` the bytes sent.
    """

    def __init__(self, respond):
        self.respond = respond
        self.heads = []
        self.sent = 0
        self._sock = socket.create_server(('127.0.0.1', 0))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.url = f'http://127.0.0.1:{self._sock.getsockname()[1]}'

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join(timeout=10)
        self._sock.close()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                self._answer(conn)

    def _answer(self, conn):
        head = b''
        while b'\r\n\r\n' not in head and len(head) < 65536:
            piece = conn.recv(4096)
            if not piece:
                return
            head += piece
        self.heads.append(head.decode('latin-1').lower())

        def send(data):
            if self._stop.is_set() or self.sent >= SERVER_LIMIT:
                return False
            try:
                conn.sendall(data)
            except OSError:
                return False
            self.sent += len(data)
            return True
        self.respond(send)


def head(*headers):
    lines = ['HTTP/1.1 200 OK', 'Content-Type: application/json',
             'Connection: close'] + list(headers)
    return ('\r\n'.join(lines) + '\r\n\r\n').encode()


class RecordTest(unittest.TestCase):

    def client(self, url, conf=None):
        found = endpoint.Endpoint('REGION1', 'public', url)
        settings = (conf or helpers.make_conf())['glance_download']
        return remote.RemoteGlance(
            session=sessions.make_session(conf or helpers.make_conf(),
                                          TOKEN),
            endpoint=found,
            policy=retry.RetryPolicy(1, 0, 0, sleep=lambda s: None),
            timeouts=(2.0, 2.0), max_redirects=0,
            url_allowed=lambda url: True,
            max_record_size=settings.max_record_size)

    def read_measured(self, client, image_id=IMAGE_ID):
        """get_image's outcome, its peak memory and its duration."""
        tracemalloc.start()
        started = time.monotonic()
        try:
            try:
                outcome = client.get_image(image_id)
            except errors.GlanceDownloadError as exc:
                outcome = exc
            return (outcome, tracemalloc.get_traced_memory()[1],
                    time.monotonic() - started)
        finally:
            tracemalloc.stop()

    def assert_refused(self, outcome, text):
        self.assertIsInstance(outcome, errors.RemoteImageError)
        self.assertIn(text, str(outcome))

    def test_record_over_the_cap_is_refused_before_it_is_read(self):
        with fake_glance.FakeGlance(tokens=[TOKEN]) as glance:
            image = glance.add_image(b'abc', junk='j' * (2 * MIB))
            outcome, peak, _ = self.read_measured(self.client(glance.url),
                                                  image['id'])
            self.assert_refused(outcome, 'larger than 1048576 bytes '
                                '([glance_download] max_record_size)')
            self.assertLess(peak, MEMORY_BOUND)
            # The operator can raise the limit.
            conf = helpers.make_conf(max_record_size=4 * MIB)
            record = self.client(glance.url, conf).get_image(image['id'])
            self.assertEqual(image['id'], record['id'])
            (first, _second) = glance.requests_to(image['id'])
            self.assertEqual('identity', first.headers['Accept-Encoding'])

    def test_endless_close_delimited_record_is_cut_at_the_cap(self):
        piece = b'"' + b'x' * (64 * 1024 - 2) + b'"'

        def respond(send):
            if send(head() + b'{"id": ' + piece):
                while send(b', "k": ' + piece):
                    pass

        with RawServer(respond) as server:
            outcome, peak, seconds = self.read_measured(
                self.client(server.url))
        self.assert_refused(outcome, 'max_record_size')
        self.assertLess(peak, MEMORY_BOUND)
        self.assertLess(seconds, 10)
        # The server could send until stopped: it sent about the cap, plus
        # what the sockets' buffers held when the client stopped reading.
        self.assertLess(server.sent, 32 * MIB)

    def test_endless_record_is_bounded_with_debug_logging_too(self):
        """keystoneauth's own response logging reads JSON bodies whole."""
        root = logging.getLogger()
        old_level = root.level
        handler = logging.StreamHandler(io.StringIO())
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        self.addCleanup(root.removeHandler, handler)
        self.addCleanup(root.setLevel, old_level)
        self.test_endless_close_delimited_record_is_cut_at_the_cap()

    def test_compressed_record_is_never_decompressed(self):
        # 300 MiB of JSON-looking zeros in about 300 KiB.
        squeeze = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        parts = [squeeze.compress(b'{"id": "')]
        zeros = b'0' * MIB
        parts += [squeeze.compress(zeros) for _ in range(300)]
        parts.append(squeeze.compress(b'"}') + squeeze.flush())
        bomb = b''.join(parts)
        self.assertLess(len(bomb), MIB)

        def respond(send):
            send(head('Content-Encoding: gzip',
                      f'Content-Length: {len(bomb)}') + bomb)

        with RawServer(respond) as server:
            outcome, peak, _ = self.read_measured(self.client(server.url))
        self.assert_refused(outcome, 'compressed image record')
        self.assertLess(peak, MEMORY_BOUND)
        self.assertIn('accept-encoding: identity', server.heads[0])

    def test_close_delimited_record_under_the_cap_is_read(self):
        record = json.dumps({'id': IMAGE_ID, 'status': 'active'}).encode()

        def respond(send):
            send(head() + record)

        with RawServer(respond) as server:
            found = self.client(server.url).get_image(IMAGE_ID)
        self.assertEqual(IMAGE_ID, found['id'])

    def test_deeply_nested_record_is_not_a_crash(self):
        nested = b'[' * 200000 + b']' * 200000

        def respond(send):
            send(head(f'Content-Length: {len(nested)}') + nested)

        with RawServer(respond) as server:
            outcome, _, _ = self.read_measured(self.client(server.url))
        self.assert_refused(outcome, 'did not answer with an image record')

    def test_trickled_record_is_stopped_after_the_read_timeout(self):
        record = json.dumps({'id': IMAGE_ID, 'pad': 'p' * 1000}).encode()

        def respond(send):
            # Each byte well within the 2 s read timeout, forever.
            if send(head()):
                for byte in record:
                    if not send(bytes([byte])):
                        return
                    time.sleep(0.05)

        with RawServer(respond) as server:
            started = time.monotonic()
            with self.assertRaises(errors.TransferError) as ctx:
                self.client(server.url).get_image(IMAGE_ID)
        self.assertLess(time.monotonic() - started, 5)
        self.assertIn('sent the image record too slowly', str(ctx.exception))
