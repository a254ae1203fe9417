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

import concurrent.futures
import dataclasses
import itertools
import random
import threading
import time
import unittest

from glance_download.client import image_fields
from glance_download.client import plan
from glance_download.client import relay
from glance_download.client import runner
from glance_download.client import trees
from glance_download import metadata
from tests.unit import test_client_runner

SRC = 'R1'


def regions(count):
    return tuple(f'T{i}' for i in range(count))


def simulate(targets, broken=(), slow=(), ready=(), max_from_source=1,
             max_from_relay=2, rounds=200):
    """Run the planner to the end: (origins tried, given up, last State).

    Each round, every pull in flight ends: a pull from a broken region
    fails, one into a slow target never ends (it is flagged slow), the
    others succeed and make a relay.
    """
    state = relay.State(SRC, tuple(t for t in targets if t not in ready),
                        {}, tuple(ready))
    tried = {t: [] for t in targets}
    given_up = []
    for _ in range(rounds):
        state = dataclasses.replace(state, slow=frozenset(
            t for t in state.pulling if t in slow))
        starts, stuck = relay.next_pulls(state, max_from_source,
                                         max_from_relay)
        given_up += stuck
        for target, origin in starts.items():
            tried[target].append(origin)
        state = dataclasses.replace(
            state, pulling=dict(state.pulling, **starts),
            waiting=tuple(t for t in state.waiting
                          if t not in starts and t not in stuck))
        for target, origin in sorted(state.pulling.items()):
            if target in slow:
                continue
            if origin in broken:
                state = relay.fallback(state, target, origin)
                if not relay.may_retry(state, target):
                    given_up.append(target)
                    state = dataclasses.replace(state, waiting=tuple(
                        t for t in state.waiting if t != target))
                continue
            state = dataclasses.replace(
                state, ready=state.ready + (target,),
                pulling={t: o for t, o in state.pulling.items()
                         if t != target})
        if not state.waiting and all(t in slow for t in state.pulling):
            break
    return tried, given_up, state


class TreeTest(unittest.TestCase):

    def test_one_pull_from_the_source_then_the_relays_double(self):
        found = relay.tree(SRC, regions(7))
        # Wave 1: T0 from the source; 2: T1, T2 from T0; 3: the rest from
        # the three relays, the least busy (then the oldest) first.
        self.assertEqual({'T0': SRC, 'T1': 'T0', 'T2': 'T0', 'T3': 'T0',
                          'T4': 'T1', 'T5': 'T2', 'T6': 'T0'}, found)

    def test_several_from_the_source_when_asked(self):
        found = relay.tree(SRC, regions(5), max_from_source=2)
        self.assertEqual(['T0', 'T1'],
                         sorted(t for t, o in found.items() if o == SRC))

    def test_a_region_with_a_verified_copy_serves_from_the_start(self):
        found = relay.tree(SRC, ('A', 'B', 'C'), ready=('B',))
        self.assertEqual({'A': 'B', 'C': 'B'}, found)

    def test_any_number_of_regions_is_a_tree_rooted_at_the_source(self):
        for count, (from_source, from_relay) in itertools.product(
                range(1, 25), [(1, 1), (1, 2), (2, 2), (3, 1), (1, 4)]):
            targets = regions(count)
            found = relay.tree(SRC, targets, (), from_source, from_relay)
            self.assertEqual(set(targets), set(found), count)
            origins = list(found.values())
            self.assertEqual(min(from_source, count), origins.count(SRC))
            for target in found:
                # Every chain of origins ends at the source: no cycle.
                chain, seen = target, set()
                while chain != SRC:
                    self.assertNotIn(chain, seen)
                    seen.add(chain)
                    chain = found[chain]

    def test_the_star_is_no_tree(self):
        self.assertEqual(('tree', 'star'), relay.TOPOLOGIES)


