"""What the safety monitor reports: violations found by detectors and the events it emits.

Kinds are plain strings owned by the detector or monitor that raises them, so a new detector adds
its kind without editing a central list; diagnostics count events by kind.
"""

from __future__ import annotations

from dataclasses import dataclass

POSITION_LIMIT = "position_limit"
VELOCITY_LIMIT = "velocity_limit"
NON_FINITE = "non_finite"
UNKNOWN_JOINT = "unknown_joint"
MALFORMED = "malformed"
SOURCE_SILENT = "source_silent"
NO_MEASUREMENT = "no_measurement"
STALE_JOINT_STATES = "stale_joint_states"
STEP_DELTA = "step_delta"
ACCELERATION_LIMIT = "acceleration_limit"
OUT_OF_DISTRIBUTION = "out_of_distribution"
ESTOP = "estop"
ESTOP_RESET = "estop_reset"
NOT_SELECTED = "source_not_selected"
SOURCE_SWITCHED = "source_switched"
NOT_ENABLED = "not_enabled"
ENABLED = "enabled"
STALE_CAMERA = "stale_camera"
STALE_CHUNK = "stale_chunk"
FOREIGN_PUBLISHER = "foreign_publisher"


@dataclass(frozen=True)
class Violation:
    """A detector's finding. `joint` None means the whole command; `bound` is the nearest
    acceptable value for the joint, when there is one (what a clamp uses)."""

    kind: str
    joint: str | None
    value: float
    bound: float | None = None


@dataclass(frozen=True)
class SafetyEvent:
    """One thing the monitor did or refused, for logs and diagnostics."""

    kind: str
    joint: str | None
    message: str

    @classmethod
    def of(cls, violation: Violation, action: str) -> SafetyEvent:
        where = violation.joint or "command"
        bound = "" if violation.bound is None else f" -> {violation.bound:.4f}"
        return cls(violation.kind, violation.joint, f"{where}: {violation.value:.4f}{bound} ({action})")
