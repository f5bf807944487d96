"""Episode recording without ROS: config, topics, QA, metadata, the episode lifecycle and crash recovery."""

from dreamgen_core.recording.config import RecordingConfig, load_recording_config, parse_recording_config
from dreamgen_core.recording.episode import Closed, Recorder, Refused
from dreamgen_core.recording.metadata import EpisodeMeta, Outcome, Verdict
from dreamgen_core.recording.qa import EpisodeQa, QaReport
from dreamgen_core.recording.recover import Recovered, partial_episodes, recover_episode
from dreamgen_core.recording.topics import TopicConfig, recorded_topics

__all__ = ["Closed", "EpisodeMeta", "EpisodeQa", "Outcome", "QaReport", "Recorder", "RecordingConfig", "Recovered",
           "Refused", "TopicConfig", "Verdict", "load_recording_config", "parse_recording_config",
           "partial_episodes", "recorded_topics", "recover_episode"]
