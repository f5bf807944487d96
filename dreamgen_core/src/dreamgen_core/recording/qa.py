"""Recording QA: is each topic arriving at its rate, without gaps, with sane header stamps?

Users of other stacks find dropped frames and broken clocks at training time; here every episode
carries a verdict and reasons naming the topic and the numbers. The same monitor runs live (status
at 1 Hz), at stop and on recovery. It reads only the header stamp from the CDR bytes.

Rules (defaults in RecordingConfig):
- rate: count / episode duration >= (1 - rate_tolerance) * rate_hz. Checked once the episode is
  at least 1 s old, for topics with rate_hz > 0.
- gap: the largest interval between consecutive messages, measured on header stamps where the type
  has a header (the publisher's timing, immune to our own scheduling jitter), else on receive
  times, must stay <= max_gap_factor / rate_hz.
- stale: a topic with rate_hz > 0 or required must have delivered within stale_after_s of `now`.
- stamps: a stamp earlier than the previous one is out of order (a clock jump back if by more than
  stale_after_s); a stamp advancing stale_after_s more than receive time did is a forward clock jump.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dreamgen_core.bag.schema import header_stamp_ns, starts_with_header
from dreamgen_core.recording.config import RecordingConfig, TopicConfig

NS = 1_000_000_000
MIN_RATE_WINDOW_NS = NS  # a rate over less than a second says more about start-up than about the topic


@dataclass
class TopicMonitor:
    cfg: TopicConfig
    has_header: bool
    count: int = 0
    last_ns: int | None = None           # QA clock (receive time on the node's clock)
    last_stamp_ns: int | None = None
    max_gap_ns: int = 0
    backwards: int = 0
    max_back_ns: int = 0
    max_forward_ns: int = 0

    def observe(self, now_ns: int, cdr: bytes) -> None:
        stamp = header_stamp_ns(cdr) if self.has_header else None
        if self.last_ns is not None:
            recv_dt = now_ns - self.last_ns
            gap = recv_dt
            if stamp is not None and self.last_stamp_ns is not None:
                stamp_dt = stamp - self.last_stamp_ns
                gap = stamp_dt
                if stamp_dt < 0:
                    self.backwards += 1
                    self.max_back_ns = max(self.max_back_ns, -stamp_dt)
                elif stamp_dt - recv_dt > 0:
                    self.max_forward_ns = max(self.max_forward_ns, stamp_dt - recv_dt)
            self.max_gap_ns = max(self.max_gap_ns, gap)
        self.count += 1
        self.last_ns = now_ns
        if stamp is not None and (self.last_stamp_ns is None or stamp > self.last_stamp_ns):
            self.last_stamp_ns = stamp

    def rate_hz(self, elapsed_ns: int) -> float:
        return self.count * NS / elapsed_ns if elapsed_ns > 0 else 0.0

    def problems(self, cfg: RecordingConfig, elapsed_ns: int, now_ns: int) -> list[str]:
        t, found = self.cfg, []
        watched = t.rate_hz > 0 or t.required
        if self.count == 0:
            return [f"{t.topic}: no messages"] if watched else []
        rate = self.rate_hz(elapsed_ns)
        if t.rate_hz > 0 and elapsed_ns >= MIN_RATE_WINDOW_NS and rate < (1 - cfg.rate_tolerance) * t.rate_hz:
            found.append(f"{t.topic}: {rate:.1f} Hz, expected {t.rate_hz:g} Hz "
                         f"(at least {(1 - cfg.rate_tolerance) * t.rate_hz:.1f})")
        if t.rate_hz > 0 and self.max_gap_ns > cfg.max_gap_factor / t.rate_hz * NS:
            found.append(f"{t.topic}: largest gap {self.max_gap_ns / NS:.3f} s, "
                         f"limit {cfg.max_gap_factor / t.rate_hz:.3f} s")
        stale_ns = cfg.stale_after_s * NS
        if watched and self.last_ns is not None and now_ns - self.last_ns > stale_ns:
            found.append(f"{t.topic}: stale, nothing for {(now_ns - self.last_ns) / NS:.1f} s")
        if self.backwards:
            kind = "clock jumped back" if self.max_back_ns > stale_ns else "out of order"
            found.append(f"{t.topic}: header stamps went backwards {self.backwards} times "
                         f"(largest {self.max_back_ns / NS:.3f} s): {kind}")
        if self.max_forward_ns > stale_ns:
            found.append(f"{t.topic}: header stamps jumped {self.max_forward_ns / NS:.2f} s ahead of "
                         f"receive time: clock jump")
        return found

    def summary(self, elapsed_ns: int) -> dict:
        return {"count": self.count, "rate_hz": round(self.rate_hz(elapsed_ns), 2),
                "expected_hz": self.cfg.rate_hz, "max_gap_s": round(self.max_gap_ns / NS, 4)}


@dataclass(frozen=True)
class QaReport:
    verdict: str                  # "ok" | "needs_review"
    reasons: list[str]
    topics: dict[str, dict]
    elapsed_s: float

    def as_dict(self) -> dict:
        return {"verdict": self.verdict, "reasons": self.reasons, "topics": self.topics,
                "elapsed_s": round(self.elapsed_s, 3)}


@dataclass
class EpisodeQa:
    """QA of one episode: `observe` every message, `report` any time (live or at stop)."""
    cfg: RecordingConfig
    start_ns: int
    monitors: list[TopicMonitor] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.monitors = [TopicMonitor(t, starts_with_header(t.type)) for t in self.cfg.topics]

    def observe(self, index: int, now_ns: int, cdr: bytes) -> None:
        self.monitors[index].observe(now_ns, cdr)

    def report(self, now_ns: int) -> QaReport:
        elapsed = max(0, now_ns - self.start_ns)
        reasons = [p for m in self.monitors for p in m.problems(self.cfg, elapsed, now_ns)]
        return QaReport("needs_review" if reasons else "ok", reasons,
                        {m.cfg.topic: m.summary(elapsed) for m in self.monitors}, elapsed / NS)


def stale_required(cfg: RecordingConfig, last_seen_ns: list[int | None], now_ns: int) -> list[str]:
    """The start gate: a reason per required topic that has not delivered within stale_after_s."""
    found = []
    for t, last in zip(cfg.topics, last_seen_ns):
        if not t.required:
            continue
        if last is None:
            found.append(f"{t.topic}: nothing received yet")
        elif now_ns - last > cfg.stale_after_s * NS:
            found.append(f"{t.topic}: stale, nothing for {(now_ns - last) / NS:.1f} s")
    return found
