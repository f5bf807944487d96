"""The episode recorder's configuration: where episodes go and what "healthy" means.

It is the `recording:` section of a YAML file (`config/recording.yaml`; the bare mapping is accepted
too). The topics come from the embodiment spec (`recording.topics`); the file's optional `topics:`
overrides one of them by name (rate, QoS, required) or adds one. Everything is checked here once: a
topic's type must be a standard ROS 2 Jazzy type so the bag can carry its definition and any reader
can decode it, and an override keeps the type the spec gives its topic.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from dreamgen_core.bag.schema import known_type
from dreamgen_core.config import ConfigError, build, read_yaml
from dreamgen_core.embodiment import Embodiment
from dreamgen_core.recording.topics import CameraTransport, TopicConfig, recorded_topics, spec_topics


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
    camera_transport: CameraTransport = "raw"  # compressed: each camera's CompressedImage topic instead
    # What is recorded. Parsed from a file: the spec's topics with the file's `topics:` applied.
    topics: tuple[TopicConfig, ...] = field(default_factory=tuple)

    @property
    def output_path(self) -> Path:
        return Path(self.output_dir).expanduser()


def parse_recording_config(data: object, source: str, spec: Embodiment) -> RecordingConfig:
    """Build and check a RecordingConfig from parsed YAML (`{recording: ...}` or bare) for `spec`'s robot."""
    key = ""
    if isinstance(data, dict) and "recording" in data:
        data, key = data["recording"], "recording"
    cfg = build(RecordingConfig, data, source, key)
    _check(cfg, source, key, spec)
    return replace(cfg, topics=recorded_topics(spec, cfg.topics, cfg.camera_transport))


def load_recording_config(path: Path, spec: Embodiment) -> RecordingConfig:
    return parse_recording_config(read_yaml(path), path.name, spec)


def _check(cfg: RecordingConfig, source: str, key: str, spec: Embodiment) -> None:
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
    spec_types = {t.topic: t.type for t in spec_topics(spec, cfg.camera_transport)}
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
        if spec_types.get(t.topic, t.type) != t.type:
            raise ConfigError(source, f"{where}.type", t.type,
                              f"embodiment {spec.name!r} publishes {t.topic} as {spec_types[t.topic]}")
        if t.rate_hz < 0:
            raise ConfigError(source, f"{where}.rate_hz", t.rate_hz, "must be >= 0")
