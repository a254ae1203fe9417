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

"""The stream-count controller, driven by synthetic links."""

import random
import unittest

from glance_download import autotune

MIB = 1024 * 1024
TICK = 0.1
SETTINGS = autotune.Settings()


class Link:
    """Bytes/s a link carries for ``n`` streams, and what a source refuses.

    ``per_stream`` bounds each connection, ``aggregate`` all of them;
    ``noise`` draws each stream's share of its bound in every tick;
    a source that serves at most ``serves`` connections refuses the others
    with 429.
    """

    def __init__(self, per_stream=None, aggregate=None, noise=None,
                 serves=None, seed=18):
        self.per_stream = per_stream
        self.aggregate = aggregate
        self.noise = noise
        self.serves = serves
        self.random = random.Random(seed)

    def rate(self, streams):
        total = 0.0
        for _ in range(streams):
            each = self.per_stream or float('inf')
            if self.noise:
                each *= 1 - self.noise * self.random.random()
            total += each
        if self.aggregate:
            total = min(total, self.aggregate * (
                1 - (self.noise or 0) * self.random.random() / 2))
        return total


def drive(link, seconds=30.0, settings=SETTINGS, ceiling=None,
          latency=None):
    """The controller over ``link`` for ``seconds``: its state, its targets.

    Streams open as the controller asks and bring data from the next tick
    on (their set-up); the ones a source refuses leave at once.
    """
    state = autotune.initial(settings, 0.0, ceiling)
    written, flowing, refused, now = 0, 0, 0, 0.0
    targets = [state.target]
    while now < seconds:
        now += TICK
        active = state.target
        if link.serves is not None and active > link.serves:
            refused += active - link.serves
            active = link.serves
        written += int(link.rate(min(flowing, active)) * TICK)
        sample = autotune.Sample(now, written, active, flowing, refused,
                                 latency)
        flowing = active
        state = autotune.decide(state, sample, settings)
        targets.append(state.target)
    return state, targets


def changes(targets):
    return sum(1 for a, b in zip(targets, targets[1:]) if a != b)


