"""The safety envelope: per-joint command bounds derived once from the embodiment spec.

Detectors read bounds from here instead of from the spec, so the margins and the velocity scale are
applied in one place, and a later deploy envelope (acceleration, dataset statistics) adds fields
here rather than re-deriving limits in every detector.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dreamgen_core.embodiment import Embodiment


@dataclass(frozen=True)
class JointBounds:
    """Allowed command range of one joint (limits minus margins), its speed bound in rad/s, its
    acceleration bound in rad/s^2 and the most one command may move it however late it comes."""

    lower: float
    upper: float
    max_velocity: float
    max_acceleration: float = math.inf
    max_step_delta: float = math.inf

    def clip(self, value: float) -> float:
        return min(max(value, self.lower), self.upper)

    def reach(self, step_s: float) -> float:
        """How far one command may move the joint after `step_s`: velocity and step delta together."""
        return min(self.max_velocity * step_s, self.max_step_delta)


@dataclass(frozen=True)
class Envelope:
    joints: dict[str, JointBounds]
    joint_names: tuple[str, ...]  # the order of every published command
    control_period_s: float

    @classmethod
    def from_spec(cls, spec: Embodiment) -> Envelope:
        joints = {}
        for name in spec.joint_names:
            j, margin = spec.joints[name], spec.margin(name)
            if j.upper - j.lower <= 2 * margin:
                raise ValueError(f"embodiment {spec.name!r}: joint {name!r} range [{j.lower}, {j.upper}] "
                                 f"leaves nothing inside a margin of {margin}")
            joints[name] = JointBounds(j.lower + margin, j.upper - margin, j.velocity * spec.safety.velocity_scale,
                                       spec.safety.max_acceleration, spec.safety.max_step_delta)
        return cls(joints, spec.joint_names, 1.0 / spec.rates.control_hz)

    def clip(self, pose: dict[str, float]) -> dict[str, float]:
        return {name: self.joints[name].clip(value) for name, value in pose.items()}
