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

"""Carry out the steps of a plan in the target regions.

Steps run side by side, bounded overall and per region; one region's
failure never stops the others. Imports are also bounded per region
(--max-imports-per-region): the others queue, and start as the imports in
flight end. Each step ends as a Row: what was done, where, and how it went.

A run deletes an image only when it created it or started its import
itself and saw that fail: a copy another run made, or is importing into,
is used (attached to), never removed.
"""

import collections
import concurrent.futures
import dataclasses
import threading
import time

from glance_download.client import ids
from glance_download.client import images
from glance_download.client import plan
from glance_download.client import polling
from glance_download.client import relay

COLUMNS = ('Region', 'Source Image', 'Image ID', 'Action', 'Status', 'Size',
           'Hash Verified', 'Seconds', 'Task ID', 'Request ID', 'Message')


@dataclasses.dataclass
class Row:
    """The outcome of one step."""

    region: str
    source_id: str
    image_id: str | None = None
    action: str = ''
    status: str = ''
    size: int | None = None
    hash_verified: bool = False
    seconds: float = 0.0
    task_id: str | None = None
    request_id: str | None = None
    message: str = ''
    outcome: str = 'ok'
    """'ok', 'failed' or 'timeout': what the exit status is made of."""
    started: float = dataclasses.field(default=0.0, repr=False)
    waiting: bool = dataclasses.field(default=False, repr=False)
    owned: bool = dataclasses.field(default=False, repr=False)
    """This run started the import the row waits for."""
    replaced: tuple = dataclasses.field(default=(), repr=False)
    """Copies to delete once this row's new copy is verified."""
    label: str = dataclasses.field(default='', repr=False)
    """How the progress display names it."""
    downloaded: str = dataclasses.field(default='', repr=False)
    """The method's closing task message, when a poll saw it."""
    origin: tuple = dataclasses.field(default=(), repr=False)
    """(region, image id) the import pulls from, in a relay tree."""

    def values(self):
        return (self.region, self.source_id, self.image_id, self.action,
                self.status, self.size, self.hash_verified,
                round(self.seconds, 1), self.task_id, self.request_id,
                self.message)


def planned_row(step, source, origin=None):
    """The row --dry-run prints for a step; origin: where it would pull."""
    row = Row(step.region, step.source_id, step.image_id,
              plan.PLANNED[step.action], 'dry-run', source.get('size'),
              message=step.reason)
    if origin:
        row.message = ' '.join(filter(None, (
            row.message, f'(pulls from region {origin})')))
    if step.action == plan.FAIL:
        row.outcome = 'failed'
    return row


def ready_regions(steps):
    """{region: copy id} where a step found a verified copy already."""
    return {step.region: step.image_id for step in steps
            if step.action in (plan.SKIP, plan.UPDATE) and step.image_id}


def planned_origins(work, source_region, max_from_source, max_from_relay):
    """{index of work: region it would pull from}, the tree of --dry-run."""
    found = {}
    for indexes, ready in _trees(work).values():
        origins = relay.tree(source_region, list(indexes), list(ready),
                             max_from_source, max_from_relay)
        found.update({indexes[t]: o for t, o in origins.items()})
    return found


def _trees(work):
    """{source id: ({target: index of work}, {region: ready copy id})}.

    Only for a source with at least two regions to serve or be served by.
    """
    by_source = collections.defaultdict(list)
    for index, (step, _, _) in enumerate(work):
        by_source[step.source_id].append((index, step))
    trees = {}
    for source_id, items in by_source.items():
        targets = {step.region: index for index, step in items
                   if step.action in plan.IMPORTS}
        ready = ready_regions(step for _, step in items)
        if targets and len(targets) + len(ready) > 1:
            trees[source_id] = (targets, ready)
    return trees


