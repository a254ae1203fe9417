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

"""A loopback HTTP proxy that slows down or breaks what a Glance sends back.

The test cloud lists it as the image endpoint of a region of its own, in
front of another region's Glance, so that a real glance-api downloads
through it.  It slows a transfer down so that its progress can be watched
(``rate``), and injects the faults a long transfer between regions meets:
a connection cut or stalled midway, a corrupted byte, an overloaded server,
a server that ignores Range.  Every request is recorded, so that a test can
check what the downloading Glance asked for and how much data it took.

Its faults are those of tests.fake_glance (Cut, Stall, Trickle, FlipByte,
Status, Redirect, IgnoreRange, Rewrite), applied here to a real Glance's
answers; ``on`` tells image data (``file``) from image records
(``metadata``), and ``at`` targets the data request whose Range starts at
that byte.

It handles one request per connection, which is how the cloud's servers
speak (they answer ``Connection: close``): it reads the request head,
forwards it, possibly altered, and relays the response.  It listens on
127.0.0.1 only, relays to a loopback address only, and stop() ends every
connection, stalled ones included.  tools/demo uses it too.

Given a :class:`Link`, it also stands for a long-distance link between the
regions, for tools/bench: a round trip before each connection is set up
and before each answer, a throughput cap per connection (what one TCP
stream gets through a window over a long round trip), a cap shared by all
the connections of the link, and cuts every so many bytes of image data.
Its :class:`Wire` counts the connections, open, at most at once and in
all, so that a test can check how many streams a download opened.
"""

import dataclasses
import http
import ipaddress
import json
import re
import socket
import struct
import threading
import time

from tests.fake_glance import Cut
from tests.fake_glance import Fault
from tests.fake_glance import FlipByte
from tests.fake_glance import IgnoreRange
from tests.fake_glance import Redirect
from tests.fake_glance import Rewrite
from tests.fake_glance import shut_down
from tests.fake_glance import Stall
from tests.fake_glance import Status
from tests.fake_glance import Trickle
from tests.toolkit import serving

__all__ = ['FaultProxy', 'Link', 'Wire', 'TokenBucket', 'Cut', 'FlipByte',
           'IgnoreRange', 'Redirect', 'Rewrite', 'Stall', 'Status', 'Trickle']

_PIECE = 64 * 1024
# Bounds of one connection: the size of a message head, the silence of a
# peer (the cloud's servers answer in well under a second), and how many
# connections are relayed at once.
_MAX_HEAD = 64 * 1024
_IO_TIMEOUT = 30
_MAX_CONNECTIONS = 64
_STOP_TIMEOUT = 5

# How far ahead of its rate a token bucket lets a sender go after a pause,
# in seconds of that rate (at least one piece).
_BURST = 0.02

_CONTENT_RANGE = re.compile(r'bytes\s+(\d+)-\d+/(?:\d+|\*)', re.IGNORECASE)
_OPEN_RANGE = re.compile(r'bytes=(\d+)-', re.IGNORECASE)


@dataclasses.dataclass
class Request:
    """One request received, and what went back for it."""

    method: str
    path: str
    range: str | None
    """The Range header as the client sent it."""
    token: bool
    """Whether an X-Auth-Token came with it."""
    fault: Fault | None
    at: float
    """time.monotonic() when its head was read."""
    status: int | None = None
    """The status sent back; None when the connection ended before."""
    body_bytes: int = 0
    """Bytes of the upstream's response body sent on to the client."""
    last_send: float | None = None
    """time.monotonic() when the last piece of the body was handed over.

    The client can only ask for more after that piece reached it, so a
    request whose head came later did not overlap this one.
    """

    @property
    def range_start(self):
        """N of a ``Range: bytes=N-`` request, else None."""
        match = _OPEN_RANGE.match((self.range or '').strip())
        return int(match.group(1)) if match else None


