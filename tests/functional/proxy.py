"""A loopback TCP proxy that slows down what the upstream sends back.

Placed between one glance-api and another (the catalog lists it as an
image endpoint of its own region), it makes a transfer last long enough
for its progress to be watched. It listens on 127.0.0.1 only, and stop()
ends every connection it relays.
"""

import ipaddress
import socket
import threading
import time

_PIECE = 64 * 1024


class ThrottlingProxy(object):

    def __init__(self, port, upstream, rate):
        """Relay 127.0.0.1:port to upstream (host, port) at ``rate`` B/s."""
        if not ipaddress.ip_address(upstream[0]).is_loopback:
            raise ValueError('the proxy relays to loopback addresses only')
        self.port = port
        self.upstream = upstream
        self.rate = rate
        self._stopping = threading.Event()
        self._sockets = set()
        self._lock = threading.Lock()
        self._listener = None

    def __enter__(self):
        listener = socket.create_server(('127.0.0.1', self.port),
                                        reuse_port=False)
        listener.settimeout(0.2)
        self._listener = listener
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc_info):
        self._stopping.set()
        self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _track(self, sock):
        with self._lock:
            self._sockets.add(sock)
        return sock

    def _accept(self):
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            self._track(client)
            self._track(server)
            threading.Thread(target=self._pump, args=(client, server, None),
                             daemon=True).start()
            threading.Thread(target=self._pump,
                             args=(server, client, self.rate),
                             daemon=True).start()

    def _pump(self, source, sink, rate):
        started = time.monotonic()
        sent = 0
        try:
            while not self._stopping.is_set():
                data = source.recv(_PIECE)
                if not data:
                    break
                sink.sendall(data)
                sent += len(data)
                if rate:
                    ahead = sent / rate - (time.monotonic() - started)
                    if ahead > 0:
                        self._stopping.wait(ahead)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
