"""Write a rosbag2 episode (metadata.yaml + one MCAP file) from raw CDR bytes, flushable on time.

rosbags' MCAP writer closes a chunk only every 1 MiB and never flushes the file, so a killed
recorder could lose an unbounded span of a slow topic. The `mcap` writer's public `flush()` ends the
chunk in progress and pushes it to the OS: calling it every `flush_period_s` bounds what a SIGKILL
can lose to one period. The file keeps rosbag2's layout and conventions (profile `ros2`, `ros2msg`
schemas with full definitions, `cdr` channels with `offered_qos_profiles`, a `rosbag2` metadata
record, metadata.yaml version 9), so `ros2 bag info/play`, rosbags and mcap all read it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import yaml
from mcap.writer import CompressionType, Writer

from dreamgen_core.atomic import write_text_atomic
from dreamgen_core.bag.schema import message_definition

ROSBAG2_VERSION = 9  # Jazzy
EPISODE_RECORD = "dreamgen_episode"  # MCAP metadata record: what is known when the episode starts
RESULT_RECORD = "dreamgen_result"    # MCAP metadata record: outcome and QA, written at close
COMPRESSION = {"none": CompressionType.NONE, "lz4": CompressionType.LZ4, "zstd": CompressionType.ZSTD}
CHUNK_SIZE = 4 * 2**20  # one 1280x800 rgb8 frame is 3 MiB: a chunk holds about one frame plus state


@dataclass(frozen=True)
class TopicInfo:
    name: str
    msgtype: str
    # rosbag2's form, one mapping per publisher (what `ros2 bag play` replays with); empty: unknown
    offered_qos_profiles: tuple[Mapping[str, object], ...] = ()


@dataclass
class BagStats:
    """What metadata.yaml summarises: per-topic counts and the span of log (receive) times."""
    topics: Sequence[TopicInfo]
    counts: list[int] = field(default_factory=list)
    start_ns: int = 0
    end_ns: int = 0

    def __post_init__(self) -> None:
        self.counts = self.counts or [0] * len(self.topics)

    def add(self, index: int, log_time_ns: int) -> None:
        if not any(self.counts):
            self.start_ns = self.end_ns = log_time_ns
        self.counts[index] += 1
        self.start_ns = min(self.start_ns, log_time_ns)
        self.end_ns = max(self.end_ns, log_time_ns)


def mcap_name(stem: str) -> str:
    return f"{stem}_0.mcap"


class BagWriter:
    """One rosbag2 directory being written; `close()` or `abort()` it exactly once."""

    def __init__(self, directory: Path, stem: str, topics: Sequence[TopicInfo], compression: str = "none",
                 episode: Mapping[str, str] | None = None) -> None:
        directory.mkdir(parents=True, exist_ok=False)
        self.directory = directory
        self.file_name = mcap_name(stem)
        self.stats = BagStats(topics)
        self._file: BinaryIO = open(directory / self.file_name, "xb")  # noqa: SIM115 - closed in close()
        self._mcap = Writer(self._file, chunk_size=CHUNK_SIZE, compression=COMPRESSION[compression])
        self._mcap.start(profile="ros2", library="dreamgen")
        schema_ids: dict[str, int] = {}
        self._channels: list[int] = []
        for topic in topics:
            if topic.msgtype not in schema_ids:
                d = message_definition(topic.msgtype)
                schema_ids[topic.msgtype] = self._mcap.register_schema(d.msgtype, "ros2msg", d.text.encode())
            metadata = {"offered_qos_profiles": qos_yaml(topic.offered_qos_profiles),
                        "topic_type_hash": message_definition(topic.msgtype).rihs01}
            self._channels.append(self._mcap.register_channel(topic.name, "cdr", schema_ids[topic.msgtype], metadata))
        if episode:
            self._mcap.add_metadata(EPISODE_RECORD, dict(episode))
        self._sequence = [0] * len(topics)
        self.flush()

    def write(self, index: int, log_time_ns: int, data: bytes) -> None:
        """Append one raw CDR message of `topics[index]`, logged at its receive time."""
        self._sequence[index] += 1
        self._mcap.add_message(self._channels[index], log_time_ns, data, log_time_ns, self._sequence[index])
        self.stats.add(index, log_time_ns)

    def flush(self) -> None:
        """End the chunk in progress and hand everything to the OS: it survives a SIGKILL from now on."""
        self._mcap.flush()

    def close(self, custom_data: Mapping[str, str]) -> BagStats:
        """Finish the MCAP (summary, indexes), fsync it and write metadata.yaml atomically."""
        info = bagfile_information(self.file_name, self.stats, custom_data)
        self._mcap.add_metadata(RESULT_RECORD, dict(custom_data))
        self._mcap.add_metadata("rosbag2", {"serialized_metadata": yaml.safe_dump(info, sort_keys=False)})
        self._mcap.finish()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        write_text_atomic(self.directory / "metadata.yaml",
                          yaml.safe_dump({"rosbag2_bagfile_information": info}, sort_keys=False))
        return self.stats

    def abort(self) -> None:
        self._file.close()


def bagfile_information(file_name: str, stats: BagStats, custom_data: Mapping[str, str]) -> dict:
    """rosbag2's `rosbag2_bagfile_information` (version 9) for one MCAP file."""
    duration = {"nanoseconds": stats.end_ns - stats.start_ns}
    start = {"nanoseconds_since_epoch": stats.start_ns}
    total = sum(stats.counts)
    return {
        "version": ROSBAG2_VERSION,
        "storage_identifier": "mcap",
        "duration": duration,
        "starting_time": start,
        "message_count": total,
        "topics_with_message_count": [
            {"topic_metadata": {"name": t.name, "type": t.msgtype, "serialization_format": "cdr",
                                "offered_qos_profiles": [dict(q) for q in t.offered_qos_profiles],
                                "type_description_hash": message_definition(t.msgtype).rihs01},
             "message_count": n}
            for t, n in zip(stats.topics, stats.counts)],
        "compression_format": "",
        "compression_mode": "",
        "relative_file_paths": [file_name],
        "files": [{"path": file_name, "starting_time": start, "duration": duration, "message_count": total}],
        "custom_data": {k: str(v) for k, v in custom_data.items()},
        "ros_distro": "jazzy",
    }


def qos_yaml(profiles: Sequence[Mapping[str, object]]) -> str:
    """MCAP channel metadata holds strings: rosbag2 writes the profiles there as a YAML list."""
    return yaml.safe_dump([dict(q) for q in profiles], sort_keys=False).strip() if profiles else ""


def qos_from_yaml(text: str) -> tuple[dict, ...]:
    """The inverse of `qos_yaml`, tolerant: profiles that do not parse are unknown (empty), never an error."""
    try:
        profiles = yaml.safe_load(text) if text else []
    except yaml.YAMLError:
        return ()
    return tuple(p for p in profiles if isinstance(p, dict)) if isinstance(profiles, list) else ()


def as_custom_data(values: Mapping[str, object]) -> dict[str, str]:
    """rosbag2 custom_data holds strings only: structured values travel as JSON."""
    return {k: v if isinstance(v, str) else json.dumps(v, sort_keys=True) for k, v in values.items()}
