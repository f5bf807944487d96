"""Bring-up check of a joint state stream against the embodiment spec.

The first thing to verify on a new robot, driver or simulator: does every joint of the spec
arrive, by the spec's names, fast enough? A renamed joint or a driver that publishes a subset is
otherwise only discovered when a trained policy moves the wrong arm. The ROS node
`joint_state_check` feeds messages in; this object holds no ROS types so it is tested directly.
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
    first_s: float | None = None
    last_s: float | None = None
    missing: set[str] = field(default_factory=set)
    unknown: set[str] = field(default_factory=set)
    last_vector: np.ndarray | None = None

    def observe(self, names: Sequence[str], positions: Sequence[float], receive_s: float) -> None:
        placement = self.spec.place(names, positions)
        self.missing.update(placement.missing)
        self.unknown.update(placement.unknown)
        self.last_vector = placement.vector
        self.messages += 1
        self.first_s = receive_s if self.first_s is None else self.first_s
        self.last_s = receive_s

    @property
    def rate_hz(self) -> float:
        if self.messages < 2 or self.last_s == self.first_s:
            return 0.0
        return (self.messages - 1) / (self.last_s - self.first_s)

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
            found.append(f"rate {self.rate_hz:.1f} Hz below {RATE_TOLERANCE:.0%} of the expected {expected:g} Hz")
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
            "last_vector": [] if self.last_vector is None else self.last_vector.tolist(),
            "problems": self.problems(),
            "ok": not self.problems(),
        }
