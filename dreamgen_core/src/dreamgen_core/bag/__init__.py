"""rosbag2 episode bags (metadata.yaml + one MCAP file) written from raw CDR, read back, salvaged."""

from dreamgen_core.bag.reader import PARTIAL_SUFFIX, BagError, BagInfo, Salvage, find_mcap, read_info
from dreamgen_core.bag.schema import header_stamp_ns, message_definition, starts_with_header
from dreamgen_core.bag.writer import BagWriter, TopicInfo

__all__ = ["PARTIAL_SUFFIX", "BagError", "BagInfo", "BagWriter", "Salvage", "TopicInfo", "find_mcap",
           "header_stamp_ns", "message_definition", "read_info", "starts_with_header"]
