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

"""How many streams a download uses: a pure function of its throughput.

With ``parallel_streams = auto`` the coordinator samples the download a
few times a second and asks :func:`decide` for the number of streams to
run.  The decision uses the samples alone, with no clock and no I/O, so
that tests can drive it with synthetic links:

* it starts at ``start`` streams, or at one when the first answer came
  within ``near`` seconds (a source close by, where one stream carries
  much), and measures the throughput once as many streams as it wants
  carry data and no more run.  When an earlier answer of the same source
  (its image record) took longer than ``near``, the ``start`` streams
  open at once, not one round trip after the first (:func:`far`): over
  a long round trip that trip is a good part of a small image's time;
* it doubles the count while doubling raises the throughput by more than
  ``gain``; the first doubling that does not is taken back;
* when that first doubling did not help, it holds, then halves the count
  while halving loses less than ``gain``: a link that one stream fills
  gets one.  Trying fewer costs throughput while it is measured, and
  serves only to open fewer connections: a download that ends within the
  hold never pays for it;
* a refusal (429 or 503) caps the count below the streams open when it
  came, for the rest of the download;
* once settled it holds for ``hold`` seconds, then measures again and
  tries one doubling, so that a link that changed is followed.

It never goes above ``ceiling``; the process-wide stream count bounds the
streams actually opened, and the controller sees those in its samples.
"""

import dataclasses

AUTO = 'auto'

HOLD = 'hold'
MEASURE = 'measure'


@dataclasses.dataclass(frozen=True)
class Settings:
    """The controller's constants; the defaults are the engine's."""

    start: int = 8
    ceiling: int = 16
    gain: float = 0.15
    """Fraction a doubling must add to the throughput to be kept."""
    window: float = 0.2
    """Seconds of data, at least, behind each measurement."""
    longest: float = 4.0
    """Seconds after which a window is judged, however little it moved."""
    settle: float = 1.0
    """Seconds after a change after which a window starts anyway."""
    resolution: int = 1024 * 1024
    """Bytes each stream must move in a window, so chunks average out."""
    hold: float = 10.0
    near: float = 0.05
    """Seconds to the first answer under which the source counts as near:
    one stream there carries far more than over a long round trip, and
    the count starts at one."""


@dataclasses.dataclass(frozen=True)
class Sample:
    """The download at one moment.

    ``written`` bytes so far (it drops when the download restarts from
    zero), ``active`` streams running, ``flowing`` of them receiving data,
    and ``refused``: how many 429 or 503 answers streams got so far.
    """

    at: float
    written: int
    active: int
    flowing: int
    refused: int = 0
    latency: float | None = None
    """Seconds the first request waited for its answer, once known."""


@dataclasses.dataclass(frozen=True)
class State:
    """Where the controller is; ``target`` is the streams it wants."""

    target: int
    ceiling: int
    phase: str = MEASURE
    changed_at: float = 0.0
    window_at: float | None = None
    window_written: int = 0
    reference: tuple | None = None
    """``(streams, bytes/s)`` the next measurement is compared with."""
    growing: bool = True
    grew: bool = False
    """True once a doubling was kept: then no halving is tried."""
    fewer_next: bool = False
    """True when the next measurement, after the hold, tries fewer."""
    written: int = 0
    refused: int = 0
    placed: bool = False
    """True once the first answer's latency was looked at."""


def initial(settings, at, ceiling=None):
    """The state of a download starting at ``at``.

    ``ceiling``, if given, lowers the settings' own (the per-import cap).
    """
    top = max(1, min(settings.ceiling, ceiling or settings.ceiling))
    return State(target=min(settings.start, top), ceiling=top,
                 changed_at=at)


def far(settings, latency):
    """True when the source is far: its first streams open at once.

    ``latency``: seconds an earlier request to the source took, if known.
    A far source costs a round trip to every stream that waits for the
    first answer; a near one is placed by that answer, as before, and
    opens no stream it would not keep.
    """
    return latency is not None and latency >= settings.near


def measures_fewer(state):
    """True while fewer streams than run are being measured.

    Then the streams over the target must leave at once, for the fewer to
    be what is measured; otherwise they may end the range they hold.
    """
    return state.phase == MEASURE and not state.growing


def decide(state, sample, settings):
    """The state after ``sample``; its ``target`` is the streams to run."""
    if sample.refused > state.refused:
        top = max(1, min(state.target - 1, sample.active))
        return _hold(state, sample, top, ceiling=min(state.ceiling, top))
    if sample.written < state.written:
        # Restarted from zero: what was measured no longer counts.
        return dataclasses.replace(state, written=sample.written,
                                   window_at=None)
    state = dataclasses.replace(state, written=sample.written)
    if not state.placed and sample.latency is not None:
        state = dataclasses.replace(state, placed=True)
        if sample.latency < settings.near and state.target > 1:
            return dataclasses.replace(state, target=1, reference=None,
                                       changed_at=sample.at, window_at=None)
    if state.phase == HOLD:
        if sample.at - state.changed_at < settings.hold:
            return state
        # A hold follows the first doubling that did not help, or a step
        # that settled the count: then try fewer, or more.
        fewer = state.fewer_next
        return dataclasses.replace(state, phase=MEASURE, reference=None,
                                   growing=not fewer, grew=not fewer,
                                   fewer_next=False, changed_at=sample.at,
                                   window_at=None)
    if state.window_at is None:
        settled = (sample.flowing >= state.target
                   and sample.active <= state.target)
        if not settled and sample.at - state.changed_at < settings.settle:
            return state
        return dataclasses.replace(state, window_at=sample.at,
                                   window_written=sample.written)
    elapsed = sample.at - state.window_at
    moved = sample.written - state.window_written
    enough = (elapsed >= settings.window
              and moved >= settings.resolution * state.target)
    if not (enough or elapsed >= settings.longest) or elapsed <= 0:
        return state
    return _judge(state, sample, settings, moved / elapsed)


def _judge(state, sample, settings, rate):
    """The next step, from the rate measured at ``state.target``."""
    streams = state.target
    if state.reference is None:
        return _step(state, sample, settings, (streams, rate), state.growing)
    before_streams, before = state.reference
    if streams > before_streams:
        if rate > before * (1 + settings.gain):
            return _step(dataclasses.replace(state, grew=True), sample,
                         settings, (streams, rate), True)
        return _hold(dataclasses.replace(
            state, fewer_next=not state.grew and before_streams > 1),
            sample, before_streams)
    if rate * (1 + settings.gain) >= before:
        return _step(state, sample, settings, (streams, rate), False)
    return _hold(state, sample, before_streams)


def _step(state, sample, settings, reference, up):
    """Try twice (``up``) or half the reference's streams, if there is room.

    Where there is none, hold at the reference.
    """
    streams = reference[0]
    if up:
        following = min(state.ceiling, streams * 2)
    else:
        following = max(1, streams // 2)
    if following == streams:
        return _hold(state, sample, streams)
    return dataclasses.replace(state, target=following, reference=reference,
                               growing=up, changed_at=sample.at,
                               window_at=None)


def _hold(state, sample, streams, ceiling=None):
    return dataclasses.replace(
        state, target=streams, ceiling=ceiling or state.ceiling,
        phase=HOLD, changed_at=sample.at, window_at=None, reference=None,
        refused=max(state.refused, sample.refused))
