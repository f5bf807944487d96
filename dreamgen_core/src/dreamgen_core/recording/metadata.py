"""What an episode bag says about itself: one dataclass for its keys, enums for its outcome and verdict.

rosbag2's custom_data (metadata.yaml) and MCAP metadata records hold strings only, so structured
fields travel as JSON and enums as their values (`Outcome` and `Verdict` are str enums: YAML and
JSON keep the same strings). The recorder writes the start fields when an episode opens (a killed
recorder's partial bag still says what it was recording) and everything at close; recovery,
`dreamgen bag info` and the converter read it back with `EpisodeMeta.from_custom_data`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import Any

from dreamgen_core.bag.reader import BagError
from dreamgen_core.bag.writer import as_custom_data


class Outcome(str, Enum):
    """How an episode ended. `str(Outcome.SUCCESS)` and f-strings give the value on every Python."""

    SUCCESS = "success"
    FAILURE = "failure"
    INTERRUPTED = "interrupted"   # recorder shut down, or the disk guard stopped it
    RECOVERED = "recovered"       # brought back by `dreamgen bag recover` after the recorder died
    DISCARDED = "discarded"       # the operator threw it away: no bag is left

    def __str__(self) -> str:
        return self.value


class Verdict(str, Enum):
    OK = "ok"
    NEEDS_REVIEW = "needs_review"

    def __str__(self) -> str:
        return self.value


JSON_FIELDS = frozenset({"topics", "qa_config", "qa_reasons", "qa"})
RESULT_FIELDS = ("outcome", "stop_reason", "stop_time", "duration_s", "qa_verdict", "qa_reasons", "qa")


@dataclass(frozen=True)
class EpisodeMeta:
    # known when the episode starts
    instruction: str = ""
    operator: str = ""
    embodiment: str = ""
    embodiment_hash: str = ""
    calibration_dir: str = ""
    calibration_hash: str = ""
    software_version: str = ""
    start_time: str = ""          # ISO 8601, UTC
    start_ns: int = 0             # wall clock, ns
    topics: list[dict] = field(default_factory=list)        # the recorded TopicConfigs
    qa_config: dict[str, Any] = field(default_factory=dict)  # the QA knobs, so recovery re-runs the same QA
    # known when it ends (None / empty while recording)
    outcome: Outcome | None = None
    stop_reason: str = ""
    stop_time: str = ""
    duration_s: float | None = None   # on the node's clock, rounded to ms
    qa_verdict: Verdict | None = None
    qa_reasons: list[str] = field(default_factory=list)
    qa: dict[str, dict] = field(default_factory=dict)       # per-topic QA summary

    def custom_data(self) -> dict[str, str]:
        """Every field as rosbag2 custom_data; the result fields only once there is an outcome."""
        values = self.as_dict()
        if self.outcome is None:
            values = {k: v for k, v in values.items() if k not in RESULT_FIELDS}
        return as_custom_data(values)

    def as_dict(self) -> dict[str, Any]:
        return {k: v.value if isinstance(v, Enum) else v for k, v in asdict(self).items()}

    @classmethod
    def from_custom_data(cls, custom: Mapping[str, str], source: str = "episode metadata") -> EpisodeMeta:
        """Tolerant of missing keys (bags of older recorders) and of extra ones; strict on values."""
        return cls(**{f.name: _decode(f.name, custom[f.name], source) for f in fields(cls) if f.name in custom})


def _decode(name: str, raw: str, source: str) -> Any:
    try:
        if name in JSON_FIELDS:
            return json.loads(raw)
        if name == "start_ns":
            return int(raw)
        if name == "duration_s":
            return float(raw)
        if name == "outcome":
            return Outcome(raw)
        if name == "qa_verdict":
            return Verdict(raw)
    except (ValueError, json.JSONDecodeError) as exc:
        raise BagError(f"{source}: {name}: {raw!r}: {_expected(name)}") from exc
    return raw


def _expected(name: str) -> str:
    if name == "outcome":
        return "not one of " + ", ".join(o.value for o in Outcome)
    if name == "qa_verdict":
        return "not one of " + ", ".join(v.value for v in Verdict)
    return "not valid " + ("JSON" if name in JSON_FIELDS else "a number")
