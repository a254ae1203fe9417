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

"""Data streams of this process: how many may be open, reading, waking.

Every import of a glance-api process draws its streams from one shared
count, so that many parallel imports do not flood the source Glance with
connections.  A stream reads its answer's body by reads of the size it
chooses, so that it stops exactly where another stream's range begins.  A
stream blocked reading a silent or trickling connection is woken by
shutting its socket down from the thread that watches it.
"""

import os
import socket
import threading

import requests
from urllib3 import exceptions as urllib3_exceptions
from urllib3 import response as urllib3_response

# What requests raises for each error of urllib3 while a body is read, as
# its iter_content does.
_READ_ERRORS = (
    (urllib3_exceptions.ProtocolError,
     requests.exceptions.ChunkedEncodingError),
    (urllib3_exceptions.DecodeError,
     requests.exceptions.ContentDecodingError),
    (urllib3_exceptions.ReadTimeoutError,
     requests.exceptions.ConnectionError),
    (urllib3_exceptions.SSLError, requests.exceptions.SSLError),
)

# How long a wait for a free stream lasts before the stop flag is looked at.
_WAIT_STEP = 0.25


class StreamSlots:
    """At most ``limit`` streams at once; None or 0 means no limit."""

    def __init__(self, limit=None):
        self.limit = limit
        self._used = 0
        self._changed = threading.Condition()

    @property
    def in_use(self):
        with self._changed:
            return self._used

    def acquire(self, wait, stopping=None):
        """Take a slot; with ``wait``, until one is free or ``stopping``.

        True when a slot was taken; the caller must then release it.
        """
        with self._changed:
            while self.limit and self._used >= self.limit:
                if not wait or (stopping is not None and stopping.is_set()):
                    return False
                self._changed.wait(_WAIT_STEP)
            self._used += 1
            return True

    def release(self):
        with self._changed:
            self._used -= 1
            self._changed.notify()


_PROCESS = StreamSlots()


def process_slots(limit):
    """The streams of every import in this process, bounded by ``limit``.

    The bound is the configuration's of the latest import, so a changed
    option applies from the next import on.
    """
    _PROCESS.limit = limit
    return _PROCESS


def handle_of(response):
    """A socket of our own on ``response``'s connection, or None.

    It is a duplicate of the connection's descriptor, held until
    :func:`release`: shutting it down from another thread wakes a read
    blocked on the connection, and never touches another connection, even
    once the response closed and its descriptor number was reused.  The
    HTTP library may have let go of its own reference to the socket (it
    does when the server answers ``Connection: close``); the descriptor
    the response reads from is what counts.
    """
    try:
        fd = response.raw.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    try:
        return socket.socket(fileno=os.dup(fd))
    except OSError:
        return None


def interrupt(handle):
    """Make a thread blocked reading the handle's connection return now.

    Closing a socket does not wake a thread blocked on it; shutting it
    down does.
    """
    if handle is not None:
        try:
            handle.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def release(handle):
    if handle is not None:
        handle.close()


def read(response, amount):
    """Up to ``amount`` bytes of ``response``'s body; b'' once it ended.

    One read of ``requests.Response.iter_content``, with the errors it
    raises, but of a size chosen for each read.
    """
    raw = response.raw
    if not isinstance(raw, urllib3_response.BaseHTTPResponse):
        return raw.read(amount) or b''
    try:
        return raw.read(amount, decode_content=True) or b''
    except Exception as exc:
        for theirs, ours in _READ_ERRORS:
            if isinstance(exc, theirs):
                raise ours(exc) from exc
        raise