class _Tree:
    """The relay tree of one source image while the run goes on."""

    def __init__(self, source_region, source, targets, ready, clock):
        self.source = source
        self.index = dict(targets)
        """{target region: index of its work item}"""
        self.copies = dict(ready)
        """{region: its verified copy's id}: the relays."""
        self.state = relay.State(source_region, tuple(targets), {},
                                 tuple(ready))
        self.started = {}
        self.notes = {}
        """{target: what failed before the current pull}"""
        self.clock = clock

    def busy(self, follow):
        """Whether the run must go on for this tree."""
        return bool(self.state.waiting or (follow and self.state.pulling))

    def origin(self, region):
        """(region, image id) to pull from: a relay's copy, or the source."""
        return (region, self.copies.get(region, self.source['id']))

    def start(self, patience, max_from_source, max_from_relay):
        """(starts {target: origin}, targets given up) for now."""
        now = self.clock()
        slow = frozenset(t for t in self.state.pulling
                         if now - self.started[t] > patience)
        self.state = dataclasses.replace(self.state, slow=slow)
        starts, stuck = relay.next_pulls(self.state, max_from_source,
                                         max_from_relay)
        pulling = dict(self.state.pulling, **starts)
        self.state = dataclasses.replace(
            self.state, pulling=pulling, waiting=tuple(
                t for t in self.state.waiting
                if t not in starts and t not in stuck))
        for target in starts:
            self.started[target] = now
        return starts, stuck

    def ended(self, row):
        """Record how the pull of row ended; True to pull it again."""
        target = row.region
        origin = self.state.pulling.get(target, self.state.source)
        if target in self.notes:
            row.message = f'{self.notes.pop(target)} {row.message}'
        if row.outcome == 'ok' and row.hash_verified:
            if origin != self.state.source:
                row.message = (f'Pulled from region {origin}, which holds '
                               f'a verified copy. {row.message}')
            self.copies[target] = row.image_id
            self.state = dataclasses.replace(
                self.state, ready=self.state.ready + (target,),
                pulling={t: o for t, o in self.state.pulling.items()
                         if t != target})
            return False
        failed = relay.fallback(self.state, target, origin)
        if (row.outcome == 'failed' and row.image_id and row.owned
                and not row.replaced and relay.may_retry(failed, target)):
            self.state = failed
            self.notes[target] = (
                f'The pull from region {origin} failed ({row.message}); '
                'pulled again from another region.')
            return True
        self.state = dataclasses.replace(
            failed, waiting=tuple(t for t in failed.waiting if t != target))
        return False


class _Gone(Exception):
    """The image a step was to import into no longer exists."""


