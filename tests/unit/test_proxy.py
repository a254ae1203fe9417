"""The fault-injecting proxy of the end-to-end tests, in front of FakeGlance.

The end-to-end tests conclude from what the proxy did; these check that it
does what it says: relays faithfully, and breaks exactly what it is told.
"""

import json
import random
import socket
import threading
import time
import unittest

import requests

from tests import fake_glance
from tests.functional import proxy

DATA = random.Random(20261124).randbytes(700_001)
TOKEN = {'X-Auth-Token': fake_glance.DEFAULT_TOKEN}


def raw_get(port, path, headers=None, timeout=5):
    """GET over a plain socket: status, headers, the body received, and
    whether the connection ended (False: it went silent for ``timeout``).
    """
    lines = ['GET %s HTTP/1.1' % path, 'Host: 127.0.0.1:%d' % port]
    lines += ['%s: %s' % item for item in dict(TOKEN, **(headers or {}))
              .items()]
    with socket.create_connection(('127.0.0.1', port), timeout=timeout) as s:
        s.sendall(('\r\n'.join(lines) + '\r\n\r\n').encode())
        data = b''
        ended = True
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                piece = s.recv(65536)
            except socket.timeout:
                ended = False
                break
            if not piece:
                break
            data += piece
    head, _, body = data.partition(b'\r\n\r\n')
    lines = head.decode('latin-1').split('\r\n')
    headers = dict(line.split(': ', 1) for line in lines[1:])
    return int(lines[0].split(' ')[1]), headers, body, ended


