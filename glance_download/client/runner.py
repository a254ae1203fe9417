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
flight end. With --topology tree, the imports of one source start as its
relay tree lets them (trees). Each step is done by actions, and ends as a
Row (report): what was done, where, and how it went. The imports in flight
are polled (polling) where that matters to the schedule: replacements, and
the regions with imports still queued or pulls of a tree still busy. A
region's step may come later (Later): the other regions' steps do not wait
for its checks.
"""

import collections
import concurrent.futures
import dataclasses
import threading
import time

from glance_download.client import actions
from glance_download.client import plan
from glance_download.client import polling
from glance_download.client import relay
from glance_download.client import report
from glance_download.client import trees


class Runner:
    """Does the steps with the regions' image services."""

    def __init__(self, regions, source_region, interface, max_parallel=4,
                 max_per_region=2, clock=time.monotonic, owner=None,
                 max_imports=4, deadline=None, timeout=None,
                 topology=relay.TREE, max_from_source=relay.MAX_FROM_SOURCE,
                 max_from_relay=relay.MAX_FROM_RELAY,
                 patience=relay.PATIENCE, follow=False, display=None):
        self.source_region = source_region
        self.actions = actions.Actions(regions, source_region, interface,
                                       clock, owner)
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

    def run(self, work):
        """Rows of work, a list of (step, source, fields) or Later items.

        Returns once every step was done and every import started, and
        every replacement completed (its new copy verified and the earlier
        ones deleted, or failed and the earlier ones kept). A Later item
        is done once its region's checks decided its step, whatever the
        other regions' checks take.
        """
        work = list(work)
        rows = [None] * len(work)
        late = {index: item for index, item in enumerate(work)
                if isinstance(item, Later)}
        sources = {source_of(item)['id']: source_of(item) for item in work}
        self.trees = {}
        if self.topology == relay.TREE:
            self.trees = trees.for_run(work, self.source_region, self.clock)
        held = {index for tree in self.trees.values()
                for index in tree.index.values()}
        queued = collections.defaultdict(collections.deque)
        for index, item in enumerate(work):
            if (index not in late and item[0].action in plan.IMPORTS
                    and index not in held):
                queued[item[0].region].append(index)
        flying = collections.defaultdict(list)
        pool = concurrent.futures.ThreadPoolExecutor(
            max(1, min(self.max_parallel, len(work))))
        try:
            self._schedule(pool, work, rows, queued, flying, sources,
                           {item.future: index
                            for index, item in late.items()})
        except KeyboardInterrupt:
            # Steps not begun are dropped; those under way end by
            # themselves, in their own threads.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        return rows

    def _schedule(self, pool, work, rows, queued, flying, sources, late):
        """Submit the steps, imports as their region has room for them.

        late: {future of a Later item: its index}, until it is decided.
        Waits for whichever comes first: a step done, a region's checks
        done, or the next poll due of an import the schedule depends on.
        """
        running = {pool.submit(self._bounded, *item): index
                   for index, item in enumerate(work)
                   if not isinstance(item, Later)
                   and item[0].action not in plan.IMPORTS}
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
            if not (running or late) and self._finished(queued, flying):
                return
            timeout = self.follower.next_due(
                [row for row, _, _ in self._watched(flying, queued)],
                polling.POLL)
            holding = [tree for tree in self.trees.values() if tree.expected]
            if holding:
                now = self.clock()
                timeout = min([timeout] + [tree.grace_over - now
                                           for tree in holding
                                           if tree.holding(now)])
            done = ()
            if running or late:
                done, _ = concurrent.futures.wait(
                    set(running) | set(late), timeout=timeout,
                    return_when=concurrent.futures.FIRST_COMPLETED)
            else:
                time.sleep(timeout)
            # In the order of work: regions decided at once join a tree in
            # the order they were given.
            for future in sorted(done, key=lambda f: late.get(f, running.get(
                    f, -1))):
                if future in late:
                    self._decided(pool, work, running, queued,
                                  late.pop(future), future.result())
                    continue
                index = running.pop(future)
                row = rows[index] = future.result()
                if row.waiting:
                    flying[row.region].append(row)
                else:
                    self._pull_ended(row, work, index, queued)
            self._watch(flying, queued, sources, work)
            if self.deadline is not None and not (running or late) and (
                    not self._finished(queued, flying)) and (
                        self.clock() >= self.deadline):
                self._give_up(work, rows, flying, queued)
                return

    def _finished(self, queued, flying):
        """Nothing queued, to complete, or that a relay tree waits for."""
        return not any(queued.values()) and not any(
            row.replaced for rows in flying.values() for row in rows) and (
                not any(tree.busy(self.follow)
                        for tree in self.trees.values()))

    def _decided(self, pool, work, running, queued, index, item):
        """A region's checks decided the step of a Later item: go on."""
        work[index] = item
        step = item[0]
        tree = self.trees.get(step.source_id)
        if tree is not None and tree.arrive(step, index):
            return
        if step.action in plan.IMPORTS:
            queued[step.region].append(index)
        else:
            running[pool.submit(self._bounded, *item)] = index

    def _watched(self, flying, queued):
        """[(row, relayed, gating)]: the imports polled where it matters.

        That is in a region with imports queued, for replacements, which
        are completed here, and for the pulls of a relay tree still busy
        (relayed); gating: regions wait for the row's copy to serve them.
        """
        found = []
        for region, rows in flying.items():
            for row in rows:
                tree = self.trees.get(row.source_id)
                relayed = (tree is not None and region in tree.index
                           and tree.busy(self.follow))
                if row.waiting and (queued[region] or row.replaced
                                    or relayed):
                    found.append((row, relayed,
                                  relayed and bool(tree.state.waiting)))
        return found

    def _watch(self, flying, queued, sources, work):
        """Poll the watched imports that are due; complete those ended."""
        watched = self._watched(flying, queued)
        counts = polling.in_region(row for row, _, _ in watched)
        for row, relayed, gating in watched:
            if not self.follower.is_due(row):
                continue
            tree = self.trees.get(row.source_id)
            shown = self.display if relayed else None
            if self.follower.poll(row, sources[row.source_id], shown,
                                  gating=gating,
                                  in_region=counts[row.region]):
                flying[row.region].remove(row)
                if tree is not None and row.region in tree.index:
                    self._pull_ended(row, work, tree.index[row.region],
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
                rows[index] = report.Row(
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
                rows[index] = report.Row(
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
            return self.actions.do(step, source, fields)


@dataclasses.dataclass(frozen=True)
class Later:
    """A work item of region whose step its own checks still decide.

    future: resolves to the (step, source, fields) item, and never raises
    for a region that failed its checks (the step is then a FAIL).
    """

    region: str
    source: dict
    future: concurrent.futures.Future


def then(future, decide):
    """A future of decide(future's result), resolved as soon as it is.

    decide runs in the thread that resolves future; its error, or
    future's, is the new future's.
    """
    decided = concurrent.futures.Future()

    def resolve(done):
        try:
            decided.set_result(decide(done.result()))
        except BaseException as exc:  # handed over to the future
            decided.set_exception(exc)
    future.add_done_callback(resolve)
    return decided


def source_of(item):
    """The source image of a work item, decided or not."""
    return item.source if isinstance(item, Later) else item[1]
