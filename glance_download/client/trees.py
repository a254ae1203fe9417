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

"""The relay tree of each source image while a run goes on.

relay decides, from the regions' states, which target pulls from where;
a Tree keeps one source's state as its pulls start and end: which start
now, which pull is slow, what a pull's end makes (a new relay, or a pull
again from elsewhere). --dry-run shows the tree of planned_origins.
"""

import collections
import dataclasses

from glance_download.client import plan
from glance_download.client import relay

# Seconds after the start during which the source serves no one while
# regions are still being checked: one of them may hold a verified copy
# to relay, and checks take a fraction of a second; a region that does
# not answer holds the others back this long, not a read timeout.
CHECKS_GRACE = 1.0


def _ready_regions(steps):
    """{region: copy id} where a step found a verified copy already."""
    return {step.region: step.image_id for step in steps
            if step.action in (plan.SKIP, plan.UPDATE) and step.image_id}


def planned_origins(work, source_region, max_from_source, max_from_relay):
    """{index of work: region it would pull from}, the tree of --dry-run."""
    found = {}
    for indexes, ready in _shapes(work).values():
        origins = relay.tree(source_region, list(indexes), list(ready),
                             max_from_source, max_from_relay)
        found.update({indexes[t]: o for t, o in origins.items()})
    return found


def for_run(work, source_region, clock):
    """{source id: its Tree}, for the sources of work that have one.

    work: (step, source, fields) items, or items with a region and a
    source whose step is decided later (runner.Later), which the tree
    expects: they join it as they arrive (Tree.arrive).
    """
    sources, expected = {}, collections.defaultdict(dict)
    for index, item in enumerate(work):
        if isinstance(item, tuple):
            sources[item[1]['id']] = item[1]
        else:
            sources[item.source['id']] = item.source
            expected[item.source['id']][item.region] = index
    decided = [item if isinstance(item, tuple) else None for item in work]
    return {source_id: Tree(source_region, sources[source_id], targets,
                            ready, clock, expected[source_id])
            for source_id, (targets, ready) in _shapes(
                decided, expected).items()}


def _shapes(work, expected=None):
    """{source id: ({target: index of work}, {region: ready copy id})}.

    Only for a source with at least two regions to serve or be served by,
    those expected included ({source id: {region: index}}); None items of
    work are expected ones.
    """
    expected = expected or {}
    by_source = collections.defaultdict(list)
    for index, item in enumerate(work):
        if item is not None:
            by_source[item[0].source_id].append((index, item[0]))
    found = {}
    for source_id in set(by_source) | set(expected):
        items = by_source.get(source_id, ())
        targets = {step.region: index for index, step in items
                   if step.action in plan.IMPORTS}
        ready = _ready_regions(step for _, step in items)
        coming = expected.get(source_id, {})
        if (targets or coming) and len(targets) + len(ready) + len(
                coming) > 1:
            found[source_id] = (targets, ready)
    return found


class Tree:
    """The relay tree of one source image while the run goes on."""

    def __init__(self, source_region, source, targets, ready, clock,
                 expected=()):
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
        self.expected = dict(expected)
        """{region: index of its work item}, its step not decided yet."""
        self.grace_over = clock() + CHECKS_GRACE if expected else None
        """When the source serves again, though regions are expected."""

    def busy(self, follow):
        """Whether the run must go on for this tree."""
        return bool(self.state.waiting or self.expected
                    or (follow and self.state.pulling))

    def holding(self, now):
        """Whether the source waits for the regions still being checked."""
        return bool(self.expected) and now < self.grace_over

    def arrive(self, step, index):
        """An expected region's step is decided; True if the tree holds it.

        An import waits its turn in the tree, in the order of the regions;
        a verified copy found there serves the others at once; any other
        step is the runner's.
        """
        if self.expected.pop(step.region, None) is None:
            return False
        if step.action in plan.IMPORTS:
            # In its place among those waiting, as the regions were given.
            self.index[step.region] = index
            waiting = list(self.state.waiting)
            place = next((n for n, t in enumerate(waiting)
                          if self.index[t] > index), len(waiting))
            waiting.insert(place, step.region)
            self.state = dataclasses.replace(self.state,
                                             waiting=tuple(waiting))
            return True
        copy = _ready_regions([step])
        if copy:
            self.copies.update(copy)
            self.state = dataclasses.replace(
                self.state, ready=self.state.ready + (step.region,))
        return False

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
        if self.holding(now):
            # Within the grace, the source serves a target only when no
            # region given before it is still being checked.
            first = min(self.expected.values())
            starts = {t: o for t, o in starts.items()
                      if o != self.state.source or self.index[t] < first}
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
        earlier = self.notes.pop(target, '')
        if row.outcome == 'ok' and row.hash_verified:
            row.message = relay.verified_message(origin, self.state.source,
                                                 earlier, row.message)
            self.copies[target] = row.image_id
            self.state = dataclasses.replace(
                self.state, ready=self.state.ready + (target,),
                pulling={t: o for t, o in self.state.pulling.items()
                         if t != target})
            return False
        failed = relay.fallback(self.state, target, origin)
        note = ' '.join(filter(None, (
            earlier, relay.failed_note(origin, row.message))))
        row.message = ' '.join(filter(None, (earlier, row.message)))
        if (row.outcome == 'failed' and row.image_id and row.owned
                and not row.replaced and relay.may_retry(failed, target)):
            self.state = failed
            self.notes[target] = note
            return True
        self.state = dataclasses.replace(
            failed, waiting=tuple(t for t in failed.waiting if t != target))
        return False