class ControllerTest(unittest.TestCase):

    def test_per_connection_limit_reaches_the_link(self):
        # 8 MiB/s a connection, 64 MiB/s the link: eight streams fill it.
        state, targets = drive(Link(per_stream=8 * MIB, aggregate=64 * MIB))
        self.assertEqual(8, state.target)
        self.assertEqual(autotune.HOLD, state.phase)
        self.assertEqual(16, max(targets))
        # Settled within the first second: 8 and 16 tried, back to 8.
        self.assertEqual(8, targets[int(1 / TICK)])
        self.assertEqual([8, 16], sorted(set(targets[:int(10 / TICK)])))
        # Fewer are tried only after the hold, and given up.
        self.assertEqual(4, min(targets))
        self.assertEqual(8, targets[int(15 / TICK)])

    def test_per_connection_limit_without_a_shared_cap_stops_at_ceiling(self):
        state, targets = drive(Link(per_stream=8 * MIB))
        self.assertEqual(SETTINGS.ceiling, state.target)
        self.assertEqual(SETTINGS.ceiling, max(targets))

    def test_per_import_cap(self):
        state, targets = drive(Link(per_stream=8 * MIB), ceiling=6)
        self.assertEqual(6, state.target)
        self.assertEqual(6, max(targets))

    def test_shared_cap_that_one_stream_fills(self):
        state, targets = drive(Link(aggregate=64 * MIB))
        self.assertLessEqual(state.target, 2)
        # One doubling tried, then, after the hold, fewer.
        self.assertEqual(16, max(targets))
        self.assertEqual(8, targets[int(5 / TICK)])
        self.assertLessEqual(targets[int(15 / TICK)], 2)

    def test_lossy_noisy_link_settles(self):
        # Each connection carries 30 to 100 % of 8 MiB/s, tick by tick.
        link = Link(per_stream=8 * MIB, aggregate=64 * MIB, noise=0.7)
        state, targets = drive(link, seconds=60)
        self.assertGreaterEqual(state.target, 8)
        self.assertLessEqual(state.target, 16)
        # Holds between probes: a handful of changes a minute.
        self.assertLessEqual(changes(targets), 16)
        self.assertGreaterEqual(sorted(targets)[len(targets) // 2], 8)

    def test_source_answering_429_gets_fewer_streams(self):
        link = Link(per_stream=8 * MIB, aggregate=64 * MIB, serves=3)
        state, targets = drive(link)
        self.assertLessEqual(state.target, 3)
        self.assertGreaterEqual(state.target, 1)
        first = targets.index(max(targets))
        self.assertLessEqual(max(targets[first + 1:]), 3)

    def test_429_from_the_start(self):
        state, _ = drive(Link(per_stream=8 * MIB, serves=1))
        self.assertEqual(1, state.target)

    def test_far_is_an_earlier_answer_of_near_seconds_or_more(self):
        settings = autotune.Settings(near=0.05)
        self.assertTrue(autotune.far(settings, 0.05))
        self.assertTrue(autotune.far(settings, 0.12))
        self.assertFalse(autotune.far(settings, 0.049))
        self.assertFalse(autotune.far(settings, None))

    def test_near_source_starts_with_one_stream(self):
        # The first answer within 50 ms: one stream may be all it takes.
        state, targets = drive(Link(aggregate=64 * MIB), latency=0.01)
        self.assertEqual(1, state.target)
        self.assertEqual(1, targets[1])
        self.assertLessEqual(max(targets[1:]), 2)

    def test_near_source_bound_per_connection_grows(self):
        state, targets = drive(Link(per_stream=8 * MIB, aggregate=64 * MIB),
                               latency=0.01)
        self.assertEqual(8, state.target)
        self.assertEqual([1, 2, 4, 8, 16], sorted(set(targets[1:])))

    def test_far_source_keeps_the_start(self):
        state, targets = drive(Link(per_stream=8 * MIB, aggregate=64 * MIB),
                               latency=0.12)
        self.assertEqual(8, state.target)
        self.assertEqual(SETTINGS.start, targets[1])

    def test_links_that_change_are_followed(self):
        settings = autotune.Settings(hold=5.0)
        state, _ = drive(Link(aggregate=64 * MIB), settings=settings)
        self.assertLessEqual(state.target, 2)
        # The same state goes on over a link that became per-connection
        # bound: the next probes double it again.
        link = Link(per_stream=4 * MIB, aggregate=64 * MIB)
        written, now = state.written, 30.0
        flowing = state.target
        for _ in range(int(60 / TICK)):
            now += TICK
            written += int(link.rate(flowing) * TICK)
            flowing = state.target
            state = autotune.decide(state, autotune.Sample(
                now, written, state.target, flowing), settings)
        self.assertEqual(16, state.target)

    def test_restart_from_zero_drops_the_window(self):
        state = autotune.initial(SETTINGS, 0.0)
        streams = SETTINGS.start
        state = autotune.decide(state, autotune.Sample(
            0.1, 10 * MIB, streams, streams), SETTINGS)
        self.assertEqual(0.1, state.window_at)
        state = autotune.decide(state, autotune.Sample(0.2, MIB, 1, 1),
                                SETTINGS)
        self.assertIsNone(state.window_at)
        self.assertEqual(MIB, state.written)

    def test_waits_for_the_streams_to_carry_data(self):
        state = autotune.initial(SETTINGS, 0.0)
        streams = SETTINGS.start
        # Not all carry data yet; then more run than wanted.
        for at, active, flowing in [(0.1, streams, 1), (0.2, streams, 3),
                                    (0.3, streams + 2, streams)]:
            state = autotune.decide(
                state, autotune.Sample(at, 0, active, flowing), SETTINGS)
            self.assertIsNone(state.window_at)
        # After settle seconds, a window starts even so.
        state = autotune.decide(state, autotune.Sample(1.0, 0, streams, 1),
                                SETTINGS)
        self.assertEqual(1.0, state.window_at)