class NextPullsTest(unittest.TestCase):

    def test_the_others_wait_for_the_first_pull(self):
        state = relay.State(SRC, ('B', 'C'), {'A': SRC})
        self.assertEqual(({}, []), relay.next_pulls(state))

    def test_the_least_busy_relay_first(self):
        state = relay.State(SRC, ('C', 'D'), {'X': 'A', 'Y': 'A'},
                            ('A', 'B'))
        self.assertEqual(({'C': 'B', 'D': 'B'}, []),
                         relay.next_pulls(state))

    def test_a_slow_pull_frees_the_source(self):
        state = relay.State(SRC, ('B',), {'A': SRC}, slow=frozenset({'A'}))
        self.assertEqual(({'B': SRC}, []), relay.next_pulls(state))

    def test_a_slow_relay_serves_no_one_new(self):
        state = relay.State(SRC, ('C',), {'B': 'A'}, ('A',),
                            slow=frozenset({'B'}))
        self.assertEqual(({'C': SRC}, []), relay.next_pulls(state))

    def test_a_failed_relay_sends_its_target_to_another(self):
        state = relay.State(SRC, (), {'C': 'A'}, ('A', 'B'))
        state = relay.fallback(state, 'C', 'A')
        self.assertEqual(('C',), state.waiting)
        self.assertEqual(({'C': 'B'}, []), relay.next_pulls(state))

    def test_a_relay_that_failed_two_targets_serves_no_other(self):
        state = relay.State(SRC, ('E',), {'C': 'A', 'D': 'A'}, ('A',))
        state = relay.fallback(relay.fallback(state, 'C', 'A'), 'D', 'A')
        starts, _ = relay.next_pulls(state, max_from_source=3)
        self.assertEqual({'C': SRC, 'D': SRC, 'E': SRC}, starts)

    def test_a_target_nothing_can_serve_is_given_up(self):
        state = relay.fallback(relay.State(SRC, (), {'A': SRC}), 'A', SRC)
        self.assertEqual(({}, ['A']), relay.next_pulls(state))

    def test_a_target_the_source_failed_may_still_get_a_relay(self):
        state = relay.fallback(relay.State(SRC, (), {'A': SRC, 'B': SRC}),
                               'A', SRC)
        self.assertEqual(({}, []), relay.next_pulls(state))
        state = dataclasses.replace(state, pulling={}, ready=('B',))
        self.assertEqual(({'A': 'B'}, []), relay.next_pulls(state))

    def test_attempts_are_bounded(self):
        state = relay.State(SRC, (), {'A': 'X'}, ('X', 'Y', 'Z'))
        for origin in ('X', 'Y'):
            state = relay.fallback(state, 'A', origin)
            self.assertTrue(relay.may_retry(state, 'A'))
        state = relay.fallback(state, 'A', 'Z')
        self.assertFalse(relay.may_retry(state, 'A'))


class FailureTest(unittest.TestCase):

    def test_everything_served_when_nothing_fails(self):
        tried, given_up, state = simulate(regions(20))
        self.assertEqual([], given_up)
        self.assertEqual(20, len(state.ready))
        self.assertEqual(1, sum(o == [SRC] for o in tried.values()))

    def test_broken_relays_fall_back_and_everyone_else_is_served(self):
        rng = random.Random(17)
        for _ in range(200):
            targets = regions(rng.randint(1, 20))
            broken = set(rng.sample(targets, rng.randint(0, len(targets))))
            tried, given_up, state = simulate(
                targets, broken=broken,
                max_from_source=rng.randint(1, 3),
                max_from_relay=rng.randint(1, 3))
            # A broken region is a bad relay, yet gets its own copy.
            self.assertEqual([], given_up, (targets, broken, tried))
            self.assertEqual(set(targets), set(state.ready))
            for origins in tried.values():
                self.assertLessEqual(len(origins), relay.MAX_ATTEMPTS)
                self.assertNotIn(origins[-1], broken)
                self.assertEqual(len(origins), len(set(origins)))

    def test_a_broken_source_gives_up_only_without_any_relay(self):
        tried, given_up, _ = simulate(regions(3), broken={SRC})
        self.assertEqual(['T0', 'T1', 'T2'], given_up)
        self.assertEqual({t: [SRC] for t in regions(3)}, tried)

    def test_a_broken_source_with_a_relay_ready(self):
        tried, given_up, state = simulate(('A', 'B', 'C'), broken={SRC},
                                          ready=('C',))
        self.assertEqual([], given_up)
        self.assertEqual({'A': ['C'], 'B': ['C'], 'C': []}, tried)

    def test_slow_pulls_never_stall_the_others(self):
        rng = random.Random(4)
        for _ in range(200):
            targets = regions(rng.randint(2, 15))
            slow = set(rng.sample(targets, rng.randint(1, len(targets))))
            tried, given_up, state = simulate(targets, slow=slow)
            self.assertEqual([], given_up)
            self.assertEqual(set(targets) - slow, set(state.ready))
            for target in targets:
                self.assertEqual(1, len(tried[target]), (target, tried))


class MessageTest(unittest.TestCase):

    def test_a_first_pull_from_the_source_says_nothing_more(self):
        self.assertEqual('Done.', relay.verified_message('R1', 'R1', '',
                                                         'Done.'))

    def test_a_relayed_pull_names_its_relay(self):
        self.assertEqual(
            'Pulled from region R2, which holds a verified copy. Done.',
            relay.verified_message('R2', 'R1', '', 'Done.'))

    def test_a_fallback_says_what_failed_and_where_it_went(self):
        earlier = relay.failed_note('R2', 'Connection refused')
        self.assertEqual(
            'The pull from region R2 failed (Connection refused). Pulled '
            'again from the source region R1. Done.',
            relay.verified_message('R1', 'R1', earlier, 'Done.'))
        self.assertEqual(
            'The pull from region R2 failed (Connection refused). Pulled '
            'again from region R3, which holds a verified copy. Done.',
            relay.verified_message('R3', 'R1', earlier, 'Done.'))