@dataclasses.dataclass(frozen=True)
class Link:
    """What a long-distance link does to the connections through it.

    ``rtt`` is the round trip in seconds, paid once to set a connection up
    and once more before each answer's head, as over TCP.  ``per_stream``
    caps each connection's answer, ``aggregate`` all of them together, in
    bytes a second (None: no cap).  ``cut_every``: the link closes the
    connection carrying image data when, counted over all connections,
    another ``cut_every`` bytes of it have crossed (None: never); the
    client gets the bytes that crossed, then the end of the body.
    """

    rtt: float = 0.0
    per_stream: float | None = None
    aggregate: float | None = None
    cut_every: int | None = None

    def __post_init__(self):
        if self.rtt < 0:
            raise ValueError('rtt cannot be negative')
        for name in ('per_stream', 'aggregate', 'cut_every'):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f'{name} must be positive or None')


class TokenBucket:
    """A send rate, shared by the threads that take from it.

    Each taker reserves the time its bytes take at the rate, after every
    reservation made before; the queue is first come, first served, so N
    connections sending all the time each get about rate / N.  After a
    pause, a sender may go ``burst`` bytes ahead.
    """

    def __init__(self, rate, burst=None, clock=time.monotonic):
        self.rate = float(rate)
        self.burst = max(_PIECE, self.rate * _BURST) if burst is None \
            else burst
        self._clock = clock
        self._lock = threading.Lock()
        self._free_at = float('-inf')

    def reserve(self, count):
        """Seconds to wait before sending ``count`` bytes."""
        with self._lock:
            now = self._clock()
            start = max(self._free_at, now - self.burst / self.rate)
            self._free_at = start + count / self.rate
            return max(0.0, self._free_at - now)


@dataclasses.dataclass
class Count:
    """Connections of one kind: open now, most open at once, in all."""

    open: int = 0
    peak: int = 0
    total: int = 0


class Wire:
    """A :class:`Link` in use: its shared cap, its cuts and its counts.

    ``connections`` counts every connection accepted; ``streams`` those
    that asked for image data, from their request to their end.
    ``carried`` is the image data that crossed, ``cuts`` how many
    connections the link cut.
    """

    def __init__(self, link=None):
        self.link = link or Link()
        self.aggregate = (TokenBucket(self.link.aggregate)
                          if self.link.aggregate else None)
        self.connections = Count()
        self.streams = Count()
        self.carried = 0
        self.cuts = 0
        self._next_cut = self.link.cut_every
        self._lock = threading.Lock()

    def reset_counts(self):
        """Start counting peaks and totals again from the open ones."""
        with self._lock:
            for count in (self.connections, self.streams):
                count.peak = count.total = count.open
            self.carried = 0
            self.cuts = 0
            self._next_cut = self.link.cut_every

    def opened(self, count):
        with self._lock:
            count.open += 1
            count.total += 1
            count.peak = max(count.peak, count.open)

    def closed(self, count):
        with self._lock:
            count.open -= 1

    def stream_bucket(self):
        """The cap of one connection's answer, or None."""
        per_stream = self.link.per_stream
        return TokenBucket(per_stream) if per_stream else None

    def pace(self, bucket, count, wait):
        """Hold ``count`` bytes back as the caps say.

        ``wait(seconds)`` waits and returns True when the proxy is
        stopping.
        """
        for cap in (bucket, self.aggregate):
            if cap is not None:
                delay = cap.reserve(count)
                if delay > 0 and wait(delay):
                    return

    def carry(self, count):
        """Carry up to ``count`` bytes of image data: ``(allowed, cut)``.

        ``allowed`` of them cross; ``cut``: the link cuts their connection
        after them.
        """
        with self._lock:
            if self._next_cut is None or (
                    self.carried + count < self._next_cut):
                self.carried += count
                return count, False
            allowed = self._next_cut - self.carried
            self.carried = self._next_cut
            self._next_cut += self.link.cut_every
            self.cuts += 1
            return allowed, True


