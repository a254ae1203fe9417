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

"""A real HTTP server imitating the parts of the Glance v2 API we read.

It listens on a loopback address only, on a free port, and serves image
records and image data the way Glance does, with faults that tests inject
one request at a time::

    with FakeGlance() as glance:
        image = glance.add_image(b'x' * 10000, name='cirros')
        glance.faults.append(Cut(after=4096))
        response = requests.get(glance.file_url(image['id']),
                                headers={'X-Auth-Token': DEFAULT_TOKEN})

Served, under an optional path ``prefix``:

* ``GET /v2/images/<id>``: the image record as JSON.
* ``GET /v2/images/<id>/file``: the data, with Content-Length,
  Content-Type and Content-MD5; ``Range: bytes=N-`` (or ``N-M``) is
  answered 206 with Content-Range, or 416 past the end.  An image whose
  status is queued, saving, uploading or importing answers 204; a
  deactivated one 403.
* ``HEAD`` of both; any other path is 404 and other methods 405.

Authentication: the ``X-Auth-Token`` must be one of ``tokens`` (401
otherwise), unless ``tokens`` is None.  Per image, ``visible_to`` hides it
(404) from other tokens and ``forbidden_to`` denies it (403).

Every request is recorded in ``requests``; ``bytes_sent`` counts the image
data bytes sent, ``most_data_streams`` the most data answers sent at once.
``stop()`` returns promptly even during a stalled response, and closes the
connections still open.
"""

import collections
import dataclasses
import datetime
import hashlib
import http.server
import ipaddress
import json
import os
import socket
import struct
import threading
import urllib.parse
import uuid

from requests.structures import CaseInsensitiveDict

from tests.toolkit import serving

DEFAULT_TOKEN = 'fake-glance-token'

# Bytes sent per write on the faulted paths, so cuts and counts are exact.
_PIECE = 256 * 1024
_NO_DATA_STATUSES = frozenset(['queued', 'saving', 'uploading', 'importing'])

Request = collections.namedtuple('Request', 'method path headers')
Request.__doc__ = """One request received: headers is case-insensitive."""


@dataclasses.dataclass(kw_only=True)
class Fault:
    """Something going wrong with the next ``times`` matching requests.

    ``on`` is the kind of request it applies to: ``'file'`` (image data) or
    ``'metadata'`` (image record).  Faults are consumed in list order, one
    per request: the first fault whose ``on`` matches is applied and its
    ``times`` decremented; at zero it leaves ``FakeGlance.faults``.
    """

    times: int = 1
    on: str = 'file'
    at: int | None = None
    """Only for data requests whose Range starts at this byte (0: none)."""

    def __post_init__(self):
        if self.times < 1:
            raise ValueError('times must be at least 1')
        if self.on not in self.allowed_on():
            raise ValueError(f'{type(self).__name__} applies to '
                             f'{self.allowed_on()} requests only')

    @staticmethod
    def allowed_on():
        return ('file',)


@dataclasses.dataclass(kw_only=True)
class Cut(Fault):
    """Send ``after`` bytes of the body, then close the connection.

    The close is a FIN by default: the client receives every byte sent,
    then sees the body end early.  With ``reset`` it is a TCP reset, and
    the client's kernel drops what it had received but not yet read, as
    with a crashed peer.
    """

    after: int
    reset: bool = False

    @staticmethod
    def allowed_on():
        return ('file', 'metadata')


@dataclasses.dataclass(kw_only=True)
class Stall(Fault):
    """Send ``after`` bytes, go silent for ``seconds``, then close."""

    after: int
    seconds: float


@dataclasses.dataclass
class Status(Fault):
    """Answer ``code`` instead, with a Retry-After header if given."""

    code: int
    retry_after: str | None = None

    @staticmethod
    def allowed_on():
        return ('file', 'metadata')


@dataclasses.dataclass(kw_only=True)
class Trickle(Fault):
    """Send ``after`` bytes, then one byte every ``every`` seconds."""

    after: int
    every: float


@dataclasses.dataclass(kw_only=True)
class IgnoreRange(Fault):
    """Answer 200 with the whole image whatever Range was asked."""


@dataclasses.dataclass(kw_only=True)
class FlipByte(Fault):
    """Invert the byte at image offset ``offset`` if the answer holds it."""

    offset: int


@dataclasses.dataclass(kw_only=True)
class NoLength(Fault):
    """Send the body without Content-Length, ending it by closing."""


