"""Is the collect graph ready to record? Per recorded topic: its publishers, the QoS they offer and
the recorder asks, and what a few seconds of traffic say (the episode QA's rules, without a bag).

The recorder computes this in its check mode (`check_s`), so the verdict is about exactly what it
would subscribe to and record; `dreamgen doctor` prints it beside the host checks. A required
topic that fails fails the check; an optional one (camera_info, diagnostics) only warns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from dreamgen_core.recording.config import RecordingConfig
from dreamgen_core.recording.qa import QaReport
from dreamgen_core.recording.qos import Offer, Requested, mismatch

CHECK_PREFIX = "graph check: "  # marks the check mode's findings among the recorder's log lines


class Level(str, Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Finding:
    level: Level
    text: str

    def __str__(self) -> str:
        return f"{self.level:<4} {self.text}"

    @classmethod
    def parse(cls, line: str) -> Finding:
        """The inverse of str()."""
        return cls(Level(line[:4].strip()), line[5:])


def check_graph(cfg: RecordingConfig, offers: Sequence[tuple[Offer, ...] | None],
                asked: Sequence[Requested | None], qa: QaReport) -> list[Finding]:
    """One finding per recorded topic from the graph (`offers`, `asked`, by topic index) and `qa`
    of the traffic received meanwhile."""
    findings = []
    for t, topic_offers, topic_asked in zip(cfg.topics, offers, asked):
        bad = Level.FAIL if t.required else Level.WARN
        publishers = topic_offers or ()
        problems = [r.removeprefix(f"{t.topic}: ") for r in qa.reasons if r.startswith(f"{t.topic}: ")]
        mismatches = [m for o in publishers if topic_asked is not None and (m := mismatch(o, topic_asked))]
        summary = qa.topics.get(t.topic, {})
        if not publishers:
            findings.append(Finding(bad, f"{t.topic}: no publisher"))
        elif mismatches or problems:
            findings.append(Finding(bad, f"{t.topic}: " + "; ".join(mismatches + problems)))
        else:
            offered = ", ".join(f"{o.node} {o}" for o in publishers)
            rate = f"{summary.get('rate_hz', 0)} Hz" + (f" (expected {t.rate_hz:g})" if t.rate_hz else "")
            findings.append(Finding(Level.OK, f"{t.topic}: {rate}, offered by {offered}, subscribed {topic_asked}"))
    return findings