class FaultProxy(serving.Served):
    """The proxy; a context manager, or call start() and stop()."""

    def __init__(self, port, upstream, rate=None, faults=(), link=None):
        """Relay 127.0.0.1:port to upstream, a loopback (host, port).

        ``port`` 0 picks a free port, set in ``port`` by start().  ``rate``
        limits each response body to that many bytes a second.  ``faults``
        are the first of :attr:`faults`; :meth:`add` appends more.
        ``link``, a :class:`Link`, is emulated by :attr:`wire`.
        """
        if not ipaddress.ip_address(upstream[0]).is_loopback:
            raise ValueError('the proxy relays to loopback addresses only')
        self.port = port
        self.upstream = tuple(upstream)
        self.rate = rate
        self.faults = list(faults)
        self.requests = []
        self.wire = Wire(link)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._slots = threading.BoundedSemaphore(_MAX_CONNECTIONS)
        self._sockets = set()
        self._threads = set()
        self._listener = None
        self._acceptor = None

    # Lifecycle

    def start(self):
        listener = socket.create_server(('127.0.0.1', self.port))
        listener.settimeout(0.2)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._stopping.clear()
        self._acceptor = threading.Thread(target=self._accept, daemon=True,
                                          name=f'fault-proxy-{int(self.port)}')
        self._acceptor.start()
        return self

    def stop(self):
        """Stop accepting; end stalls, throttling and open connections."""
        if self._listener is None:
            return
        self._stopping.set()
        # Wakes the accept() in progress on Linux; elsewhere it ends
        # within its timeout.
        shut_down(self._listener)
        self._acceptor.join(_STOP_TIMEOUT)
        self._listener.close()
        self._listener = None
        with self._lock:
            sockets = list(self._sockets)
            threads = list(self._threads)
        for sock in sockets:
            shut_down(sock)
        deadline = time.monotonic() + _STOP_TIMEOUT
        for thread in threads:
            thread.join(max(0, deadline - time.monotonic()))

    @property
    def url(self):
        return f'http://127.0.0.1:{int(self.port)}'

    # What tests use

    def add(self, *faults):
        """Apply these faults too, after those already waiting."""
        with self._lock:
            self.faults.extend(faults)

    def most_data_answers(self):
        """The most image data answers that were being sent at once.

        Counted from each request's head to the last piece of its answer,
        as the downloading Glance sees them: a connection the proxy has
        not finished closing yet no longer counts.
        """
        events = []
        for r in self.requests_to('/file'):
            if r.last_send is not None:
                events += [(r.at, 1), (r.last_send, -1)]
        most = current = 0
        for _when, change in sorted(events):
            current += change
            most = max(most, current)
        return most

    def wait_idle(self, timeout=30):
        """Wait until every connection accepted so far has ended.

        A client has its answer before the proxy has written down the
        last bytes it sent: read ``requests`` after this.
        """
        with self._lock:
            threads = list(self._threads)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in threads)

    def requests_to(self, suffix='/file'):
        """The requests whose path (query excluded) ends with ``suffix``."""
        with self._lock:
            return [r for r in self.requests
                    if r.path.split('?')[0].endswith(suffix)]

    # Relaying

    def _accept(self):
        serving.accept_each(self._listener, self._stopping,
                            self._start_serving)

    def _start_serving(self, client):
        if not self._slots.acquire(blocking=False):
            client.close()
            return
        thread = threading.Thread(target=self._serve, args=(client,),
                                  daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _track(self, sock):
        sock.settimeout(_IO_TIMEOUT)
        with self._lock:
            self._sockets.add(sock)
        return sock

    def _serve(self, client):
        sockets = [self._track(client)]
        wire = self.wire
        wire.opened(wire.connections)
        stream = []
        try:
            # Setting the connection up took a round trip.
            if not self._round_trip():
                self._relay(client, sockets, stream)
        except (OSError, ValueError):
            # A peer went away, stop() closed the sockets, or a message
            # could not be parsed: the connection just ends.
            pass
        finally:
            for sock in sockets:
                sock.close()
            for count in stream:
                wire.closed(count)
            wire.closed(wire.connections)
            with self._lock:
                self._sockets.difference_update(sockets)
                self._threads.discard(threading.current_thread())
            self._slots.release()

    def _round_trip(self):
        """Wait for the link's round trip; True if the proxy is stopping."""
        rtt = self.wire.link.rtt
        return self._stopping.wait(rtt) if rtt else self._stopping.is_set()

    def _relay(self, client, sockets, stream):
        """Relay one request.

        ``stream`` gets the wire's count of image data streams once this
        is one.
        """
        head, rest = _read_head(client)
        request_line, headers = _parse_head(head)
        method, target = request_line.split(' ')[:2]
        path = target.split('?')[0]
        fault = self._take_fault(path, _range_start(headers))
        record = Request(method=method, path=target,
                         range=_header(headers, 'Range'),
                         token=_header(headers, 'X-Auth-Token') is not None,
                         fault=fault, at=time.monotonic())
        with self._lock:
            self.requests.append(record)
        if path.endswith('/file'):
            self.wire.opened(self.wire.streams)
            stream.append(self.wire.streams)
        if isinstance(fault, (Status, Redirect)):
            if self._round_trip():
                return
            record.status = fault.code
            client.sendall(_status_answer(fault))
            return

        upstream = socket.create_connection(self.upstream,
                                            timeout=_IO_TIMEOUT)
        sockets.append(self._track(upstream))
        dropped = {'connection', 'keep-alive'}
        if isinstance(fault, IgnoreRange):
            dropped |= {'range', 'if-range'}
        headers = [(n, v) for n, v in headers if n.lower() not in dropped]
        upstream.sendall(_make_head(request_line,
                                    headers + [('Connection', 'close')]))
        # A request body, if any, is relayed as it is.
        length = int(_header(headers, 'Content-Length') or 0)
        for piece in self._pieces(client, rest, length):
            upstream.sendall(piece)

        head, rest = _read_head(upstream)
        status_line, headers = _parse_head(head)
        record.status = int(status_line.split(' ')[1])
        headers = [(n, v) for n, v in headers
                   if n.lower() not in ('connection', 'keep-alive')]
        if self._round_trip():
            return
        if isinstance(fault, Rewrite) and record.status == 200:
            return self._rewrite(client, upstream, rest, status_line,
                                 headers, fault, record)
        client.sendall(_make_head(status_line,
                                  headers + [('Connection', 'close')]))
        if method == 'HEAD' or record.status in (204, 304):
            return

        length = _header(headers, 'Content-Length')
        first = 0
        if record.status == 206:
            match = _CONTENT_RANGE.fullmatch(
                (_header(headers, 'Content-Range') or '').strip())
            first = int(match.group(1)) if match else 0
        self._relay_body(upstream, client, rest,
                         None if length is None else int(length),
                         first, fault, record, path.endswith('/file'))

    def _rewrite(self, client, upstream, rest, status_line, headers, fault,
                 record):
        """Send the JSON record on with ``fault.fields`` merged into it."""
        length = _header(headers, 'Content-Length')
        body = b''.join(self._pieces(upstream, rest,
                                     None if length is None else int(length)))
        document = json.loads(body)
        document.update(fault.fields)
        body = json.dumps(document).encode()
        headers = [(n, v) for n, v in headers
                   if n.lower() not in ('content-length',
                                        'transfer-encoding')]
        client.sendall(_make_head(
            status_line, headers + [('Content-Length', str(len(body))),
                                    ('Connection', 'close')]) + body)
        record.body_bytes = len(body)

    def _relay_body(self, upstream, client, rest, length, first, fault,
                    record, data=False):
        """Send the body on, as ``fault`` and the link have it.

        Its first byte is at image offset ``first``; ``data``: it is image
        data.
        """
        stop_after = (fault.after if isinstance(fault, (Cut, Stall, Trickle))
                      else None)
        flip_at = fault.offset - first if isinstance(fault, FlipByte) else -1
        wire = self.wire
        bucket = wire.stream_bucket()
        started = time.monotonic()
        sent = 0
        leftover = b''
        for piece in self._pieces(upstream, rest, length):
            if stop_after is not None:
                leftover = piece[stop_after - sent:]
                piece = piece[:stop_after - sent]
            if sent <= flip_at < sent + len(piece):
                piece = bytearray(piece)
                piece[flip_at - sent] ^= 0xFF
            wire.pace(bucket, len(piece), self._stopping.wait)
            allowed, cut = (wire.carry(len(piece)) if data
                            else (len(piece), False))
            record.last_send = time.monotonic()
            client.sendall(piece[:allowed])
            sent += allowed
            record.body_bytes = sent
            if cut:
                # The client gets every byte that crossed, then the end.
                return
            if stop_after is not None and sent >= stop_after:
                break
            if self.rate:
                ahead = sent / self.rate - (time.monotonic() - started)
                if ahead > 0:
                    self._stopping.wait(ahead)
        if isinstance(fault, Trickle):
            self._trickle(upstream, client, leftover, fault, record)
        if isinstance(fault, Stall):
            upstream.close()
            self._stopping.wait(fault.seconds)
        elif isinstance(fault, Cut) and fault.reset:
            # Closing with a zero linger sends a TCP reset, not a FIN.
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                              struct.pack('ii', 1, 0))

    def _trickle(self, upstream, client, leftover, fault, record):
        """Send the rest of the body one byte every ``fault.every`` s."""
        while not self._stopping.wait(fault.every):
            if not leftover:
                leftover = upstream.recv(_PIECE)
                if not leftover:
                    return
            client.sendall(leftover[:1])
            leftover = leftover[1:]
            record.body_bytes += 1

    def _pieces(self, sock, rest, length):
        """``length`` bytes of a body (None: up to the end).

        Its first bytes, ``rest``, came with the head.
        """
        remaining = float('inf') if length is None else length
        if rest and remaining:
            rest = rest[:int(min(len(rest), remaining))]
            remaining -= len(rest)
            yield rest
        while remaining > 0 and not self._stopping.is_set():
            piece = sock.recv(int(min(_PIECE, remaining)))
            if not piece:
                return
            remaining -= len(piece)
            yield piece

    def _take_fault(self, path, start=0):
        """The next fault for this request.

        ``start``: its Range's first byte, for faults that target one
        segment (``at``).
        """
        kind = 'file' if path.endswith('/file') else 'metadata'
        with self._lock:
            for fault in self.faults:
                if fault.on == kind and fault.at in (None, start):
                    fault.times -= 1
                    if fault.times == 0:
                        self.faults.remove(fault)
                    return fault
        return None


