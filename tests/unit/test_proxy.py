# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""The fault-injecting proxy of the end-to-end tests, in front of FakeGlance.

The end-to-end tests conclude from what the proxy did; these check that it
does what it says: relays faithfully, and breaks exactly what it is told.
The link it emulates for tools/bench is measured here against FakeGlance,
with bounds loose enough for a busy machine: a cap may be undershot, never
overshot by more than its burst.
"""

import concurrent.futures
import json
import random
import socket
import time
import unittest

import requests

from tests import fake_glance
from tests.functional import proxy

DATA = random.Random(20261124).randbytes(700_001)
MIB = 1024 * 1024
BIG = random.Random(20261201).randbytes(4 * MIB)
TOKEN = {'X-Auth-Token': fake_glance.DEFAULT_TOKEN}


def raw_get(port, path, headers=None, timeout=5):
    """GET over a plain socket.

    Returns the status, the headers, the body received, and whether the
    connection ended (False: it went silent for ``timeout``).
    """
    lines = [f'GET {path} HTTP/1.1', f'Host: 127.0.0.1:{int(port)}']
    sent = dict(TOKEN, **(headers or {}))
    lines += [f'{name}: {value}' for name, value in sent.items()]
    with socket.create_connection(('127.0.0.1', port), timeout=timeout) as s:
        s.sendall(('\r\n'.join(lines) + '\r\n\r\n').encode())
        data = b''
        ended = True
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                piece = s.recv(65536)
            except TimeoutError:
                ended = False
                break
            if not piece:
                break
            data += piece
    head, _, body = data.partition(b'\r\n\r\n')
    lines = head.decode('latin-1').split('\r\n')
    headers = dict(line.split(': ', 1) for line in lines[1:])
    return int(lines[0].split(' ')[1]), headers, body, ended


def recorded(relay, suffix=None):
    """The proxy's requests once it has finished with each of them."""
    assert relay.wait_idle(), 'the proxy still serves after 30 s'
    return relay.requests if suffix is None else relay.requests_to(suffix)


class ProxyTest(unittest.TestCase):

    def setUp(self):
        self.glance = fake_glance.FakeGlance().start()
        self.addCleanup(self.glance.stop)
        self.image = self.glance.add_image(DATA)
        self.proxy = proxy.FaultProxy(0, ('127.0.0.1',
                                          int(self.glance.url.split(':')[2])))
        self.proxy.start()
        self.addCleanup(self.proxy.stop)
        self.file = f"/v2/images/{self.image['id']}/file"

    def get(self, path=None, **headers):
        return requests.get(self.proxy.url + (path or self.file),
                            headers=dict(TOKEN, **headers), timeout=10)

    def test_relays_and_records(self):
        response = self.get()
        self.assertEqual(200, response.status_code)
        self.assertEqual(DATA, response.content)
        self.assertEqual(str(len(DATA)), response.headers['Content-Length'])
        self.assertEqual('close', response.headers['Connection'])
        record, = recorded(self.proxy)
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
        self.assertFalse(recorded(self.proxy)[0].token)

    def test_range_is_forwarded(self):
        response = self.get(Range='bytes=1000-')
        self.assertEqual(206, response.status_code)
        self.assertEqual(DATA[1000:], response.content)
        record, = recorded(self.proxy)
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
        self.assertEqual(300_007, recorded(self.proxy)[0].body_bytes)
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
                         [r.status for r in recorded(self.proxy)])
        self.assertEqual([0, 0, len(DATA)],
                         [r.body_bytes for r in recorded(self.proxy)])

    def test_ignore_range(self):
        self.proxy.add(proxy.IgnoreRange())
        response = self.get(Range='bytes=1000-')
        self.assertEqual(200, response.status_code)
        self.assertEqual(DATA, response.content)
        self.assertNotIn('Range', self.glance.requests[0].headers)
        self.assertEqual(1000, recorded(self.proxy)[0].range_start)

    def test_faults_apply_to_matching_paths_in_order(self):
        self.proxy.add(proxy.Cut(after=10), proxy.IgnoreRange())
        metadata = self.get(f"/v2/images/{self.image['id']}")
        self.assertEqual(self.image['id'], json.loads(metadata.text)['id'])
        status, _, body, _ = raw_get(self.proxy.port, self.file)
        self.assertEqual(DATA[:10], body)
        self.assertEqual(DATA, self.get(Range='bytes=10-').content)
        self.assertEqual(DATA[10:], self.get(Range='bytes=10-').content)
        self.assertEqual([None, 'Cut', 'IgnoreRange', None],
                         [type(r.fault).__name__ if r.fault else None
                          for r in recorded(self.proxy)])
        self.assertEqual(3, len(recorded(self.proxy, '/file')))

    def test_fault_for_the_range_starting_at_a_byte(self):
        self.proxy.add(proxy.Status(code=503, at=2000))
        self.assertEqual(DATA[:2000],
                         self.get(Range='bytes=0-1999').content)
        self.assertEqual(503, self.get(Range='bytes=2000-3999').status_code)
        self.assertEqual(DATA[2000:4000],
                         self.get(Range='bytes=2000-3999').content)
        self.assertEqual([None, 'Status', None],
                         [type(r.fault).__name__ if r.fault else None
                          for r in recorded(self.proxy)])

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
        response = self.get(f"/v2/images/{self.image['id']}")
        self.assertEqual(12345, response.json()['size'])
        self.assertEqual(self.image['id'], response.json()['id'])
        self.assertEqual(len(DATA),
                         self.get(f"/v2/images/{self.image['id']}")
                         .json()['size'])

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


