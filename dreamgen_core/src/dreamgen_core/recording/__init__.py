"""Episode recording without ROS: config, QA, the episode lifecycle and crash recovery."""

from dreamgen_core.recording.config import RecordingConfig, TopicConfig, load_recording_config, parse_recording_config
from dreamgen_core.recording.episode import OUTCOMES, Closed, Recorder, Refused, load_episode_meta
from dreamgen_core.recording.qa import EpisodeQa, QaReport
from dreamgen_core.recording.recover import Recovered, partial_episodes, recover_episode

__all__ = ["OUTCOMES", "Closed", "EpisodeQa", "QaReport", "Recorder", "RecordingConfig", "Recovered", "Refused",
           "TopicConfig", "load_episode_meta", "load_recording_config", "parse_recording_config",
           "partial_episodes", "recover_episode"]
