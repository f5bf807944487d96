"""Bring-up check of a joint state stream against the embodiment spec.

The first thing to verify on a new robot, driver or simulator: does every joint of the spec
arrive, by the spec's names, fast enough? A renamed joint or a driver that publishes a subset is
otherwise only discovered when a trained policy moves the wrong arm. The ROS node
`joint_state_check` feeds messages in; this object holds no ROS types so it is tested directly.

Joints accumulate across messages: a robot may publish body and hands in separate JointState
messages on the same topic (the real GR1 does), so a joint counts as received once any message
carried it, and the rate that matters is that of the slowest joint, each timed over its own
messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dreamgen_core.embodiment import Embodiment

# Receive-time rates of a Python subscriber jitter by a few percent on a loaded 2-core machine.
RATE_TOLERANCE = 0.9


@dataclass
class JointStateCheck:
    spec: Embodiment
    messages: int = 0
    unknown: set[str] = field(default_factory=set)
    # Per layout slot: latest position (0 until received), updates, and first/last receive times.
    latest: np.ndarray = field(init=False)
    updates: np.ndarray = field(init=False)
    first_s: np.ndarray = field(init=False)
    last_s: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.latest = np.zeros(self.spec.dim)
        self.updates = np.zeros(self.spec.dim, dtype=np.int64)
        self.first_s = np.full(self.spec.dim, np.nan)
        self.last_s = np.full(self.spec.dim, np.nan)

    def observe(self, names: Sequence[str], positions: Sequence[float], receive_s: float) -> None:
        placement = self.spec.place(names, positions)
        filled = placement.filled
        self.unknown.update(placement.unknown)
        self.latest[filled] = placement.vector[filled]
        self.updates[filled] += 1
        self.first_s[filled & (self.updates == 1)] = receive_s
        self.last_s[filled] = receive_s
        self.messages += 1

    @property
    def missing(self) -> list[str]:
        """Joints of the spec that no message has carried, in layout order."""
        return [name for name, n in zip(self.spec.joint_names, self.updates) if n == 0]

    def joint_rates_hz(self) -> np.ndarray:
        """Update rate of each received joint over its own messages (0 with fewer than two)."""
        span = self.last_s - self.first_s
        with np.errstate(divide="ignore", invalid="ignore"):
            rates = np.where((self.updates > 1) & (span > 0), (self.updates - 1) / span, 0.0)
        return rates[self.updates > 0]

    @property
    def rate_hz(self) -> float:
        """The slowest received joint's update rate: how often the whole robot state is refreshed."""
        rates = self.joint_rates_hz()
        return float(rates.min()) if rates.size else 0.0

    def problems(self) -> list[str]:
        found = []
        if self.messages == 0:
            found.append("no joint states received")
        if self.missing:
            found.append(f"joints of the spec never received: {sorted(self.missing)}")
        if self.unknown:
            found.append(f"joints not in the spec: {sorted(self.unknown)}")
        expected = self.spec.rates.joint_states_min_hz
        if self.messages and self.rate_hz < RATE_TOLERANCE * expected:
            found.append(f"rate {self.rate_hz:.1f} Hz (slowest joint) below {RATE_TOLERANCE:.0%} of the expected "
                         f"{expected:g} Hz")
        return found

    def report(self) -> dict:
        return {
            "embodiment": self.spec.name,
            "embodiment_hash": self.spec.content_hash,
            "messages": self.messages,
            "rate_hz": round(self.rate_hz, 2),
            "missing": sorted(self.missing),
            "unknown": sorted(self.unknown),
            "joint_names": list(self.spec.joint_names),
            "last_vector": self.latest.tolist(),
            "problems": self.problems(),
            "ok": not self.problems(),
        }