class FakeClock:

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class TokenBucketTest(unittest.TestCase):

    def test_reservations_queue_at_the_rate(self):
        clock = FakeClock()
        bucket = proxy.TokenBucket(1000, burst=100, clock=clock)
        self.assertEqual(0, bucket.reserve(100))
        self.assertAlmostEqual(0.1, bucket.reserve(100))
        # Another taker queues behind both.
        self.assertAlmostEqual(0.3, bucket.reserve(200))
        clock.now += 0.3
        self.assertAlmostEqual(0.05, bucket.reserve(50))

    def test_a_pause_allows_one_burst_only(self):
        clock = FakeClock()
        bucket = proxy.TokenBucket(1000, burst=100, clock=clock)
        bucket.reserve(100)
        clock.now += 60
        self.assertEqual(0, bucket.reserve(100))
        self.assertAlmostEqual(0.2, bucket.reserve(200))

    def test_takers_in_turn_share_alike(self):
        clock = FakeClock()
        bucket = proxy.TokenBucket(1000, burst=0, clock=clock)
        ends = {'a': 0.0, 'b': 0.0}
        for _ in range(10):
            for taker in ends:
                ends[taker] = clock.now + bucket.reserve(50)
        self.assertAlmostEqual(0.95, ends['a'] - 100)
        self.assertAlmostEqual(1.0, ends['b'] - 100)

    def test_default_burst_is_at_least_one_piece(self):
        self.assertEqual(64 * 1024, proxy.TokenBucket(1000).burst)
        self.assertEqual(0.02 * 100 * MIB,
                         proxy.TokenBucket(100 * MIB).burst)