def _range_start(headers):
    """First byte a request's Range asks for; 0 without a Range."""
    match = _OPEN_RANGE.match((_header(headers, 'Range') or '').strip())
    return int(match.group(1)) if match else 0


def _read_head(sock):
    """A message head (to the blank line, excluded), and the bytes after."""
    data = b''
    while b'\r\n\r\n' not in data:
        if len(data) > _MAX_HEAD:
            raise ValueError('message head too long')
        piece = sock.recv(_PIECE)
        if not piece:
            raise ConnectionError('closed before the end of a message head')
        data += piece
    head, _, rest = data.partition(b'\r\n\r\n')
    return head, rest


def _parse_head(head):
    """The first line and the ``(name, value)`` header pairs, in order."""
    lines = head.decode('latin-1').split('\r\n')
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(':')
        headers.append((name.strip(), value.strip()))
    return lines[0], headers


def _make_head(first_line, headers):
    lines = [first_line] + [f'{name}: {value}' for name, value in headers]
    return ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1')


def _header(headers, name):
    for key, value in headers:
        if key.lower() == name.lower():
            return value
    return None


def _status_answer(fault):
    try:
        reason = http.HTTPStatus(fault.code).phrase
    except ValueError:
        reason = 'Injected'
    body = f'{int(fault.code)} {reason}\n'.encode()
    headers = [('Content-Type', 'text/plain'),
               ('Content-Length', str(len(body))), ('Connection', 'close')]
    if isinstance(fault, Redirect):
        headers.append(('Location', fault.location))
    elif fault.retry_after is not None:
        headers.append(('Retry-After', fault.retry_after))
    return _make_head(f'HTTP/1.1 {int(fault.code)} {reason}', headers) + body
