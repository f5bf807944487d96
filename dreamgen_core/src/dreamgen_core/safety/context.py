"""What detectors and strategies may look at besides the proposed command.

One immutable snapshot per step, built by the monitor; adding a field (joint-state age, camera
age, e-stop state, command history for acceleration) is how later detectors get their inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dreamgen_core.safety.envelope import Envelope


@dataclass(frozen=True)
class Context:
    envelope: Envelope
    now_s: float
    measured: Mapping[str, float]  # latest measured position of each joint seen so far
    reference: Mapping[str, float]  # where the robot is commanded now: last sent target, else measured
    step_s: float  # time the proposed command may use to move away from `reference`
    hold_pose: Mapping[str, float]  # what a hold publishes: the pose latched when the hold began
    # Per-step velocity of the last passed command (rad/s); empty after a hold or before the first.
    velocity: Mapping[str, float] = field(default_factory=dict)
