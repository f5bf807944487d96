"""How fast simulation time may run against the wall clock: real time, and never a burst to catch up.

Sim time follows the wall clock scaled by a real-time factor, from an anchor. A sim that falls
behind (a slow render, a busy machine) catches up at most `max_lag_s` of it; a longer backlog is
dropped: the anchor moves and sim time simply slows down. Replaying a long backlog was the teleop
pause: nodes on sim time (the scripted teleop's 20 Hz control timer) wake at wall-clock pace and
fire at most once per wake-up, so sim time racing through a few hundred milliseconds left a hole
that long in their output, in sim time, which convert rejects as a gap. A backlog of up to one
control period (`max_lag_s`) costs them at most one period and keeps the sim near real time.
"""

from __future__ import annotations


class RealTimePacer:
    """`goal(wall, sim)`: the sim time to advance to now; at most `max_lag_s` ahead of `sim`."""

    def __init__(self, rtf: float, max_lag_s: float, wall_now: float, sim_now: float) -> None:
        if not 0.0 < rtf <= 1.0:
            raise ValueError(f"real_time_factor must be in (0, 1], got {rtf}")
        self.rtf, self.max_lag_s = rtf, max_lag_s
        self._anchor_wall, self._anchor_sim = wall_now, sim_now

    def goal(self, wall_now: float, sim_now: float) -> float:
        goal = self._anchor_sim + self.rtf * (wall_now - self._anchor_wall)
        if goal - sim_now > self.max_lag_s:  # drop the backlog beyond max_lag_s
            self._anchor_wall, self._anchor_sim = wall_now, sim_now + self.max_lag_s
            return sim_now + self.max_lag_s
        return goal
