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

"""What to do about an import whose glance-api stopped in the middle.

A glance-api killed during an import (kill -9, out of memory, a reboot)
leaves its task ``processing``, the image ``importing`` and locked by that
task, and partial data in staging, for good: Glance refuses a new import
while the image is not ``queued``. A live import writes to its task every
``heartbeat_interval`` seconds, whatever it is doing (see the heartbeat
in plugin.get_flow), so a task left unwritten for ``stale_after`` seconds,
many heartbeats, belongs to a process that is gone.

Only decisions live here, on plain values read by boundary.repositories
and boundary.staging; sweep.py carries them out.
"""

import dataclasses
import enum

from glance_download import partfile
from glance_download import progress
from glance_download import protocol

METHOD = protocol.METHOD

# stale_after must be this many heartbeats at least: a few late or lost
# writes (a busy database, a paused worker) must never look like death.
MIN_HEARTBEATS = 5


def stale_bound(heartbeat_interval, stale_after):
    """The stale bound actually used: never under MIN_HEARTBEATS beats."""
    return max(stale_after, MIN_HEARTBEATS * heartbeat_interval)


def settings_problem(heartbeat_interval, stale_after):
    """Why the two options do not go together, or None when they do."""
    if stale_after >= MIN_HEARTBEATS * heartbeat_interval:
        return None
    return (f'stale_after ({stale_after:g} s) is less than {MIN_HEARTBEATS} '
            f'times heartbeat_interval ({heartbeat_interval:g} s): a live '
            'import could be taken for dead; '
            f'{stale_bound(heartbeat_interval, stale_after):g} s is used '
            'instead')


def stopped_message(idle):
    """The failed task's message, for the user who asked for the import."""
    return ('The glance-api running this import stopped during it (it was '
            'restarted or killed, or its node rebooted): the task made no '
            f'progress for {describe_age(idle)}. The image is queued again; '
            'import it again, and the download resumes from the data already '
            'received.')


def deleted_message(idle):
    """The failed task's message when its image was deleted meanwhile."""
    return ('The glance-api running this import stopped during it (it was '
            'restarted or killed, or its node rebooted): the task made no '
            f'progress for {describe_age(idle)}, and its image was deleted '
            'since.')


def describe_age(seconds):
    seconds = int(seconds)
    if seconds < 120:
        return f'{seconds} s'
    if seconds < 7200:
        return f'{seconds // 60} min'
    return f'{seconds / 3600.0:.1f} h'


@dataclasses.dataclass(frozen=True)
class Observed:
    """One processing import task and its image, as read from Glance.

    ``idle`` is the seconds since the task was last written; ``image_status``
    is None when the image is gone; ``lock`` is the task id in the image's
    ``os_glance_import_task``, None when unlocked; ``locations`` are the
    URLs of the image's recorded locations.
    """

    task_id: str
    task_status: str
    method: str | None
    idle: float
    image_id: str | None
    image_status: str | None
    lock: str | None
    stores: tuple = (None,)
    locations: tuple = ()


class Action(enum.Enum):
    """The steps of a recovery, in the order they are carried out.

    The image is queued first, with a compare-and-set on ``importing``
    and the lock still checked, so that of several glance-api processes
    sweeping at once one only goes on; the staged data is removed while the
    lock still keeps any new import out; the lock goes last, and with it
    the image is free for the next import.
    """

    QUEUE_IMAGE = 'queue the image, its importing stores failed'
    REMOVE_STAGED = 'remove the staged data'
    REMOVE_UNRECORDED = 'remove store data without a location'
    FAIL_TASK = 'fail the task'
    RELEASE_LOCK = 'release the import lock'


@dataclasses.dataclass(frozen=True)
class Verdict:
    """Whether an import is stale, why, and the steps that recover it."""

    stale: bool
    reason: str
    actions: tuple = ()
    message: str | None = None


def decide(observed, stale_after):
    """The verdict on one import; ``stale_after`` is the bound in seconds.

    Acts only on a glance-download task that is still ``processing``, has
    not been written for ``stale_after`` seconds and still holds the lock
    of an image in ``importing``. An image already ``queued`` under that
    lock is a recovery (or a start) cut short by another stop: the steps
    left are finished. A task whose image is deleted is only failed: no
    live import is without its image for that long.
    """
    if observed.method != METHOD:
        return Verdict(False, 'not a glance-download import')
    if observed.task_status != 'processing':
        return Verdict(False, f'task {observed.task_status}')
    if observed.idle < stale_after:
        return Verdict(False,
                       f'alive: written {describe_age(observed.idle)} ago')
    silent = f'no heartbeat for {describe_age(observed.idle)}'
    if observed.image_status is None:
        # Its part file goes as an orphan (orphan_part); the task would
        # stay processing for good.
        return Verdict(True, silent + ', image deleted', (Action.FAIL_TASK,),
                       deleted_message(observed.idle))
    if observed.lock != observed.task_id:
        return Verdict(False, 'image not locked by this task')
    tail = (Action.REMOVE_STAGED, Action.REMOVE_UNRECORDED,
            Action.FAIL_TASK, Action.RELEASE_LOCK)
    message = stopped_message(observed.idle)
    if observed.image_status == 'importing':
        return Verdict(True, silent, (Action.QUEUE_IMAGE,) + tail, message)
    if observed.image_status == 'queued':
        return Verdict(True, silent + ', image already queued', tail,
                       message)
    return Verdict(False, f'image {observed.image_status}')


@dataclasses.dataclass(frozen=True)
class StagedFile:
    """A file in the staging area: its name, size and age in seconds."""

    name: str
    size: int
    age: float

    @property
    def image_id(self):
        return self.name.split('.', 1)[0]

    @property
    def partial(self):
        # <id>.part, its sidecar <id>.part.json, and that one's temporary
        # copy while it is replaced.
        return self.name.partition('.')[2].startswith(partfile.PART_SUFFIX[1:])

    def describe(self):
        return (f'{self.name}: {progress.human_size(self.size)}, '
                f'{describe_age(self.age)} old')


def kept_for_resume(image_id, names):
    """The part file and sidecar of the image, if ``names`` hold both.

    The sidecar says which source the part file's bytes are from and which
    ranges it holds, so the next import of the image can resume from them;
    the engine checks that it is the same source and discards it if not.
    """
    pair = {image_id + partfile.PART_SUFFIX,
            image_id + partfile.SIDECAR_SUFFIX}
    return pair if pair <= set(names) else set()


def staged_residue(image_id, staged):
    """The names, among ``staged``, that a recovered import leaves behind.

    Verified data not yet taken by Glance (``<id>``) goes. The partial
    download stays for a resume when its sidecar is there (see
    kept_for_resume), and goes otherwise.
    """
    names = [f.name for f in staged if f.image_id == image_id]
    kept = kept_for_resume(image_id, names)
    return [f.name for f in staged if f.image_id == image_id and (
        f.name == image_id or (f.partial and f.name not in kept))]


def orphan_part(staged_file, image_status, kept=False):
    """Whether a part file (or its sidecar) has outlived its import.

    Only an import holds a part file, while its image is ``importing``,
    and a recovered import leaves one ``kept`` for a resume while its
    image is ``queued``; an image deleted, gone or in any other status has
    none in progress. Glance's own image delete removes ``<id>``, not ours.
    """
    if not staged_file.partial or image_status == 'importing':
        return False
    return not (kept and image_status == 'queued')
