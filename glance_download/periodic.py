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

"""Work done every few seconds in a thread of its own: heartbeat, sweep."""

import logging
import threading

LOG = logging.getLogger(__name__)


class Periodic:
    """Calls ``work()`` every ``interval`` seconds in a daemon thread.

    The thread never keeps the process alive, and runs until ``work()``
    returns False or :meth:`stop` is called. A call that raises (the
    database busy or away, say) is logged as ``what`` failing and the next
    one is tried: a passing failure must not end the work for good.
    ``calls`` counts the calls that returned.
    """

    def __init__(self, work, interval, what, name):
        self.work = work
        self.interval = interval
        self.what = what
        self.calls = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name,
                                        daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stopped.set()

    def join(self, timeout=None):
        """Wait up to ``timeout`` seconds; whether the thread ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self):
        while not self._stopped.wait(self.interval):
            try:
                going = self.work()
            except Exception as exc:
                LOG.warning('%s failed (%s: %s); trying again in %g s',
                            self.what, type(exc).__name__, exc,
                            self.interval)
                continue
            self.calls += 1
            if not going:
                return
