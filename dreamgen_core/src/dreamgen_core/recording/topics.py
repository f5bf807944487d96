"""Which topics an episode records: the embodiment spec's, with the recording config's overrides.

The spec holds every topic name, type and rate of a robot, so another embodiment records its own
topics with the same recorder config. Recorded: the measured joint states (the dataset's state),
the teleop command (its action), the command the robot obeyed, each camera's image and
camera_info, and /diagnostics. A camera's image is raw `Image` on its `topic` or, with
`camera_transport: compressed`, `CompressedImage` on its `compressed_topic` (image_transport's
compressed plugin, for robots short of bandwidth); the converter takes either. Required (the start
gate waits for them) are the dataset's sources and the robot command; camera_info and diagnostics
are recorded when present. Expected rates are the spec's: joint states at
`rates.joint_states_min_hz`, commands at `rates.control_hz`, a camera's image and info at its
`rate_hz`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from dreamgen_core.bag.schema import COMPRESSED_IMAGE_TYPE, IMAGE_TYPE
from dreamgen_core.embodiment import Embodiment
from dreamgen_core.recording.qos import QosChoice

CAMERA_INFO_TYPE = "sensor_msgs/msg/CameraInfo"
CameraTransport = Literal["raw", "compressed"]


@dataclass(frozen=True)
class TopicConfig:
    topic: str
    type: str
    rate_hz: float = 0.0        # expected rate; 0 = no rate, gap or stale check
    required: bool = False      # the start gate refuses while a required topic is stale
    # `auto`: what the topic's publishers offer (recording/qos.py); `reliable` or `sensor_data`
    # (best effort) fix it, and a publisher that cannot match is named in the start refusal.
    qos: QosChoice = "auto"


def spec_topics(spec: Embodiment, camera_transport: CameraTransport = "raw") -> list[TopicConfig]:
    ros, rates = spec.ros, spec.rates
    topics = [TopicConfig(ros.joint_states.name, ros.joint_states.type, rates.joint_states_min_hz, required=True)]
    for camera in spec.cameras.values():
        image, msgtype = ((camera.topic, IMAGE_TYPE) if camera_transport == "raw"
                          else (camera.compressed_topic, COMPRESSED_IMAGE_TYPE))
        topics += [TopicConfig(image, msgtype, camera.rate_hz, required=True),
                   TopicConfig(camera.info_topic, CAMERA_INFO_TYPE, camera.rate_hz)]
    topics += [TopicConfig(ros.teleop_command.name, ros.teleop_command.type, rates.control_hz, required=True),
               TopicConfig(ros.robot_command.name, ros.robot_command.type, rates.control_hz, required=True),
               TopicConfig(ros.diagnostics.name, ros.diagnostics.type)]
    return topics


def recorded_topics(spec: Embodiment, overrides: Sequence[TopicConfig],
                    camera_transport: CameraTransport = "raw") -> tuple[TopicConfig, ...]:
    """The spec's topics, each replaced by the override of the same name; other overrides appended."""
    by_name = {t.topic: t for t in overrides}
    derived = [by_name.pop(t.topic, t) for t in spec_topics(spec, camera_transport)]
    return (*derived, *by_name.values())