@dataclasses.dataclass(kw_only=True)
class Rewrite(Fault):
    """Serve the image record with ``fields`` changed, e.g. its size."""

    fields: dict
    on: str = 'metadata'

    @staticmethod
    def allowed_on():
        return ('metadata',)


@dataclasses.dataclass
class Redirect(Fault):
    """Answer ``code`` (302 by default) with ``Location: location``.

    With ``cookie``, the answer also sets it (``Set-Cookie: cookie``).
    """

    location: str
    code: int = 302
    cookie: str | None = None

    @staticmethod
    def allowed_on():
        return ('file', 'metadata')


class _Data:
    """Image data held in memory or in a file, served by ranges."""

    def __init__(self, content=None, path=None):
        self._content = content
        self._path = path
        self.length = len(content) if path is None else os.path.getsize(path)

    def read(self, start, end):
        if self._path is None:
            return self._content[start:end]
        with open(self._path, 'rb') as f:
            return os.pread(f.fileno(), end - start, start)

    def send(self, sock, start, end):
        """Send bytes [start, end) as fast as the kernel allows."""
        if self._path is None:
            sock.sendall(memoryview(self._content)[start:end])
        else:
            with open(self._path, 'rb') as f:
                sock.sendfile(f, start, end - start)


class _Image:
    def __init__(self, record, data, visible_to, forbidden_to):
        self.record = record
        self.data = data
        self.visible_to = visible_to
        self.forbidden_to = forbidden_to


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'FakeGlance/1.0'
    # An idle keep-alive connection ends by itself after this many seconds.
    timeout = 10

    def setup(self):
        super().setup()
        self.server.glance._track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.glance._track(self.connection, False)

    def handle(self):
        try:
            super().handle()
        except OSError:
            # The client reset the connection, often on purpose: a client
            # that drops a response midway closes its socket.
            pass

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self.server.glance._handle(self, body=True)

    def do_HEAD(self):
        self.server.glance._handle(self, body=False)

    def _not_allowed(self):
        self.server.glance._record(self)
        self.server.glance._reply(self, 405, body=False)

    do_POST = do_PUT = do_PATCH = do_DELETE = _not_allowed


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def shutdown_request(self, request):
        if self.glance._take_reset(request):
            # No FIN first: with a zero linger time, close sends a reset.
            self.close_request(request)
        else:
            super().shutdown_request(request)


