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

"""Recover imports whose glance-api stopped, and remove orphan part files.

Every glance-api process that has loaded this package runs one sweep every
``recovery_interval`` seconds, in a daemon thread: at its start when its
paste pipeline holds our filter (see filter_factory), else from the first
glance-download import it serves. ``glance-download-status --repair`` runs
the same sweep once. Sweeps in several processes and nodes may run at
once: each step is checked against Glance's database as it is taken
(see recovery.Action), so a step another sweep took first is skipped.
"""

import dataclasses
import logging
import os
import threading

from glance_download.boundary import config
from glance_download.boundary import repositories
from glance_download.boundary import staging
from glance_download.boundary import stores
from glance_download import options
from glance_download import periodic
from glance_download import recovery

LOG = logging.getLogger(__name__)

_started = {}
_start_lock = threading.Lock()


@dataclasses.dataclass
class Recovered:
    """One stale import and the steps this sweep took for it."""

    image_id: str
    task_id: str
    reason: str
    steps: list = dataclasses.field(default_factory=list)
    removed: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Report:
    recovered: list = dataclasses.field(default_factory=list)
    parts_removed: list = dataclasses.field(default_factory=list)


def bound(conf):
    """The stale bound in seconds, never fewer than recovery allows."""
    group = conf[options.GROUP]
    return recovery.stale_bound(group.heartbeat_interval, group.stale_after)


def find_stale(conf, db_api=None):
    """``(observed, verdict)`` of each stale glance-download import.

    None while Glance's own method serves glance-download
    (``implementation = in-tree``): its imports write no heartbeat, so a
    long one would look dead.
    """
    if conf[options.GROUP].implementation == 'in-tree':
        return []
    stale_after = bound(conf)
    found = []
    for task_id, idle in repositories.processing_import_tasks(db_api):
        # A task written recently is alive whatever else it shows: the
        # decision says so too, this only spares reading it in full.
        if idle < stale_after:
            continue
        observed = repositories.observe_import(task_id, db_api)
        if observed is None:
            continue
        verdict = recovery.decide(observed, stale_after)
        if verdict.stale:
            found.append((observed, verdict))
    return found


def recover(observed, verdict, db_api=None):
    """Take the verdict's steps for one import; what was done."""
    done = Recovered(observed.image_id, observed.task_id, verdict.reason)
    image_id, task_id = observed.image_id, observed.task_id
    for action in verdict.actions:
        if action is recovery.Action.QUEUE_IMAGE:
            if not repositories.queue_stranded_image(
                    image_id, task_id, list(observed.stores), db_api):
                # Another sweep got there first, or the lock moved on.
                LOG.info('Image %s was not queued by this sweep: another '
                         'one, or the import itself, changed it first',
                         image_id)
                return done
        elif action is recovery.Action.REMOVE_STAGED:
            names = recovery.staged_residue(image_id,
                                            staging.staged_files(image_id))
            done.removed = staging.remove_staged(image_id, names, task_id,
                                                 db_api)
            if not done.removed:
                continue
        elif action is recovery.Action.REMOVE_UNRECORDED:
            removed = stores.remove_unrecorded(image_id, observed.stores,
                                               observed.locations)
            if not removed:
                continue
            done.removed.extend(removed)
        elif action is recovery.Action.FAIL_TASK:
            if not repositories.fail_stranded_task(
                    task_id, verdict.message, db_api):
                continue
        elif action is recovery.Action.RELEASE_LOCK:
            if not repositories.release_import_lock(image_id, task_id,
                                                    db_api):
                continue
        done.steps.append(action.value)
    if done.steps:
        LOG.warning('Recovered the import of image %s (task %s), stale: '
                    '%s. Done: %s; removed: %s', image_id,
                    task_id, verdict.reason, ', '.join(done.steps),
                    ', '.join(done.removed) or 'nothing')
    return done


def orphan_parts(db_api=None):
    """``(staged file, image status)`` of each orphan part file."""
    found = []
    staged_files = staging.staged_files()
    names = [staged.name for staged in staged_files]
    for staged in staged_files:
        if not staged.partial:
            continue
        status = repositories.image_status(staged.image_id, db_api)
        kept = staged.name in recovery.kept_for_resume(staged.image_id,
                                                       names)
        if recovery.orphan_part(staged, status, kept):
            found.append((staged, status))
    return found


def sweep_once(conf, db_api=None):
    """Recover every stale import, then remove orphan part files."""
    report = Report()
    for observed, verdict in find_stale(conf, db_api):
        report.recovered.append(recover(observed, verdict, db_api))
    for staged, status in orphan_parts(db_api):
        if staging.remove_staged(staged.image_id, [staged.name]):
            LOG.info('Removed %s from staging: image %s', staged.describe(),
                     status or 'deleted')
            report.parts_removed.append(staged)
    return report


class Sweeper(periodic.Periodic):
    """Runs sweep_once every ``recovery_interval`` seconds until stopped."""

    def __init__(self, conf):
        self.conf = conf
        super().__init__(self._sweep, conf[options.GROUP].recovery_interval,
                         'The sweep for stopped imports',
                         name='glance-download-sweep')

    def start(self):
        problem = recovery.settings_problem(
            self.conf[options.GROUP].heartbeat_interval,
            self.conf[options.GROUP].stale_after)
        if problem:
            LOG.warning('[%s] %s.', options.GROUP, problem)
        return super().start()

    def _sweep(self):
        sweep_once(self.conf)
        return True


def ensure_started(conf):
    """Start this process's sweeper unless it runs; the sweeper.

    Keyed by process id: a thread started before uWSGI forks its workers
    does not run in them, so each worker starts its own.
    """
    pid = os.getpid()
    with _start_lock:
        sweeper = _started.get(pid)
        if sweeper is None:
            options.register_opts(conf)
            sweeper = _started[pid] = Sweeper(conf).start()
        return sweeper


def filter_factory(global_conf, **local_conf):
    """Paste filter that starts the sweeper when glance-api loads its app.

    It changes no request: listed in glance-api's pipeline, it only makes
    the recovery run from the start of each glance-api process instead of
    from its first glance-download import.
    """
    ensure_started(config.CONF)

    def passthrough(app):
        return app
    return passthrough
