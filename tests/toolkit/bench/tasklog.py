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

"""An import's taskflow, followed through the target glance-api's log.

Glance logs every task's transitions with milliseconds: the bench reads
its times from there rather than polling the API, which would cost the
target CPU while it works and blur the end by the polling interval.
"""

import datetime
import os
import re

TRANSITION = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) (\d+) DEBUG "
    r"glance\.async_\.taskflow_executor \[[^\]]*\] (Task|Flow) "
    r"'([^']+)' \([^)]*\) transitioned into state '(\w+)' from state "
    r"'(\w+)'")

# The plugin's line once the data is downloaded and verified: with the
# store step reading it as it arrives, its download step returned before.
STAGED = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) (\d+) INFO "
    r"glance_download\.\S+ \[[^\]]*\] (?:\S+ )?Image \S+ staged at ")


def _stamp(text):
    return datetime.datetime.strptime(text, '%Y-%m-%d %H:%M:%S.%f'
                                      ).timestamp()


def transitions(lines):
    """(time, pid, name, state) of the taskflow task transitions in lines."""
    for line in lines:
        match = TRANSITION.match(line)
        if match and match.group(3) == 'Task':
            stamp, pid, _, name, state, _ = match.groups()
            yield _stamp(stamp), int(pid), name, state


class LogFollower:
    """The lines glance-api adds to its log from now on."""

    def __init__(self, path):
        self.path = path
        self.position = os.path.getsize(path)
        self.rest = b''

    def lines(self):
        with open(self.path, 'rb') as f:
            f.seek(self.position)
            data = f.read()
        self.position += len(data)
        data = self.rest + data
        complete, _, self.rest = data.rpartition(b'\n')
        if not complete:
            return []
        return complete.decode('utf-8', 'replace').split('\n')


class Flow:
    """The import flow of one task, followed through the log."""

    def __init__(self):
        self.task_id = None
        self.pid = None
        self.running = {}
        self.phases = {}
        self.first = None
        self.stored = None
        self.done = None
        self.failed = None
        self.began = {}
        self.staged = None
        # The steps run until the image was active.
        self.order = []

    def downloaded(self, step):
        """Seconds from ``step``'s start to its data downloaded and verified.

        The step's own time; or, where the step returned once its streams
        ran and Glance's store step read the data as it arrived, until the
        plugin logged the data staged.
        """
        if step not in self.phases:
            return None
        if self.staged is None or step not in self.began:
            return self.phases[step]
        return max(self.phases[step], self.staged - self.began[step])

    def feed(self, lines):
        self._transitions(lines)
        for line in lines:
            match = STAGED.match(line)
            if (match and self.staged is None and self.pid is not None
                    and int(match.group(2)) == self.pid):
                self.staged = _stamp(match.group(1))

    def _transitions(self, lines):
        for at, pid, name, state in transitions(lines):
            if self.task_id is None:
                # Nothing else imports on the bench cloud: the first flow
                # to start after the import call is this one.
                if state != 'RUNNING' or '-ImageLock-' not in name:
                    continue
                self.task_id = name.rsplit('-ImageLock-', 1)[1]
                self.pid = pid
            if not name.endswith('-' + self.task_id):
                continue
            step = name[len('api_image_import-'):-len(self.task_id) - 1]
            if state == 'RUNNING' and self.stored is None:
                self.order.append(step)
            if state == 'RUNNING':
                self.running[step] = at
                self.began.setdefault(step, at)
                if self.first is None:
                    self.first = at
            elif state == 'SUCCESS' and step in self.running:
                self.phases[step] = (self.phases.get(step, 0.0) + at
                                     - self.running.pop(step))
                if step.endswith('ImportToStore'):
                    # Glance saved the image active just before.
                    self.stored = at
                if step == 'CompleteTask':
                    self.done = at
                    self.phases['flow'] = at - self.first
            elif state in ('FAILURE', 'REVERTING', 'REVERTED'):
                self.failed = step
