"""Sim-time pacing against the wall clock: a stall slows sim time down, it never bursts to catch up.

The teleop pause: after a stall the sim used to replay its whole backlog in a burst, sim time
running many times faster than the wall clock; the scripted teleop's 20 Hz timer on sim time fires
at most once per wake-up (rcl timers skip missed periods), so its commands had a sim-time hole as
long as the burst (~300 ms; this model of the old rule gives 0.30 s for a 0.3 s stall), which
convert rejects as a gap. Here the sim's loop and such a timer are played against a wall clock with
a stall in it.
"""

from __future__ import annotations

import itertools

import pytest

from dreamgen_core.sim.pacing import RealTimePacer

TICK_S = 0.002    # the sim node's loop period (wall)
STATE_S = 0.004   # sim time per published joint state
CONTROL_S = 0.05  # the teleop's timer period (sim time)


def run(stall_at: float, stall_s: float, seconds: float = 2.0, max_lag_s: float = CONTROL_S) -> tuple[list, list]:
    """(sim time after each tick, sim times at which the teleop's timer fired)."""
    pacer = RealTimePacer(1.0, max_lag_s, 0.0, 0.0)
    sim, wall, next_call = 0.0, 0.0, CONTROL_S
    sims, fired = [], []
    while wall < seconds:
        wall += TICK_S + (stall_s if abs(wall - stall_at) < TICK_S / 2 else 0.0)
        goal = pacer.goal(wall, sim)
        while sim + STATE_S <= goal + 1e-12:
            sim += STATE_S
        sims.append(sim)
        if sim >= next_call:  # the timer wakes once per tick and skips the periods it missed
            fired.append(sim)
            next_call += CONTROL_S * (1 + int((sim - next_call) // CONTROL_S))
    return sims, fired


def test_sim_time_follows_the_wall_clock_without_a_stall() -> None:
    sims, fired = run(stall_at=-1.0, stall_s=0.0)
    assert sims[-1] == pytest.approx(2.0, abs=STATE_S)
    assert max(b - a for a, b in itertools.pairwise(fired)) == pytest.approx(CONTROL_S, abs=STATE_S)


def test_a_stall_slows_sim_time_and_leaves_no_hole_in_a_sim_time_timer() -> None:
    sims, fired = run(stall_at=0.5, stall_s=0.3)
    assert max(b - a for a, b in itertools.pairwise(sims)) <= CONTROL_S + STATE_S  # one period caught up, at most
    assert sims[-1] == pytest.approx(2.0 - 0.3 + CONTROL_S, abs=0.01)  # the rest of the stall is not made up
    holes = [b - a for a, b in itertools.pairwise(fired)]
    assert max(holes) <= 2 * CONTROL_S + STATE_S, holes  # one missed period, far below convert's 0.25 s


def test_rtf_outside_0_1_is_refused() -> None:
    with pytest.raises(ValueError, match="real_time_factor must be in \\(0, 1\\], got 1.5"):
        RealTimePacer(1.5, 0.02, 0.0, 0.0)
