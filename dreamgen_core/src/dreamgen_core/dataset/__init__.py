"""Datasets in GR00T's flavour of LeRobot v2.0: write (atomically, idempotently), read, validate, export clips.

Works from in-memory episodes; the rosbag converter builds `EpisodeData` and hands it here.
"""

from dreamgen_core.dataset.clips import ClipConfig, ClipReport, export_clips, resample_indices
from dreamgen_core.dataset.episode import EpisodeData
from dreamgen_core.dataset.layout import DatasetError
from dreamgen_core.dataset.reader import DatasetReader, EpisodeArrays, EpisodeInfo
from dreamgen_core.dataset.validate import validate
from dreamgen_core.dataset.writer import AddResult, DatasetWriter

__all__ = ["AddResult", "ClipConfig", "ClipReport", "DatasetError", "DatasetReader", "DatasetWriter", "EpisodeArrays",
           "EpisodeData", "EpisodeInfo", "export_clips", "resample_indices", "validate"]
