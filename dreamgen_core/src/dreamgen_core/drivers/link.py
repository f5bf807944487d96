"""Liveness of a robot link from the arrival times of its state samples (pure: tested with numbers).

The link is UP while samples keep coming; after `stale_after_s` without one it is LOST, and the
transition is reported once so the node logs it once. A link LOST for `reconnect_after_s` is due a
fresh connection (the transport's own reconnect had its chance).
"""

from __future__ import annotations

from dataclasses import dataclass

from dreamgen_core.drivers.driver import Link


@dataclass
class LinkMonitor:
    stale_after_s: float
    reconnect_after_s: float
    last_sample: float | None = None
    lost_since: float | None = None
    state: Link = Link.CONNECTING
    losses: int = 0

    def sample(self, now: float) -> Link | None:
        """A state sample arrived; returns the new state if this changed it."""
        self.last_sample = now
        self.lost_since = None
        return self._set(Link.UP)

    def check(self, now: float) -> Link | None:
        """Re-evaluate at `now`; returns the new state if it changed."""
        if self.state is Link.UP and self.last_sample is not None and now - self.last_sample > self.stale_after_s:
            self.lost_since = now
            self.losses += 1
            return self._set(Link.LOST)
        return None

    def reconnect_due(self, now: float) -> bool:
        return self.lost_since is not None and now - self.lost_since >= self.reconnect_after_s

    def restarted(self, now: float) -> None:
        """A fresh connection was made: give it `reconnect_after_s` before the next one."""
        if self.lost_since is not None:
            self.lost_since = now

    def age(self, now: float) -> float | None:
        return None if self.last_sample is None else now - self.last_sample

    def _set(self, state: Link) -> Link | None:
        changed = state is not self.state
        self.state = state
        return state if changed else None