class LinkTest(unittest.TestCase):

    def setUp(self):
        self.glance = fake_glance.FakeGlance().start()
        self.addCleanup(self.glance.stop)
        self.small = self.glance.add_image(DATA)
        self.big = self.glance.add_image(BIG)
        self.upstream = ('127.0.0.1', int(self.glance.url.split(':')[2]))

    def start(self, **link):
        self.proxy = proxy.FaultProxy(0, self.upstream,
                                      link=proxy.Link(**link))
        self.proxy.start()
        self.addCleanup(self.proxy.stop)
        return self.proxy

    def file(self, image):
        return f"/v2/images/{image['id']}/file"

    def timed_get(self, path, **headers):
        started = time.monotonic()
        response = requests.get(self.proxy.url + path,
                                headers=dict(TOKEN, **headers), timeout=30)
        return response, time.monotonic() - started

    def wait_closed(self):
        """The proxy's count of open connections once they all ended."""
        self.proxy.wait_idle()
        return self.proxy.wire.connections.open

    def test_round_trip_to_connect_and_to_each_answer(self):
        self.start(rtt=0.25)
        started = time.monotonic()
        with socket.create_connection(('127.0.0.1', self.proxy.port),
                                      timeout=10) as s:
            s.sendall((f'GET {self.file(self.small)} HTTP/1.1\r\n'
                       f'X-Auth-Token: {fake_glance.DEFAULT_TOKEN}\r\n\r\n'
                       ).encode())
            head = s.recv(12)
        first_byte = time.monotonic() - started
        self.assertEqual(b'HTTP/1.1 200', head)
        self.assertGreaterEqual(first_byte, 0.5)
        self.assertLess(first_byte, 0.5 + 2)
        # An injected answer takes its round trips too.
        self.proxy.add(proxy.Status(code=503))
        response, seconds = self.timed_get(self.file(self.small))
        self.assertEqual(503, response.status_code)
        self.assertGreaterEqual(seconds, 0.5)
        response, seconds = self.timed_get(f"/v2/images/{self.small['id']}")
        self.assertEqual(200, response.status_code)
        self.assertGreaterEqual(seconds, 0.5)

    def test_no_link_no_delay(self):
        self.start()
        response, seconds = self.timed_get(self.file(self.small))
        self.assertEqual(DATA, response.content)
        self.assertLess(seconds, 0.5)

    def test_per_stream_cap(self):
        cap = 2 * MIB
        self.start(per_stream=cap)
        response, seconds = self.timed_get(self.file(self.big))
        self.assertEqual(BIG, response.content)
        burst = self.proxy.wire.stream_bucket().burst
        # Never faster than the cap, allowing one burst; not much slower.
        self.assertGreaterEqual(seconds, (len(BIG) - burst) / cap)
        self.assertLess(seconds, 3 * len(BIG) / cap)

    def test_aggregate_cap_shared_fairly(self):
        cap = 8 * MIB
        streams = 4
        self.start(aggregate=cap)
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(streams) as pool:
            futures = [pool.submit(self.timed_get, self.file(self.big))
                       for _ in range(streams)]
            results = [future.result() for future in futures]
        elapsed = time.monotonic() - started
        for response, _ in results:
            self.assertEqual(BIG, response.content)
        total = streams * len(BIG)
        burst = self.proxy.wire.aggregate.burst
        self.assertGreaterEqual(elapsed, (total - burst) / cap)
        self.assertLess(elapsed, 3 * total / cap)
        # Fair: each stream got about cap / streams, so none ended early.
        for _, seconds in results:
            self.assertGreater(seconds, 0.75 * elapsed)
        wire = self.proxy.wire
        self.assertEqual(0, self.wait_closed())
        self.assertEqual((streams, streams, 0, streams),
                         (wire.connections.peak, wire.streams.peak,
                          wire.streams.open, wire.streams.total))
        self.assertEqual(total, wire.carried)

    def test_both_caps(self):
        self.start(per_stream=1 * MIB, aggregate=4 * MIB)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            results = list(pool.map(self.timed_get, [self.file(self.big)] * 2))
        for response, seconds in results:
            self.assertEqual(BIG, response.content)
            # Two streams fit in the aggregate: each at its own cap.
            self.assertGreaterEqual(seconds, (len(BIG) - 64 * 1024) / MIB)

    def test_counts_connections_of_each_kind(self):
        self.start()
        self.timed_get(f"/v2/images/{self.small['id']}")
        self.timed_get(self.file(self.small))
        self.assertEqual(0, self.wait_closed())
        wire = self.proxy.wire
        self.assertEqual((2, 1), (wire.connections.total,
                                  wire.streams.total))
        wire.reset_counts()
        self.assertEqual((0, 0, 0, 0),
                         (wire.connections.total, wire.connections.peak,
                          wire.streams.total, wire.carried))

    def test_cuts_every_so_many_bytes_of_image_data(self):
        self.start(cut_every=300_000)
        self.assertEqual(200, self.timed_get(
            f"/v2/images/{self.small['id']}")[0].status_code)
        ends = []
        for start in (0, 300_000, 600_000):
            status, _, body, ended = raw_get(
                self.proxy.port, self.file(self.small),
                {'Range': f'bytes={int(start)}-'})
            self.assertTrue(ended)
            self.assertEqual(DATA[start:start + len(body)], body)
            ends.append(recorded(self.proxy)[-1].body_bytes)
            self.assertEqual((206, ends[-1]), (status, len(body)))
        self.assertEqual([300_000, 300_000, 100_001], ends)
        self.assertEqual((1, 2, 700_001),
                         (recorded(self.proxy)[0].status is not None,
                          self.proxy.wire.cuts, self.proxy.wire.carried))

    def test_a_piece_ending_at_the_cut_is_cut(self):
        wire = proxy.Wire(proxy.Link(cut_every=100))
        self.assertEqual((60, False), wire.carry(60))
        self.assertEqual((40, True), wire.carry(40))
        self.assertEqual((10, False), wire.carry(10))

    def test_stop_ends_a_round_trip(self):
        self.start(rtt=60)
        sock = socket.create_connection(('127.0.0.1', self.proxy.port))
        self.addCleanup(sock.close)
        time.sleep(0.1)
        started = time.monotonic()
        self.proxy.stop()
        self.assertLess(time.monotonic() - started, 3)

    def test_link_settings_are_checked(self):
        for settings in ({'rtt': -1}, {'per_stream': 0},
                         {'aggregate': -5}, {'cut_every': 0}):
            with self.assertRaises(ValueError):
                proxy.Link(**settings)


if __name__ == '__main__':
    unittest.main()
