"""The episode recorder's configuration: which topics to record and what "healthy" means for each.

It is the `recording:` section of the collect stack file (a standalone file with that one key, or
the bare mapping, is accepted too). Everything is checked here once: a topic's type must be a
standard ROS 2 Jazzy type so the bag can carry its definition and any reader can decode it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from dreamgen_core.bag.schema import known_type
from dreamgen_core.config import ConfigError, build, read_yaml


@dataclass(frozen=True)
class TopicConfig:
    topic: str
    type: str
    rate_hz: float = 0.0        # expected rate; 0 = no rate, gap or stale check
    required: bool = False      # the start gate refuses while a required topic is stale
    # `reliable` matches reliable publishers only (images, commands: loss must show up as a QA
    # reason, never silently); `sensor_data` (best effort) is for drivers that publish best effort.
    qos: Literal["reliable", "sensor_data"] = "reliable"


@dataclass(frozen=True)
class RecordingConfig:
    output_dir: str = "~/dreamgen/episodes"
    operator: str = ""
    calibration_dir: str = "calibration"
    min_free_disk_mb: int = 1024
    flush_period_s: float = 1.0      # at most this much is lost when the recorder is killed
    stale_after_s: float = 1.0
    rate_tolerance: float = 0.2      # ok when measured >= (1 - tolerance) * expected
    max_gap_factor: float = 5.0      # a gap > factor / expected rate needs review
    max_missing: int = 0             # messages a topic may miss (holes in header stamps) and still be ok
    compression: Literal["none", "lz4", "zstd"] = "none"  # none: raw images at 90 MB/s on 2 cores
    topics: tuple[TopicConfig, ...] = field(default_factory=tuple)

    @property
    def output_path(self) -> Path:
        return Path(self.output_dir).expanduser()


def parse_recording_config(data: object, source: str) -> RecordingConfig:
    """Build and check a RecordingConfig from parsed YAML (a stack file, `{recording: ...}` or bare)."""
    key = ""
    if isinstance(data, dict) and "recording" in data:
        data, key = data["recording"], "recording"
    cfg = build(RecordingConfig, data, source, key)
    _check(cfg, source, key)
    return cfg


def load_recording_config(path: Path) -> RecordingConfig:
    return parse_recording_config(read_yaml(path), path.name)


def _check(cfg: RecordingConfig, source: str, key: str) -> None:
    def at(name: str) -> str:
        return f"{key}.{name}" if key else name

    positive = {"flush_period_s": cfg.flush_period_s, "stale_after_s": cfg.stale_after_s,
                "max_gap_factor": cfg.max_gap_factor}
    for name, value in positive.items():
        if value <= 0:
            raise ConfigError(source, at(name), value, "must be > 0")
    if not 0 <= cfg.rate_tolerance < 1:
        raise ConfigError(source, at("rate_tolerance"), cfg.rate_tolerance, "must be in [0, 1)")
    for name, count in {"min_free_disk_mb": cfg.min_free_disk_mb, "max_missing": cfg.max_missing}.items():
        if count < 0:
            raise ConfigError(source, at(name), count, "must be >= 0")
    if not cfg.topics:
        raise ConfigError(source, at("topics"), [], "at least one topic to record")
    seen: set[str] = set()
    for i, t in enumerate(cfg.topics):
        where = at(f"topics[{i}]")
        if not t.topic.startswith("/"):
            raise ConfigError(source, f"{where}.topic", t.topic, "must be an absolute topic name")
        if t.topic in seen:
            raise ConfigError(source, f"{where}.topic", t.topic, "listed twice")
        seen.add(t.topic)
        if not known_type(t.type):
            raise ConfigError(source, f"{where}.type", t.type,
                              "not a standard ROS 2 Jazzy message type (pkg/msg/Name)")
        if t.rate_hz < 0:
            raise ConfigError(source, f"{where}.rate_hz", t.rate_hz, "must be >= 0")
