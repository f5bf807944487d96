"""How fast simulation time may run against the wall clock: never faster than real time, even to catch up.

Sim time follows the wall clock scaled by a real-time factor, from an anchor. When the sim falls
behind by more than `max_lag_s` (a busy machine, a slow render) the backlog is dropped: the anchor
moves to the present and sim time simply slows down. Replaying the backlog would be wrong: nodes on
sim time (the teleop's 20 Hz control timer) run at wall-clock pace, so sim time racing through a
few hundred milliseconds in a burst would leave them silent, in sim time, for the whole burst —
the teleop pause that converted episodes were rejected for as gaps.
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
        if goal - sim_now > self.max_lag_s:
            self._anchor_wall, self._anchor_sim = wall_now, sim_now
            return sim_now
        return goal