class ProxyTest(unittest.TestCase):

    def setUp(self):
        self.glance = fake_glance.FakeGlance().start()
        self.addCleanup(self.glance.stop)
        self.image = self.glance.add_image(DATA)
        self.proxy = proxy.FaultProxy(0, ('127.0.0.1',
                                          int(self.glance.url.split(':')[2])))
        self.proxy.start()
        self.addCleanup(self.proxy.stop)
        self.file = '/v2/images/%s/file' % self.image['id']

    def get(self, path=None, **headers):
        return requests.get(self.proxy.url + (path or self.file),
                            headers=dict(TOKEN, **headers), timeout=10)

    def test_relays_and_records(self):
        response = self.get()
        self.assertEqual(200, response.status_code)
        self.assertEqual(DATA, response.content)
        self.assertEqual(str(len(DATA)), response.headers['Content-Length'])
        self.assertEqual('close', response.headers['Connection'])
        record, = self.proxy.requests
        self.assertEqual(('GET', self.file, None, True, None, 200, len(DATA)),
                         (record.method, record.path, record.range,
                          record.token, record.fault, record.status,
                          record.body_bytes))
        upstream, = self.glance.requests
        self.assertEqual(fake_glance.DEFAULT_TOKEN,
                         upstream.headers['X-Auth-Token'])
        self.assertEqual('close', upstream.headers['Connection'])

    def test_records_a_request_without_token(self):
        response = requests.get(self.proxy.url + self.file, timeout=10)
        self.assertEqual(401, response.status_code)
        self.assertFalse(self.proxy.requests[0].token)

    def test_range_is_forwarded(self):
        response = self.get(Range='bytes=1000-')
        self.assertEqual(206, response.status_code)
        self.assertEqual(DATA[1000:], response.content)
        record, = self.proxy.requests
        self.assertEqual(('bytes=1000-', 1000, len(DATA) - 1000),
                         (record.range, record.range_start,
                          record.body_bytes))

    def test_cut_after_n_bytes(self):
        self.proxy.add(proxy.Cut(after=300_007))
        status, headers, body, ended = raw_get(self.proxy.port, self.file)
        self.assertEqual(200, status)
        self.assertEqual(str(len(DATA)), headers['Content-Length'])
        self.assertEqual(DATA[:300_007], body)
        self.assertTrue(ended)
        self.assertEqual(300_007, self.proxy.requests[0].body_bytes)
        # Used up: the next request is relayed whole.
        self.assertEqual(DATA, self.get().content)

    def test_stall_then_stop_ends_it(self):
        self.proxy.add(proxy.Stall(after=50_000, seconds=60))
        status, _, body, ended = raw_get(self.proxy.port, self.file,
                                         timeout=1)
        self.assertEqual((200, DATA[:50_000], False), (status, body, ended))
        started = time.monotonic()
        self.proxy.stop()
        self.assertLess(time.monotonic() - started, 3)

    def test_stall_then_close(self):
        self.proxy.add(proxy.Stall(after=1000, seconds=0.3))
        started = time.monotonic()
        status, _, body, ended = raw_get(self.proxy.port, self.file)
        self.assertEqual((200, DATA[:1000], True), (status, body, ended))
        self.assertGreaterEqual(time.monotonic() - started, 0.3)

    def test_flip_byte_at_image_offset(self):
        self.proxy.add(proxy.FlipByte(offset=400_000, times=3))
        expected = bytearray(DATA)
        expected[400_000] ^= 0xFF
        self.assertEqual(expected, self.get().content)
        # A resumed answer starts at its Content-Range offset.
        self.assertEqual(expected[300_000:],
                         self.get(Range='bytes=300000-').content)
        # Past the flipped byte, nothing to flip.
        self.assertEqual(DATA[500_000:],
                         self.get(Range='bytes=500000-').content)
        self.assertEqual(DATA, self.get().content)

    def test_status_instead_of_forwarding(self):
        self.proxy.add(proxy.Status(code=503, retry_after='2', times=2))
        for _ in range(2):
            response = self.get()
            self.assertEqual(503, response.status_code)
            self.assertEqual('2', response.headers['Retry-After'])
        self.assertEqual([], self.glance.requests)
        self.assertEqual(DATA, self.get().content)
        self.assertEqual([503, 503, 200],
                         [r.status for r in self.proxy.requests])
        self.assertEqual([0, 0, len(DATA)],
                         [r.body_bytes for r in self.proxy.requests])

    def test_ignore_range(self):
        self.proxy.add(proxy.IgnoreRange())
        response = self.get(Range='bytes=1000-')
        self.assertEqual(200, response.status_code)
        self.assertEqual(DATA, response.content)
        self.assertNotIn('Range', self.glance.requests[0].headers)
        self.assertEqual(1000, self.proxy.requests[0].range_start)

    def test_faults_apply_to_matching_paths_in_order(self):
        self.proxy.add(proxy.Cut(after=10), proxy.IgnoreRange())
        metadata = self.get('/v2/images/%s' % self.image['id'])
        self.assertEqual(self.image['id'], json.loads(metadata.text)['id'])
        status, _, body, _ = raw_get(self.proxy.port, self.file)
        self.assertEqual(DATA[:10], body)
        self.assertEqual(DATA, self.get(Range='bytes=10-').content)
        self.assertEqual(DATA[10:], self.get(Range='bytes=10-').content)
        self.assertEqual([None, 'Cut', 'IgnoreRange', None],
                         [type(r.fault).__name__ if r.fault else None
                          for r in self.proxy.requests])
        self.assertEqual(3, len(self.proxy.requests_to('/file')))

    def test_fault_for_the_range_starting_at_a_byte(self):
        self.proxy.add(proxy.Status(code=503, at=2000))
        self.assertEqual(DATA[:2000],
                         self.get(Range='bytes=0-1999').content)
        self.assertEqual(503, self.get(Range='bytes=2000-3999').status_code)
        self.assertEqual(DATA[2000:4000],
                         self.get(Range='bytes=2000-3999').content)
        self.assertEqual([None, 'Status', None],
                         [type(r.fault).__name__ if r.fault else None
                          for r in self.proxy.requests])

    def test_trickle(self):
        self.proxy.add(proxy.Trickle(after=1000, every=0.2))
        response = requests.get(self.proxy.url + self.file, headers=TOKEN,
                                stream=True, timeout=10)
        with response:
            self.assertEqual(DATA[:1000], response.raw.read(1000))
            started = time.monotonic()
            self.assertEqual(DATA[1000:1003], response.raw.read(3))
            self.assertGreater(time.monotonic() - started, 0.5)

    def test_declare_changes_the_record(self):
        self.proxy.add(proxy.Rewrite(fields={'size': 12345}))
        response = self.get('/v2/images/%s' % self.image['id'])
        self.assertEqual(12345, response.json()['size'])
        self.assertEqual(self.image['id'], response.json()['id'])
        self.assertEqual(len(DATA),
                         self.get('/v2/images/%s' % self.image['id'])
                         .json()['size'])

    def test_counts_data_answers_at_once(self):
        self.proxy.add(proxy.Stall(after=10, seconds=1))
        stalled = threading.Thread(target=raw_get,
                                   args=(self.proxy.port, self.file))
        stalled.start()
        time.sleep(0.3)
        self.assertEqual(DATA, self.get().content)
        stalled.join()
        self.assertEqual((0, 2), (self.proxy.data_streams,
                                  self.proxy.most_data_streams))

    def test_throttle(self):
        self.proxy.rate = 1024 * 1024
        started = time.monotonic()
        self.assertEqual(DATA, self.get().content)
        self.assertGreater(time.monotonic() - started,
                           0.9 * len(DATA) / self.proxy.rate)

    def test_stopped_proxy_frees_its_port(self):
        port = self.proxy.port
        self.proxy.stop()
        self.proxy.stop()
        with proxy.FaultProxy(port, ('127.0.0.1', 1)) as again:
            self.assertEqual(port, again.port)

    def test_relays_to_loopback_only(self):
        with self.assertRaises(ValueError):
            proxy.FaultProxy(0, ('192.0.2.1', 80))

    def test_times_must_be_positive(self):
        with self.assertRaises(ValueError):
            proxy.Cut(after=1, times=0)


if __name__ == '__main__':
    unittest.main()
