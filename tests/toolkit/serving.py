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

"""What the tests' loopback servers share."""

import socket


class Served:
    """A server started on entering a with block and stopped on leaving."""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


def accept_each(listener, stopping, handle):
    """Pass each connection accepted on ``listener`` to ``handle``.

    Ends once ``stopping`` (an Event) is set or the listener is closed;
    the listener has a timeout, so that ``stopping`` is looked at.
    """
    while not stopping.is_set():
        try:
            connection, _ = listener.accept()
        except socket.timeout:
            continue
        except OSError:
            return
        handle(connection)
