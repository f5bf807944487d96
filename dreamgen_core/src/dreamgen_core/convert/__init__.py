"""rosbag2 episodes → GR00T-LeRobot datasets (`dreamgen convert`)."""

from dreamgen_core.convert.episode import ConvertConfig, ConvertError, Skipped, convert_bag
from dreamgen_core.convert.run import BagResult, convert_bags, expand

__all__ = ["BagResult", "ConvertConfig", "ConvertError", "Skipped", "convert_bag", "convert_bags", "expand"]
