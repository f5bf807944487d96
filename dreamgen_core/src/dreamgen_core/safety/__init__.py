"""The safety envelope between every command source and the robot, with no ROS dependency.

Detectors find problems in a proposed command, strategies decide what to do about them, and
`SafetyMonitor` composes them; the `safety_monitor` node only moves messages in and out.
"""

from dreamgen_core.safety.context import Context
from dreamgen_core.safety.detectors import (
    Detector,
    NonFiniteDetector,
    PositionLimitDetector,
    SourceWatchdog,
    VelocityLimitDetector,
)
from dreamgen_core.safety.envelope import Envelope, JointBounds
from dreamgen_core.safety.events import SafetyEvent, Violation
from dreamgen_core.safety.monitor import Rule, SafetyMonitor, Verdict, default_rules
from dreamgen_core.safety.strategies import Clamp, Hold, Strategy

__all__ = ["Clamp", "Context", "Detector", "Envelope", "Hold", "JointBounds", "NonFiniteDetector",
           "PositionLimitDetector", "Rule", "SafetyEvent", "SafetyMonitor", "SourceWatchdog", "Strategy",
           "VelocityLimitDetector", "Verdict", "Violation", "default_rules"]