def shut_down(sock):
    """End a socket's traffic both ways now, whatever state it is in.

    A thread blocked reading or writing it wakes up; closing alone would
    not wake it.
    """
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class FakeGlance(serving.Served):
    """The server; a context manager, or call start() and stop()."""

    def __init__(self, host='127.0.0.1', tokens=(DEFAULT_TOKEN,), prefix='',
                 port=0):
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError('FakeGlance listens on loopback addresses only')
        self.host = host
        self.port = port
        self.tokens = None if tokens is None else set(tokens)
        self.prefix = '/' + prefix.strip('/') if prefix.strip('/') else ''
        self.faults = []
        self.close_connections = False
        """Answer data with ``Connection: close``, as uWSGI servers do."""
        self.requests = []
        self.bytes_sent = 0
        self.most_data_streams = 0
        self._data_streams = 0
        self._images = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._connections = set()
        self._resets = set()
        self._server = None
        self._thread = None

    # Lifecycle

    def start(self):
        server = _Server((self.host, self.port), _Handler)
        server.glance = self
        self._server = server
        self._stopping.clear()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={'poll_interval': 0.05},
            name=f'fake-glance-{self.host}', daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop serving, wake stalled answers and close open connections."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            shut_down(connection)
        self._thread.join(timeout=5)
        self._server = None

    @property
    def url(self):
        """The endpoint, as a catalog would list it (prefix included)."""
        host, port = self._server.server_address[:2]
        return f'http://{host}:{port}{self.prefix}'

    def image_url(self, image_id):
        return f'{self.url}/v2/images/{image_id}'

    def file_url(self, image_id):
        return f'{self.image_url(image_id)}/file'

    def requests_to(self, suffix):
        """The recorded requests whose path (query excluded) ends so."""
        with self._lock:
            return [r for r in self.requests
                    if r.path.split('?')[0].endswith(suffix)]

    # Images

    def add_image(self, data=b'', *, visible_to=None, forbidden_to=None,
                  **fields):
        """Create an active image holding ``data``; its record.

        The record has what Glance returns (id, status, size, checksum,
        os_hash_algo sha512, os_hash_value, formats, visibility, owner,
        timestamps...), computed from ``data``.  ``fields`` add properties
        or override any of those, e.g. ``status='queued'``,
        ``os_hash_value=None`` or a wrong ``size``.  The record is served
        live: changing it later changes what is served.
        """
        return self._add(_Data(content=bytes(data)),
                         self._digests([bytes(data)]), visible_to,
                         forbidden_to, fields)

    def add_image_file(self, path, *, visible_to=None, forbidden_to=None,
                       **fields):
        """Like :meth:`add_image`, serving the file at ``path`` (sendfile)."""
        def pieces():
            with open(path, 'rb') as f:
                yield from iter(lambda: f.read(4 * 1024 * 1024), b'')
        return self._add(_Data(path=os.fspath(path)), self._digests(pieces()),
                         visible_to, forbidden_to, fields)

    @staticmethod
    def _digests(pieces):
        md5 = hashlib.md5(usedforsecurity=False)
        sha512 = hashlib.sha512()
        size = 0
        for piece in pieces:
            md5.update(piece)
            sha512.update(piece)
            size += len(piece)
        return size, md5.hexdigest(), sha512.hexdigest()

    def _add(self, data, digests, visible_to, forbidden_to, fields):
        size, md5, sha512 = digests
        image_id = fields.pop('id', None) or str(uuid.uuid4())
        now = datetime.datetime.now(datetime.UTC).strftime(
            '%Y-%m-%dT%H:%M:%SZ')
        record = {
            'id': image_id, 'name': None, 'status': 'active',
            'visibility': 'shared', 'protected': False, 'os_hidden': False,
            'owner': 'b0f3a5c1d2e84f6a9b7c8d9e0f1a2b3c',
            'size': size, 'virtual_size': None,
            'checksum': md5, 'os_hash_algo': 'sha512',
            'os_hash_value': sha512,
            'disk_format': 'raw', 'container_format': 'bare',
            'min_disk': 0, 'min_ram': 0, 'tags': [],
            'created_at': now, 'updated_at': now,
            'self': f'/v2/images/{image_id}',
            'file': f'/v2/images/{image_id}/file',
            'schema': '/v2/schemas/image',
        }
        record.update(fields)
        with self._lock:
            self._images[image_id] = _Image(
                record, data,
                None if visible_to is None else set(visible_to),
                None if forbidden_to is None else set(forbidden_to))
        return record

    # Serving

    def _track(self, connection, opened):
        with self._lock:
            if opened:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def _take_reset(self, connection):
        with self._lock:
            if connection in self._resets:
                self._resets.discard(connection)
                return True
        return False

    def _record(self, handler):
        with self._lock:
            self.requests.append(Request(
                handler.command, handler.path,
                CaseInsensitiveDict(handler.headers.items())))

    def _take_fault(self, kind, start=0):
        with self._lock:
            for fault in self.faults:
                if fault.on == kind and fault.at in (None, start):
                    fault.times -= 1
                    if fault.times == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def _route(self, path):
        """``(image_id, kind)`` for a served path, or None."""
        path = urllib.parse.urlsplit(path).path
        root = f'{self.prefix}/v2/images/'
        if not path.startswith(root):
            return None
        parts = path[len(root):].split('/')
        if len(parts) == 1 and parts[0]:
            return parts[0], 'metadata'
        if len(parts) == 2 and parts[0] and parts[1] == 'file':
            return parts[0], 'file'
        return None

    def _handle(self, handler, body):
        self._record(handler)
        route = self._route(handler.path)
        if route is None:
            return self._reply(handler, 404, body=body)
        image_id, kind = route
        token = handler.headers.get('X-Auth-Token')
        if self.tokens is not None and token not in self.tokens:
            return self._reply(handler, 401, body=body, headers={
                'WWW-Authenticate': 'Keystone uri="http://127.0.0.1/identity"'
            })
        with self._lock:
            image = self._images.get(image_id)
        if image is None or (image.visible_to is not None
                             and token not in image.visible_to):
            return self._reply(handler, 404, body=body)
        if image.forbidden_to is not None and token in image.forbidden_to:
            return self._reply(handler, 403, body=body)
        wanted = _parse_range(handler.headers.get('Range'))
        fault = self._take_fault(kind, wanted[0] if wanted else 0)
        if isinstance(fault, Status):
            headers = {}
            if fault.retry_after is not None:
                headers['Retry-After'] = fault.retry_after
            return self._reply(handler, fault.code, body=body,
                               headers=headers)
        if isinstance(fault, Redirect):
            headers = {'Location': fault.location}
            if fault.cookie is not None:
                headers['Set-Cookie'] = fault.cookie
            return self._reply(handler, fault.code, body=body,
                               headers=headers)
        if kind == 'metadata':
            record = image.record
            if isinstance(fault, Rewrite):
                record = dict(record, **fault.fields)
            payload = json.dumps(record).encode()
            return self._reply(handler, 200, body=body, payload=payload,
                               content_type='application/json',
                               send=fault.after if isinstance(fault, Cut)
                               else None)
        return self._serve_data(handler, image, fault, body)

    def _reply(self, handler, code, body, headers=None, payload=None,
               content_type='text/plain; charset=UTF-8', send=None):
        """Answer; with ``send``, only that many bytes of the payload."""
        if payload is None:
            payload = f'{code} {_phrase(code)}\n'.encode()
        handler.send_response(code)
        if code != 204:
            handler.send_header('Content-Type', content_type)
            handler.send_header('Content-Length', str(len(payload)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        if body:
            handler.wfile.write(payload if send is None else payload[:send])
        if send is not None:
            handler.close_connection = True

    def _serve_data(self, handler, image, fault, body):
        status = image.record.get('status')
        if status in _NO_DATA_STATUSES:
            return self._reply(handler, 204, body=False)
        if status == 'deactivated':
            return self._reply(handler, 403, body=body)
        length = image.data.length
        start, end = 0, length
        wanted = _parse_range(handler.headers.get('Range'))
        partial = wanted is not None and not isinstance(fault, IgnoreRange)
        if partial:
            start = wanted[0]
            end = length if wanted[1] is None else min(wanted[1] + 1, length)
            if start >= length:
                return self._reply(handler, 416, body=body, headers={
                    'Content-Range': f'bytes */{length}'})
        handler.send_response(206 if partial else 200)
        handler.send_header('Content-Type', 'application/octet-stream')
        if isinstance(fault, NoLength) or self.close_connections:
            handler.send_header('Connection', 'close')
            handler.close_connection = True
        if not isinstance(fault, NoLength):
            handler.send_header('Content-Length', str(end - start))
        if partial:
            handler.send_header('Content-Range',
                                f'bytes {start}-{end - 1}/{length}')
        elif image.record.get('checksum'):
            handler.send_header('Content-MD5', image.record['checksum'])
        handler.end_headers()
        if not body:
            return
        with self._lock:
            self._data_streams += 1
            self.most_data_streams = max(self.most_data_streams,
                                         self._data_streams)
        try:
            self._send_body(handler, image.data, start, end, fault)
        except OSError:
            # The client went away; nothing more to send on this connection.
            handler.close_connection = True
        finally:
            with self._lock:
                self._data_streams -= 1

    def _send_body(self, handler, data, start, end, fault):
        if fault is None or isinstance(fault, (IgnoreRange, NoLength)):
            data.send(handler.connection, start, end)
            self._count(end - start)
            return
        stop = end
        if isinstance(fault, (Cut, Stall, Trickle)):
            stop = min(end, start + fault.after)
        position = start
        while position < stop:
            piece_end = min(stop, position + _PIECE)
            piece = data.read(position, piece_end)
            if isinstance(fault, FlipByte) and (
                    position <= fault.offset < piece_end):
                flipped = bytearray(piece)
                flipped[fault.offset - position] ^= 0xFF
                piece = bytes(flipped)
            handler.connection.sendall(piece)
            self._count(len(piece))
            position = piece_end
        if isinstance(fault, Stall):
            self._stopping.wait(fault.seconds)
        if isinstance(fault, Trickle):
            while position < end and not self._stopping.wait(fault.every):
                handler.connection.sendall(data.read(position, position + 1))
                self._count(1)
                position += 1
        if isinstance(fault, (Cut, Stall, Trickle)):
            handler.close_connection = True
        if isinstance(fault, Cut) and fault.reset:
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                          struct.pack('ii', 1, 0))
            with self._lock:
                self._resets.add(handler.connection)

    def _count(self, sent):
        with self._lock:
            self.bytes_sent += sent


def _phrase(code):
    try:
        return http.HTTPStatus(code).phrase
    except ValueError:
        return 'Error'


def _parse_range(value):
    """``(first, last-or-None)`` of a single ``bytes=a-[b]`` range, or None.

    Suffix ranges and multiple ranges are not served: like many servers,
    the fake then answers the whole image.
    """
    if not value or not value.startswith('bytes='):
        return None
    spec = value[len('bytes='):].strip()
    if ',' in spec or '-' not in spec:
        return None
    first, last = spec.split('-', 1)
    if not first.isdigit() or (last and not last.isdigit()):
        return None
    if last and int(last) < int(first):
        return None
    return int(first), int(last) if last else None
