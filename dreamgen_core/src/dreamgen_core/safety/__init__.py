"""The safety envelope between every command source and the robot, with no ROS dependency.

Detectors find problems in a proposed command, strategies decide what to do about them, and
`SafetyMonitor` composes them; the `safety_monitor` node only moves messages in and out.
"""

from dreamgen_core.safety.context import Context
from dreamgen_core.safety.detectors import (
    AccelerationLimitDetector,
    Detector,
    NonFiniteDetector,
    OutOfDistributionDetector,
    PositionLimitDetector,
    SourceWatchdog,
    StepDeltaDetector,
    VelocityLimitDetector,
)
from dreamgen_core.safety.enable import OperatorEnable
from dreamgen_core.safety.envelope import Envelope, JointBounds
from dreamgen_core.safety.estop import EstopLatch
from dreamgen_core.safety.events import SafetyEvent, Violation
from dreamgen_core.safety.monitor import Outcome, Rule, SafetyMonitor, Verdict, default_rules, ood_rule
from dreamgen_core.safety.publishers import PublisherGuard
from dreamgen_core.safety.sources import POLICY, TELEOP, SourceArbiter
from dreamgen_core.safety.strategies import Clamp, Hold, Strategy, Warn

__all__ = ["POLICY", "TELEOP", "AccelerationLimitDetector", "Clamp", "Context", "Detector", "Envelope",
           "EstopLatch", "Hold", "JointBounds", "NonFiniteDetector", "OperatorEnable", "OutOfDistributionDetector",
           "Outcome", "PositionLimitDetector", "PublisherGuard", "Rule", "SafetyEvent", "SafetyMonitor",
           "SourceArbiter", "SourceWatchdog", "StepDeltaDetector", "Strategy", "VelocityLimitDetector", "Verdict",
           "Violation", "Warn", "default_rules", "ood_rule"]