class Runner:
    """Does the steps with the regions' image services."""

    def __init__(self, regions, source_region, interface, max_parallel=4,
                 max_per_region=2, clock=time.monotonic, owner=None,
                 max_imports=4, deadline=None, timeout=None,
                 topology=relay.TREE, max_from_source=relay.MAX_FROM_SOURCE,
                 max_from_relay=relay.MAX_FROM_RELAY,
                 patience=relay.PATIENCE, follow=False, display=None):
        self.regions = regions
        """{region name: images.RegionImages}"""
        self.source_region = source_region
        self.owner = owner
        """The project the copies are made for."""
        self.interface = interface
        self.max_parallel = max(1, max_parallel)
        self.limits = {name: threading.Semaphore(max(1, max_per_region))
                       for name in regions}
        self.max_imports = max(1, max_imports)
        self.clock = clock
        self.deadline = deadline
        """A clock value: the command's --timeout is over then."""
        self.follower = polling.Follower(regions, clock, timeout)
        self.topology = topology
        self.max_from_source = max(1, max_from_source)
        self.max_from_relay = max(1, max_from_relay)
        self.patience = patience
        """Seconds after which a pull in flight is slow: not waited for."""
        self.follow = follow
        """--wait: follow the relayed pulls to their end, to fall back."""
        self.display = display
        """Where --wait shows the progress, the relayed pulls' too."""
        self.handlers = {
            plan.FAIL: self._fail, plan.SKIP: self._report,
            plan.ORPHAN: self._report, plan.ATTACH: self._attach,
            plan.UPDATE: self._update, plan.DEACTIVATE: self._deactivate,
            plan.DELETE: self._delete, plan.CREATE: self._create,
            plan.REIMPORT: self._reimport, plan.REPLACE: self._replace,
        }

    def run(self, work):
        """Rows of work, a list of (step, source, fields) in that order.

        Returns once every step was done and every import started, and
        every replacement completed (its new copy verified and the earlier
        ones deleted, or failed and the earlier ones kept).
        """
        work = list(work)
        rows = [None] * len(work)
        sources = {item[1]['id']: item[1] for item in work}
        self.trees = {}
        if self.topology == relay.TREE:
            self.trees = {
                source_id: _Tree(self.source_region, sources[source_id],
                                 targets, ready, self.clock)
                for source_id, (targets, ready) in _trees(work).items()}
        held = {index for tree in self.trees.values()
                for index in tree.index.values()}
        queued = collections.defaultdict(collections.deque)
        for index, item in enumerate(work):
            if item[0].action in plan.IMPORTS and index not in held:
                queued[item[0].region].append(index)
        flying = collections.defaultdict(list)
        pool = concurrent.futures.ThreadPoolExecutor(
            max(1, min(self.max_parallel, len(work))))
        try:
            self._schedule(pool, work, rows, queued, flying, sources)
        except KeyboardInterrupt:
            # Steps not begun are dropped; those under way end by
            # themselves, in their own threads.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        return rows

    def _schedule(self, pool, work, rows, queued, flying, sources):
        """Submit the steps, imports as their region has room for them."""
        running = {pool.submit(self._bounded, *item): index
                   for index, item in enumerate(work)
                   if item[0].action not in plan.IMPORTS}
        while True:
            self._relay(work, rows, queued)
            for region, indexes in queued.items():
                starting = sum(1 for i in running.values()
                               if work[i][0].region == region
                               and work[i][0].action in plan.IMPORTS)
                while indexes and (len(flying[region]) + starting
                                   < self.max_imports):
                    index = indexes.popleft()
                    running[pool.submit(self._bounded, *work[index])] = index
                    starting += 1
            done = ()
            if running:
                done, _ = concurrent.futures.wait(
                    running, timeout=polling.POLL,
                    return_when=concurrent.futures.FIRST_COMPLETED)
            else:
                time.sleep(polling.POLL)
            for future in done:
                index = running.pop(future)
                row = rows[index] = future.result()
                if row.waiting:
                    flying[row.region].append(row)
                else:
                    self._pull_ended(row, work, index, queued)
            if not running and not any(queued.values()) and not any(
                    row.replaced for rows_ in flying.values()
                    for row in rows_) and not any(
                        tree.busy(self.follow)
                        for tree in self.trees.values()):
                return
            self._watch(flying, queued, sources, work)
            if self.deadline is not None and (
                    self.clock() >= self.deadline) and not running:
                self._give_up(work, rows, flying, queued)
                return

    def _watch(self, flying, queued, sources, work):
        """Poll the imports in flight where it matters.

        That is in a region with imports queued, for replacements, which
        are completed here, and for the pulls of a relay tree still busy.
        """
        for region, rows in flying.items():
            for row in list(rows):
                tree = self.trees.get(row.source_id)
                relayed = (tree is not None and region in tree.index
                           and tree.busy(self.follow))
                if not (queued[region] or row.replaced or relayed) or (
                        not row.waiting):
                    continue
                shown = self.display if relayed else None
                if self.follower.poll(row, sources[row.source_id], shown):
                    rows.remove(row)
                    if tree is not None and region in tree.index:
                        self._pull_ended(row, work, tree.index[region],
                                         queued)

    def _relay(self, work, rows, queued):
        """Queue the pulls the relay trees can start now."""
        for tree in self.trees.values():
            starts, stuck = tree.start(self.patience, self.max_from_source,
                                       self.max_from_relay)
            for target, origin in starts.items():
                index = tree.index[target]
                step, source, fields = work[index]
                work[index] = (dataclasses.replace(
                    step, origin=tree.origin(origin)), source, fields)
                queued[target].append(index)
            for target in stuck:
                row = rows[tree.index[target]]
                if row is not None:
                    row.message += (' No other region holds a verified copy '
                                    'to pull from.')

    def _pull_ended(self, row, work, index, queued):
        """A pull of a relay tree ended: it may make a relay, or go again."""
        tree = self.trees.get(row.source_id)
        if tree is None or tree.index.get(row.region) != index:
            return
        if tree.ended(row):
            step, source, fields = work[index]
            work[index] = (plan.Step(
                step.region, plan.REIMPORT, step.source_id, row.image_id,
                reason=step.reason), source, fields)

    def _give_up(self, work, rows, flying, queued):
        """At the deadline: say what was never started, and why."""
        for tree in self.trees.values():
            for target in tree.state.waiting:
                index = tree.index[target]
                step, source, _ = work[index]
                rows[index] = Row(
                    step.region, step.source_id, step.image_id,
                    plan.DONE[plan.FAIL], 'unchanged', source.get('size'),
                    outcome='timeout', message=(
                        'Not started: it waited for a region to pull from '
                        '(--max-from-source, --max-from-relay) when the '
                        '--timeout ran out. Run the same command again.'))
            tree.state = dataclasses.replace(tree.state, waiting=())
        for region, indexes in queued.items():
            while indexes:
                index = indexes.popleft()
                step, source, _ = work[index]
                rows[index] = Row(
                    step.region, step.source_id, step.image_id,
                    plan.DONE[plan.FAIL], 'unchanged', source.get('size'),
                    outcome='timeout', message=(
                        f'Not started: {self.max_imports} imports were still '
                        f'running in region {region} when the --timeout ran '
                        'out (--max-imports-per-region). Run the same '
                        'command again.'))
        for region_rows in flying.values():
            for row in region_rows:
                if row.replaced and row.waiting:
                    self.follower.time_out(row)

    def wait(self, rows, sources, display=None):
        """Follow the imports of rows until each ended or the deadline.

        sources: {source id: source image}, to check what each copy holds.
        """
        deadline = self.deadline
        if deadline is None:
            deadline = self.clock() + (self.follower.timeout or 0)
        return self.follower.follow(rows, sources, deadline, display)

    def _bounded(self, step, source, fields):
        with self.limits[step.region]:
            return self.do(step, source, fields)

    def do(self, step, source, fields):
        """One step; never raises for a Glance error, the row says it."""
        row = Row(step.region, step.source_id, step.image_id,
                  plan.DONE[step.action], size=source.get('size'),
                  message=step.reason, started=self.clock(),
                  origin=step.origin)
        glance = self.regions[step.region]
        try:
            self.handlers[step.action](glance, step, source, fields, row)
        except images.GlanceError as e:
            row.outcome = 'failed'
            row.action = plan.DONE[plan.FAIL]
            row.message = str(e)
            row.request_id = e.request_id or row.request_id
        row.seconds = self.clock() - row.started
        return row

    @staticmethod
    def _fail(glance, step, source, fields, row):
        row.outcome = 'failed'
        row.status = 'unchanged'

    @staticmethod
    def _report(glance, step, source, fields, row):
        copy = step.copy or glance.get(step.image_id) or {}
        row.status = copy.get('status', 'deleted')
        row.size = copy.get('size')
        row.hash_verified = plan.holds_source_data(source, copy)

    @staticmethod
    def _attach(glance, step, source, fields, row):
        row.status = 'importing'
        row.waiting = True
        task = glance.newest_task(step.image_id)
        row.task_id = task and task['id']

    @staticmethod
    def _update(glance, step, source, fields, row):
        row.request_id = glance.update(step.image_id, step.changes)
        row.status = 'active'
        row.hash_verified = True

    @staticmethod
    def _deactivate(glance, step, source, fields, row):
        row.request_id = glance.deactivate(step.image_id)
        row.status = 'deactivated'

    @staticmethod
    def _delete(glance, step, source, fields, row):
        row.request_id = glance.delete(step.image_id)
        row.status = 'deleted'

    def _create(self, glance, step, source, fields, row):
        if 'id' in fields:
            candidates = [fields['id']]
        else:
            candidates = ids.copy_ids(self.source_region, source['id'],
                                      self.owner, step.region)
        self._make(glance, step, source, fields, row, candidates)

    def _reimport(self, glance, step, source, fields, row):
        try:
            self._start(glance, step.image_id, source, row, created=False)
        except _Gone:
            # Deleted since it was listed: a new copy, as if none existed.
            row.action = plan.DONE[plan.CREATE]
            self._create(glance, step, source, fields, row)

    def _replace(self, glance, step, source, fields, row):
        row.replaced = step.delete
        if step.copy is not None:
            self._adopt(glance, step.copy, source, row, (
                f"Continues the replacement {step.copy['id']}, made by an "
                'earlier or a concurrent run.'))
        else:
            self._make(glance, step, source, fields, row,
                       ids.successor_ids(step.replaces))
        if row.outcome == 'ok':
            row.action = plan.DONE[plan.REPLACE]
        if not row.waiting:
            polling.complete_replacement(glance, row)

    def _make(self, glance, step, source, fields, row, candidates):
        """Create the copy with the first free id of candidates.

        An id another run took at the same time holds its copy: that copy
        is used. An id held by a deleted image, or one the caller cannot
        see, is passed over.
        """
        for image_id in candidates:
            try:
                image, row.request_id = glance.create(dict(
                    fields, id=image_id, **{
                        plan.PULLED_FROM_PROPERTY: self._origin(
                            source, row)[0]}))
            except images.GlanceError as e:
                if e.status != 409:
                    raise images.GlanceError(
                        create_failure(e, fields, step.region), e.status,
                        e.request_id)
                other = glance.get(image_id)
                if plan.is_copy_of(other, source, self.source_region,
                                   self.owner):
                    self._adopt(glance, other, source, row, (
                        f'Copy {image_id} was made at the same time by '
                        'another run.'))
                    return
                if 'id' in fields:
                    if other is not None:
                        raise images.GlanceError(plan.not_a_copy(
                            other, source, self.source_region, step.region),
                            e.status, e.request_id)
                    raise images.GlanceError(
                        create_failure(e, fields, step.region), e.status,
                        e.request_id)
                continue
            row.image_id = image['id']
            self._start(glance, image['id'], source, row, created=True)
            return
        raise images.GlanceError(
            f'No id is left for a new copy of image {source["id"]} in region '
            f'{step.region}: the {len(candidates)} ids this command derives '
            'for it are held by deleted images or by images you cannot see. '
            'Ask the region\'s operator which images hold them.')

    def _adopt(self, glance, other, source, row, message):
        """Make row tell of other, a copy another run made."""
        row.image_id = other['id']
        row.status = other.get('status')
        row.message = message
        found = plan.rank(other, source)
        if found == plan.Rank.VERIFIED:
            row.action = plan.DONE[plan.SKIP]
            row.size = other.get('size')
            row.hash_verified = True
            return
        row.action = plan.DONE[plan.ATTACH]
        if found == plan.Rank.IMPORTING:
            self._attach(glance, plan.Step(row.region, plan.ATTACH,
                                           row.source_id, other['id']),
                         source, None, row)
            return
        row.message += ' This run started its import.'
        self._start(glance, other['id'], source, row, created=False)

    def _origin(self, source, row):
        """(region, image id) the import of row pulls from."""
        return row.origin or (self.source_region, source['id'])

    def _start(self, glance, image_id, source, row, created):
        """Start the import into image_id, or use the one that runs.

        Glance lets one import at a time into an image: a 409 means another
        run's import got there first, and the row attaches to it. A copy
        this run created whose import is refused otherwise is deleted, so
        that nothing half-made is left.
        """
        origin_region, origin_id = self._origin(source, row)
        try:
            # The origin of a copy this run did not create is recorded once
            # its import ended (polling): a PATCH while another run's import
            # runs would race with Glance's own saves of the image.
            row.request_id = glance.start_import(
                image_id, origin_id, origin_region, self.interface)
        except images.GlanceError as e:
            if e.status not in (404, 409) and not created:
                raise
            current = glance.get(image_id)
            if current is None:
                if created:
                    raise images.GlanceError(
                        f'{e} The copy {image_id} created for it was '
                        'deleted meanwhile.', e.status, e.request_id)
                raise _Gone(image_id)
            if plan.rank(current, source) < plan.Rank.PLACEHOLDER:
                action = row.action
                self._adopt(glance, current, source, row, (
                    f'Another run started the import into {image_id} at '
                    'the same time.'))
                if created:
                    row.action = action
                return
            if created and e.status != 409:
                glance.delete(image_id)
                row.image_id = None
                raise images.GlanceError(
                    f'{e} The copy created for it was deleted.', e.status,
                    e.request_id)
            raise
        row.owned = True
        row.status = 'importing'
        row.waiting = True
        task = glance.newest_task(image_id)
        row.task_id = task and task['id']


def create_failure(error, fields, region):
    """The message for a copy that could not be created."""
    if error.status == 409 and 'id' in fields:
        return (f"Image id {fields['id']} exists in region {region}, or "
                "existed there: Glance never gives a deleted image's id "
                f'again. Copy without --same-id. ({error})')
    if error.status == 403:
        visibility = fields.get('visibility')
        if visibility == 'public':
            return (f'You may not create this copy in region {region}: '
                    'visibility public needs the right to publicize images, '
                    "which Glance's default policy gives to admins only. "
                    'Choose another visibility (private, shared or '
                    'community): --visibility of image copy, '
                    f'--copy-visibility of image sync. ({error})')
        return (f'You may not create this copy in region {region} '
                f'(visibility {visibility}): creating an image there needs '
                f'the member role in your project. ({error})')
    return str(error)
