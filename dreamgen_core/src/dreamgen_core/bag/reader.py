"""Read episode bags back: the summary for `dreamgen bag info`, and a tolerant scan for recovery.

A closed episode has metadata.yaml and an MCAP summary; reading them costs no message data. An
episode whose recorder was killed has neither: its MCAP ends mid-chunk. The `mcap` stream reader
walks records in file order and decompresses a chunk only once it is complete (with its CRC
checked), so every message of every complete chunk is recovered and nothing of a torn one.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from mcap.exceptions import McapError
from mcap.reader import make_reader
from mcap.records import Channel, Message, Metadata
from mcap.stream_reader import StreamReader

from dreamgen_core.bag.writer import EPISODE_RECORD, RESULT_RECORD

PARTIAL_SUFFIX = ".partial"


class BagError(ValueError):
    """An episode bag cannot be read; the message names the path and what to do."""


def find_mcap(path: Path) -> Path:
    """The MCAP file of a bag directory (or `path` itself if it is one)."""
    if path.is_file():
        return path
    if not path.is_dir():
        raise BagError(f"{path}: no such bag directory or MCAP file")
    files = sorted(path.glob("*.mcap"))
    if len(files) != 1:
        raise BagError(f"{path}: expected one .mcap file in the bag directory, found {len(files)}")
    return files[0]


@dataclass(frozen=True)
class TopicCount:
    name: str
    msgtype: str
    count: int


@dataclass(frozen=True)
class BagInfo:
    path: Path
    topics: list[TopicCount]
    start_ns: int
    end_ns: int
    custom_data: dict[str, str]

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9


def read_info(path: Path) -> BagInfo:
    """Counts, time span and episode metadata of a closed bag, from its summary only."""
    mcap_path = find_mcap(path)
    if not (mcap_path.parent / "metadata.yaml").is_file():
        raise BagError(f"{path}: no metadata.yaml: the episode was never closed; "
                       f"if its recorder died, run `dreamgen bag recover {path}`")
    with open(mcap_path, "rb") as f:
        try:
            reader = make_reader(f)
            summary = reader.get_summary()
        except (McapError, EOFError, ValueError, KeyError, struct.error) as exc:
            raise BagError(f"{mcap_path}: not a readable MCAP file ({type(exc).__name__}: {exc or 'corrupt'}); "
                           f"try `dreamgen bag recover {path}`") from exc
        if summary is None or summary.statistics is None:
            raise BagError(f"{mcap_path}: MCAP has no summary (truncated?); try `dreamgen bag recover {path}`")
        custom = _custom_data(mcap_path.parent / "metadata.yaml")
        stats = summary.statistics
        topics = [TopicCount(ch.topic, summary.schemas[ch.schema_id].name,
                             stats.channel_message_counts.get(ch.id, 0))
                  for ch in summary.channels.values()]
    return BagInfo(path, topics, stats.message_start_time, stats.message_end_time, custom)


def _custom_data(metadata_yaml: Path) -> dict[str, str]:
    try:
        info = yaml.safe_load(metadata_yaml.read_text(encoding="utf-8"))["rosbag2_bagfile_information"]
    except (yaml.YAMLError, TypeError, KeyError) as exc:
        raise BagError(f"{metadata_yaml}: not a rosbag2 metadata.yaml ({exc})") from exc
    return dict(info.get("custom_data") or {})


@dataclass
class Salvage:
    """A tolerant scan of an MCAP file: iterate `messages()`, then read `stopped` for why it ended."""
    mcap_path: Path
    channels: dict[int, Channel] = field(default_factory=dict)
    records: dict[str, dict[str, str]] = field(default_factory=dict)
    stopped: str = ""
    complete_file: bool = False

    def messages(self) -> Iterator[tuple[Channel, Message]]:
        with open(self.mcap_path, "rb") as f:
            try:
                for record in StreamReader(f, validate_crcs=True).records:
                    if isinstance(record, Channel):
                        self.channels[record.id] = record
                    elif isinstance(record, Message):
                        yield self.channels[record.channel_id], record
                    elif isinstance(record, Metadata):
                        self.records[record.name] = dict(record.metadata)
                self.complete_file = True
            except (McapError, EOFError, ValueError, KeyError, OSError, struct.error) as exc:
                self.stopped = f"{type(exc).__name__} {exc}".strip()

    def episode(self) -> dict[str, str]:
        """The start record the recorder writes first (topics, instruction, ...); needed to rebuild."""
        if EPISODE_RECORD not in self.records:
            raise BagError(f"{self.mcap_path}: no '{EPISODE_RECORD}' metadata record before the first "
                           f"message: not an episode written by dreamgen's recorder, or damaged at its start"
                           + (f" ({self.stopped})" if self.stopped else ""))
        return self.records[EPISODE_RECORD]

    def result(self) -> dict[str, str]:
        return self.records.get(RESULT_RECORD, {})

