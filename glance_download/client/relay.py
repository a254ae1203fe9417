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

"""Which region each copy pulls from: a tree instead of a star.

A star makes every target pull the whole image from the source region,
whose link then carries it once per target. A tree lets a region that
holds an active, verified copy serve the regions still waiting: the
source sends the image a few times (--max-from-source), and every relay
doubles the regions that can serve. Pure functions of the regions'
states, so that a test can check the tree for any regions and failures.

A relay that failed a target, or whose pull is slow, is not waited for:
the target pulls from another relay or from the source.
"""

import dataclasses

STAR = 'star'
TREE = 'tree'
TOPOLOGIES = (TREE, STAR)

# Defaults of --max-from-source and --max-from-relay.
MAX_FROM_SOURCE = 1
MAX_FROM_RELAY = 2
# Pulls tried per target, the source's included: a relay that fails sends
# its targets elsewhere, never round and round.
MAX_ATTEMPTS = 3
# A relay that failed this many targets serves no other.
MAX_FAILED = 2
# Default of --relay-patience: seconds after which a pull in flight is
# slow, and the regions waiting for it pull from elsewhere.
PATIENCE = 600.0


@dataclasses.dataclass(frozen=True)
class State:
    """Where the targets of one source image are, at one moment."""

    source: str
    """The source region: always able to serve, within its bound."""
    waiting: tuple = ()
    """Targets with no import in flight, in the order they are served."""
    pulling: dict = dataclasses.field(default_factory=dict)
    """{target: the region it pulls from}, imports in flight."""
    ready: tuple = ()
    """Regions holding a verified copy, in the order they got it."""
    refused: dict = dataclasses.field(default_factory=dict)
    """{target: regions whose pull into it failed}."""
    slow: frozenset = frozenset()
    """Targets whose pull takes longer than the patience allows."""


def next_pulls(state, max_from_source=MAX_FROM_SOURCE,
               max_from_relay=MAX_FROM_RELAY):
    """({target: region to pull from now}, [targets nothing can serve]).

    A waiting target pulls from the ready relay with the fewest pulls
    (the oldest first), and waits for room on one when all are busy: the
    source serves only while no relay can, within max_from_source, and
    always serves a target's last attempt (MAX_ATTEMPTS). Otherwise a
    target waits for a pull in flight to make a relay, or for room. A slow
    pull holds no room, and its origin, unless it is the source, serves
    no one new while it is slow. A target that every possible origin
    failed, with no pull in flight that could make a new relay, is given
    up. A relay that failed MAX_FAILED targets serves no other.
    """
    load = {}
    for target, origin in state.pulling.items():
        if target not in state.slow:
            load[origin] = load.get(origin, 0) + 1
    slow_origins = {state.pulling[t] for t in state.slow
                    if t in state.pulling} - {state.source}
    may_come = any(t not in state.slow for t in state.pulling)
    failures = {}
    for origins in state.refused.values():
        for origin in origins:
            failures[origin] = failures.get(origin, 0) + 1
    dropped = {o for o, n in failures.items() if n >= MAX_FAILED}
    starts, stuck = {}, []
    for target in state.waiting:
        refused = state.refused.get(target, ())
        relays = [r for r in state.ready
                  if r not in refused and r not in slow_origins
                  and r not in dropped and r != target]
        if len(refused) >= MAX_ATTEMPTS - 1 and state.source not in refused:
            # The last attempt goes to the source, whatever relays remain.
            relays = []
        free = [r for r in relays if load.get(r, 0) < max_from_relay]
        if free:
            origin = min(free, key=lambda r: load.get(r, 0))
        elif relays:
            continue
        elif state.source not in refused and (
                load.get(state.source, 0) < max_from_source):
            origin = state.source
        elif may_come or state.source not in refused:
            continue
        else:
            stuck.append(target)
            continue
        starts[target] = origin
        load[origin] = load.get(origin, 0) + 1
    return starts, stuck


def tree(source, targets, ready=(), max_from_source=MAX_FROM_SOURCE,
         max_from_relay=MAX_FROM_RELAY):
    """{target: origin} when every pull succeeds, wave after wave.

    What --dry-run shows. ready: regions that hold a verified copy
    already. The waves of one image: each pull of a wave ends before the
    next wave starts.
    """
    waiting = [t for t in targets if t not in ready]
    ready = list(ready)
    found = {}
    for _ in range(len(waiting) + 1):
        if not waiting:
            break
        starts, _ = next_pulls(State(source, tuple(waiting), {},
                                     tuple(ready)),
                               max_from_source, max_from_relay)
        found.update(starts)
        ready += list(starts)
        waiting = [t for t in waiting if t not in starts]
    return found


def fallback(state, target, origin):
    """The State once the pull of target from origin failed.

    The target waits again, first in line, never to pull from origin
    again.
    """
    refused = dict(state.refused)
    refused[target] = frozenset(refused.get(target, ())) | {origin}
    pulling = {t: o for t, o in state.pulling.items() if t != target}
    return dataclasses.replace(
        state, waiting=(target,) + tuple(
            t for t in state.waiting if t != target),
        pulling=pulling, refused=refused, slow=state.slow - {target})


def may_retry(state, target):
    """Whether target, whose pull just failed, may pull from elsewhere."""
    return len(state.refused.get(target, ())) < MAX_ATTEMPTS


def failed_note(origin, message):
    """What a target's row keeps of a pull from origin that failed."""
    return f'The pull from region {origin} failed ({message}).'


def verified_message(origin, source, earlier, message):
    """The message of a copy verified once pulled from origin.

    earlier: what failed before (failed_note), '' if nothing did. The
    message says where the data came from when that was a relay, or the
    source after a relay failed.
    """
    if origin != source:
        again = 'again ' if earlier else ''
        pulled = (f'Pulled {again}from region {origin}, which holds a '
                  'verified copy.')
    elif earlier:
        pulled = f'Pulled again from the source region {origin}.'
    else:
        pulled = ''
    return ' '.join(filter(None, (earlier, pulled, message)))
