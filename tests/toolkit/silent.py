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

"""A loopback server that accepts connections and never answers.

What a region looks like whose glance-api hangs, or whose load balancer
still accepts while nothing behind it does: the client's connect succeeds,
its read waits.
"""

import socket
import threading

from tests.toolkit import serving


class Silent(serving.Served):
    """Accepts on 127.0.0.1:port (0: any free port), reads nothing."""

    def __init__(self, port=0):
        self.sock = socket.create_server(('127.0.0.1', port))
        self.sock.settimeout(0.2)
        self.url = f'http://127.0.0.1:{int(self.sock.getsockname()[1])}'
        self.held = []
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=serving.accept_each,
            args=(self.sock, self._stop, self.held.append), daemon=True)

    @property
    def connections(self):
        return len(self.held)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)
        for connection in self.held:
            connection.close()
        self.sock.close()