class Region(test_client_runner.FakeRegion):
    """A region that records where each import pulls from, and ends it.

    An import from a region of fail_from fails; the others succeed at
    once, as the next poll sees.
    """

    def __init__(self, region, fail_from=()):
        super().__init__(region)
        self.pulls = []
        self.fail_from = set(fail_from)

    def start_import(self, image_id, source_id, region, interface):
        request = super().start_import(image_id, source_id, region,
                                       interface)
        self.pulls.append((region, source_id))
        self.finish(image_id, region not in self.fail_from,
                    message=f'Downloaded 5 B from region {region}, sha512 '
                            'verified' if region not in self.fail_from
                    else 'Verification failed')
        return request

    def update(self, image_id, operations):
        self._check('update')
        for op in operations:
            self.images[image_id][op['path'][1:]] = op['value']
        return 'req-update'


class RunnerTreeTest(test_client_runner.NoWaiting, unittest.TestCase):

    def run_tree(self, regions, steps, **kwargs):
        work_runner = runner.Runner(
            regions, 'R1', 'public', clock=test_client_runner.Clock(),
            owner=test_client_runner.OWNER, timeout=100, deadline=100000,
            **kwargs)
        fields = image_fields.target_fields(test_client_runner.SOURCE, 'R1')
        return work_runner.run([(step, test_client_runner.SOURCE, fields)
                                for step in steps])

    def creates(self, *names):
        return [plan.Step(name, plan.CREATE, 'src') for name in names]

    def test_one_pull_from_the_source_the_others_from_the_relay(self):
        regions = {name: Region(name) for name in ('R2', 'R3', 'R4')}
        rows = self.run_tree(regions, self.creates('R2', 'R3', 'R4'),
                             follow=True)
        self.assertEqual(['ok'] * 3, [r.outcome for r in rows])
        first = rows[0].image_id
        self.assertEqual([('R1', 'src')], regions['R2'].pulls)
        self.assertEqual([('R2', first)], regions['R3'].pulls)
        self.assertEqual([('R2', first)], regions['R4'].pulls)
        for name, pulled in (('R2', 'R1'), ('R3', 'R2'), ('R4', 'R2')):
            copy = regions[name].images[rows[0].image_id if name == 'R2'
                                        else next(iter(
                                            regions[name].images))]
            # The provenance names the original, pulled_from the relay.
            self.assertEqual(('R1', 'src', pulled), (
                copy[metadata.SOURCE_REGION_PROPERTY],
                copy[metadata.SOURCE_IMAGE_PROPERTY],
                copy[image_fields.PULLED_FROM_PROPERTY]))

    def later(self, regions, checked):
        """({region: future}, Later items); checked: the steps decided."""
        fields = image_fields.target_fields(test_client_runner.SOURCE, 'R1')
        futures = {}
        for name in regions:
            futures[name] = concurrent.futures.Future()
            step = checked.get(name)
            if step is not None:
                futures[name].set_result(
                    (step, test_client_runner.SOURCE, fields))
        return futures, [
            runner.Later(name, test_client_runner.SOURCE, futures[name])
            for name in regions]

    def test_a_region_still_checked_holds_back_no_other(self):
        # R4's checks end only once R2 and R3 are copied, R3 from R2: had
        # the runner waited for them first, nothing would ever start.
        regions = {name: Region(name) for name in ('R2', 'R3', 'R4')}
        work_runner = runner.Runner(
            regions, 'R1', 'public', clock=test_client_runner.Clock(),
            owner=test_client_runner.OWNER, timeout=100, deadline=100000,
            follow=True)
        futures, work = self.later(regions, {
            'R2': plan.Step('R2', plan.CREATE, 'src'),
            'R3': plan.Step('R3', plan.CREATE, 'src')})
        region3 = regions['R3']
        finish = region3.finish

        def finished(image_id, ok, message=''):
            finish(image_id, ok, message)
            futures['R4'].set_result((plan.Step(
                'R4', plan.FAIL, 'src', reason='R4 never answered'),
                test_client_runner.SOURCE, None))
        region3.finish = finished
        rows = work_runner.run(work)
        self.assertEqual(['ok', 'ok', 'failed'], [r.outcome for r in rows])
        self.assertEqual('R4 never answered', rows[2].message)
        self.assertEqual([('R2', rows[0].image_id)], region3.pulls)
        self.assertEqual([], regions['R4'].calls)

    def test_a_region_decided_later_joins_the_tree(self):
        regions = {name: Region(name) for name in ('R2', 'R3')}
        work_runner = runner.Runner(
            regions, 'R1', 'public', clock=test_client_runner.Clock(),
            owner=test_client_runner.OWNER, timeout=100, deadline=100000,
            follow=True)
        futures, work = self.later(regions, {
            'R2': plan.Step('R2', plan.CREATE, 'src')})
        threading.Timer(0.2, futures['R3'].set_result, [(
            plan.Step('R3', plan.CREATE, 'src'), test_client_runner.SOURCE,
            image_fields.target_fields(test_client_runner.SOURCE,
                                       'R1'))]).start()
        rows = work_runner.run(work)
        self.assertEqual(['ok', 'ok'], [r.outcome for r in rows])
        self.assertEqual([('R2', rows[0].image_id)], regions['R3'].pulls)

    def test_the_source_waits_a_moment_for_regions_still_checked(self):
        # R2's checks find its verified copy a moment after R3's are
        # done: R3 pulls from R2, not from the source.
        regions = {name: Region(name) for name in ('R2', 'R3')}
        regions['R2'].add('old', status='active', os_hash_value='h',
                          os_hash_algo='sha512', size=5)
        work_runner = runner.Runner(
            regions, 'R1', 'public', owner=test_client_runner.OWNER,
            timeout=100, deadline=time.monotonic() + 60, follow=True)
        futures, work = self.later(regions, {
            'R3': plan.Step('R3', plan.CREATE, 'src')})
        threading.Timer(trees.CHECKS_GRACE / 4, futures['R2'].set_result, [(
            plan.Step('R2', plan.SKIP, 'src', 'old'),
            test_client_runner.SOURCE, None)]).start()
        rows = work_runner.run(work)
        self.assertEqual(['ok', 'ok'], [r.outcome for r in rows])
        self.assertEqual([('R2', 'old')], regions['R3'].pulls)

    def test_the_star_pulls_every_copy_from_the_source(self):
        regions = {name: Region(name) for name in ('R2', 'R3', 'R4')}
        self.run_tree(regions, self.creates('R2', 'R3', 'R4'),
                      topology=relay.STAR)
        for region in regions.values():
            self.assertEqual([('R1', 'src')], region.pulls)

    def test_a_verified_copy_found_serves_the_others(self):
        regions = {name: Region(name) for name in ('R2', 'R3')}
        regions['R2'].add('old', status='active', os_hash_value='h',
                          os_hash_algo='sha512', size=5)
        steps = [plan.Step('R2', plan.SKIP, 'src', 'old')] + self.creates(
            'R3')
        rows = self.run_tree(regions, steps)
        self.assertEqual([('R2', 'old')], regions['R3'].pulls)
        self.assertEqual('ok', rows[1].outcome)

    def test_a_failing_relay_falls_back_to_the_source(self):
        regions = {'R2': Region('R2'), 'R3': Region('R3', fail_from={'R2'})}
        rows = self.run_tree(regions, self.creates('R2', 'R3'), follow=True)
        self.assertEqual(['ok', 'ok'], [r.outcome for r in rows])
        self.assertEqual([('R2', rows[0].image_id), ('R1', 'src')],
                         regions['R3'].pulls)
        self.assertTrue(rows[1].hash_verified)
        self.assertIn('The pull from region R2 failed', rows[1].message)
        self.assertIn('Pulled again from the source region R1.',
                      rows[1].message)
        copy = regions['R3'].images[rows[1].image_id]
        self.assertEqual('R1', copy[image_fields.PULLED_FROM_PROPERTY])

    def test_the_progress_of_a_relayed_pull_names_its_relay(self):
        regions = {name: Region(name) for name in ('R2', 'R3')}
        seen = []

        class Shown:
            def update(self, label, status, message, via=''):
                seen.append((label, via))
        rows = self.run_tree(regions, self.creates('R2', 'R3'), follow=True,
                             display=Shown())
        self.assertEqual(('', 'R2'), (rows[0].via, rows[1].via))
        self.assertIn(('R3', 'R2'), seen)
        self.assertNotIn(('R2', 'R1'), seen)

    def test_without_wait_the_relayed_imports_are_started(self):
        regions = {name: Region(name) for name in ('R2', 'R3')}
        rows = self.run_tree(regions, self.creates('R2', 'R3'))
        self.assertEqual(1, len(regions['R3'].pulls))
        self.assertTrue(rows[1].waiting or rows[1].outcome == 'ok')

    def test_dry_run_shows_the_tree(self):
        steps = self.creates('R2', 'R3', 'R4')
        work = [(s, test_client_runner.SOURCE, None) for s in steps]
        self.assertEqual({0: 'R1', 1: 'R2', 2: 'R2'},
                         trees.planned_origins(work, 'R1', 1, 2))
