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

from tests.functional import base


class Silent(base.Listener):
    """Accepts on 127.0.0.1:port (0: any free port), reads nothing."""

    def __init__(self, port=0):
        super().__init__(port=port)
        self.held = []

    def _count(self, connection):
        self.connections += 1
        self.held.append(connection)

    def stop(self):
        super().stop()
        for connection in self.held:
            connection.close()
