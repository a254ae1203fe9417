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

"""Processes of the test cloud and the machine's load, read from /proc.

Linux only; the cloud, the benchmarks and the tests read /proc through
these alone.
"""

import os

CLK_TCK = os.sysconf('SC_CLK_TCK')
PAGE = os.sysconf('SC_PAGE_SIZE')


def stat_fields(pid):
    """The fields of /proc/PID/stat after the command name; None if gone.

    Field 0 is the state, 1 the parent, 2 the process group, 11 and 12
    the user and system clock ticks.
    """
    try:
        with open(f'/proc/{pid}/stat', 'rb') as f:
            return f.read().rsplit(b')', 1)[1].split()
    except (OSError, IndexError):
        return None


def _field(pid, index):
    """One numeric field of stat_fields(pid); None once pid is gone."""
    fields = stat_fields(pid)
    return None if fields is None else int(fields[index])


def pids():
    """Every process ID now in /proc."""
    return [int(entry) for entry in os.listdir('/proc') if entry.isdigit()]


def children(parent):
    """The sorted PIDs of the processes whose parent is ``parent``."""
    return sorted(pid for pid in pids() if _field(pid, 1) == parent)


def cpu_seconds(pid):
    """User plus system CPU time of one process; None once it is gone."""
    fields = stat_fields(pid)
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_bytes(pid):
    """Resident memory of one process, in bytes; None once it is gone."""
    try:
        with open(f'/proc/{int(pid)}/statm') as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return None


def argv(pid):
    """The command line of one process, a list of str; None once gone."""
    try:
        with open(f'/proc/{int(pid)}/cmdline', 'rb') as f:
            return [os.fsdecode(arg) for arg in f.read().split(b'\0')]
    except OSError:
        return None


def machine_busy():
    """CPU seconds the whole machine spent busy so far (/proc/stat)."""
    with open('/proc/stat') as f:
        fields = f.readline().split()[1:]
    user, nice, system, idle, iowait, irq, softirq, steal = map(
        int, fields[:8])
    # Interrupts are left out: they are mostly the loopback network of the
    # transfer being measured.
    return (user + nice + system + steal) / CLK_TCK


def cloud_marker(state_dir):
    """The argument that marks the servers of one cloud state directory."""
    return f'gd_cloud_dir={state_dir}'


def is_cloud_server(pid, state_dir):
    """True while pid is a live uWSGI process of the cloud in state_dir.

    A PID file can outlive its process and its number be reused: check
    the command line before signalling anything.
    """
    command = argv(pid)
    if command is None:
        return False
    fields = stat_fields(pid)
    if fields is None or fields[0] == b'Z':
        return False
    return (os.path.basename(command[0]) == 'uwsgi'
            and cloud_marker(state_dir) in command)


def cloud_group(pgid, state_dir):
    """PIDs of the cloud's uWSGI processes in process group pgid."""
    return [pid for pid in pids()
            if _field(pid, 2) == pgid and is_cloud_server(pid, state_dir)]
