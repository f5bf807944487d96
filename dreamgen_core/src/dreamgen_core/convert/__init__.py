"""rosbag2 episodes → GR00T-LeRobot datasets (`dreamgen convert`)."""

from dreamgen_core.convert.episode import ConvertConfig, ConvertError, Skipped, convert_bag
from dreamgen_core.convert.run import BagResult, Status, convert_bags, convert_task, default_workers, expand

__all__ = ["BagResult", "ConvertConfig", "ConvertError", "Skipped", "Status", "convert_bag", "convert_bags", "convert_task",
           "default_workers", "expand"]
