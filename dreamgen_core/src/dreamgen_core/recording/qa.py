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
- missing: messages lost anywhere between the publisher and the bag leave holes in the header
  stamps. An interval of k periods hides k - 1 messages unless the messages around it make up for
  them (jitter, a publisher catching up after a stall): see `estimate_holes` for the period (the
  expected rate's, or the topic's own when it publishes faster than the spec's minimum). More than
  max_missing needs review.
- resolution: an Image or CompressedImage topic (size from its JPEG/PNG header) whose
  width/height changes mid-episode (a camera renegotiated) cannot become one video stream; every
  change is reported.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

import numpy as np

from dreamgen_core.bag.schema import (
    COMPRESSED_IMAGE_TYPE,
    IMAGE_TYPE,
    compressed_image_size,
    header_stamp_ns,
    image_size,
    starts_with_header,
)
from dreamgen_core.recording.config import RecordingConfig, TopicConfig
from dreamgen_core.recording.metadata import Verdict

NS = 1_000_000_000
MIN_RATE_WINDOW_NS = NS  # a rate over less than a second says more about start-up than about the topic
MIN_INTERVALS = 10       # fewer stamp intervals say nothing reliable about a topic's period
HOLE_CONTEXT_NS = NS // 2  # stamps around a hole that absorb jitter and a publisher catching up
SIZE_OF = {IMAGE_TYPE: image_size, COMPRESSED_IMAGE_TYPE: compressed_image_size}  # width x height from the bytes
FASTER = 0.8               # a mean interval below this share of the expected period: a faster publisher


@dataclass(frozen=True)
class Holes:
    """Messages missing from a stamp sequence, and its largest hole (ending at `end_ns`, QA clock)."""
    missing: int = 0
    largest_ns: int = 0
    end_ns: int = 0


def estimate_holes(intervals: np.ndarray, ends: np.ndarray, expected_hz: float, out_of_order: int = 0) -> Holes:
    """Missing messages from forward header-stamp `intervals` (ns) that ended at QA-clock times
    `ends`; each of `out_of_order` messages (left out of the intervals) filled one slot.

    The period is the expected one, unless the topic runs clearly faster than `expected_hz` (a
    driver above the spec's minimum rate): then its own mean interval, which loss stretches a
    little, so the count is then a slight underestimate; and only intervals of two expected
    periods or more count as holes (a 200 Hz driver's 19 ms hiccup keeps a 100 Hz stream whole).

    An interval of about k periods is a candidate hole of k - 1 messages. It is measured over the
    messages within HOLE_CONTEXT_NS on each side: periods spanned minus messages received. So
    a late message beside an early one, or a publisher that sends what it owes back to back after a
    stall, counts nothing; a hole nothing refills counts in full. At the expected period the whole
    episode is counted the same way too, and the smaller count wins: a publisher that catches up
    slowly, over more than a window, has lost nothing overall.
    """
    if len(intervals) < MIN_INTERVALS:
        return Holes()
    mean = float(np.mean(intervals))
    at_expected_rate = expected_hz > 0 and mean >= FASTER * NS / expected_hz
    period = NS / expected_hz if at_expected_rate else mean
    if period <= 0:
        return Holes()
    stamps = np.concatenate(([0], np.cumsum(intervals)))
    slots = np.floor(intervals / period + 0.5).astype(np.int64)
    if not at_expected_rate and expected_hz > 0:
        # Above the spec's rate, a late message is jitter unless the stream fell below that rate
        # there: only intervals of two expected periods or more are holes in the data it asks for.
        slots[intervals < 2 * NS / expected_hz] = 1
    context = max(1, round(HOLE_CONTEXT_NS / period))
    missing = covered = 0
    for i in np.flatnonzero(slots >= 2).tolist():
        if i < covered:
            continue  # inside the window of the previous hole, counted there
        lo, hi = max(covered, i - context), min(len(intervals), i + 1 + context)
        missing += _missing(stamps[hi] - stamps[lo], hi - lo, period)
        covered = hi
    if at_expected_rate:
        missing = min(missing, _missing(stamps[-1], len(intervals), period))
    largest = int(np.argmax(intervals))
    return Holes(max(0, missing - out_of_order), int(intervals[largest]), int(ends[largest]))


def _missing(span_ns: float, intervals: int, period_ns: float) -> int:
    """Messages missing from `intervals` consecutive stamp intervals spanning `span_ns`."""
    return max(0, int(np.floor(span_ns / period_ns + 0.5)) - intervals)


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
    # Forward header-stamp intervals, the receive interval beside each, and when each ended (QA clock).
    stamp_dts: array = field(default_factory=lambda: array("q"))
    recv_dts: array = field(default_factory=lambda: array("q"))
    ends: array = field(default_factory=lambda: array("q"))
    size: tuple[int, int] | None = None       # an Image topic's first width x height
    resized: int = 0                          # messages of another size since
    other_size: tuple[int, int] | None = None

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
                else:
                    self.stamp_dts.append(stamp_dt)
                    self.recv_dts.append(recv_dt)
                    self.ends.append(now_ns)
                    if stamp_dt - recv_dt > 0:
                        self.max_forward_ns = max(self.max_forward_ns, stamp_dt - recv_dt)
            self.max_gap_ns = max(self.max_gap_ns, gap)
        if (size_of := SIZE_OF.get(self.cfg.type)) is not None:
            self._observe_size(size_of(cdr))
        self.count += 1
        self.last_ns = now_ns
        if stamp is not None and (self.last_stamp_ns is None or stamp > self.last_stamp_ns):
            self.last_stamp_ns = stamp

    def _observe_size(self, size: tuple[int, int] | None) -> None:
        if self.size is None:
            self.size = size
        elif size != self.size:
            self.resized += 1
            self.other_size = size

    def holes(self, stale_ns: float) -> Holes:
        """Missing messages, leaving out stamp jumps the clock rules report (not holes in the data)."""
        stamp_dts, recv_dts = np.frombuffer(self.stamp_dts, np.int64), np.frombuffer(self.recv_dts, np.int64)
        kept = stamp_dts - recv_dts <= stale_ns
        return estimate_holes(stamp_dts[kept], np.frombuffer(self.ends, np.int64)[kept], self.cfg.rate_hz,
                              self.backwards)

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
        holes = self.holes(stale_ns) if t.rate_hz > 0 else Holes()
        if holes.missing > cfg.max_missing:
            start_s = (holes.end_ns - holes.largest_ns - (now_ns - elapsed_ns)) / NS
            found.append(f"{t.topic}: {holes.missing} message{'s' if holes.missing > 1 else ''} missing "
                         f"(largest hole {holes.largest_ns / NS:.3f} s "
                         f"at t={max(0.0, start_s):.1f} s)")
        if self.resized:
            found.append(f"{t.topic}: resolution changed mid-episode: {_size(self.size)} at first, "
                         f"then {_size(self.other_size)} ({self.resized} messages differ)")
        if watched and self.last_ns is not None and now_ns - self.last_ns > stale_ns:
            found.append(f"{t.topic}: stale, nothing for {(now_ns - self.last_ns) / NS:.1f} s")
        if self.backwards and watched:  # an unwatched topic such as /diagnostics has many publishers
            kind = "clock jumped back" if self.max_back_ns > stale_ns else "out of order"
            found.append(f"{t.topic}: header stamps went backwards {self.backwards} times "
                         f"(largest {self.max_back_ns / NS:.3f} s): {kind}")
        if self.max_forward_ns > stale_ns and watched:
            found.append(f"{t.topic}: header stamps jumped {self.max_forward_ns / NS:.2f} s ahead of "
                         f"receive time: clock jump")
        return found

    def summary(self, elapsed_ns: int) -> dict:
        return {"count": self.count, "rate_hz": round(self.rate_hz(elapsed_ns), 2),
                "expected_hz": self.cfg.rate_hz, "max_gap_s": round(self.max_gap_ns / NS, 4)}


def _size(size: tuple[int, int] | None) -> str:
    return "unreadable" if size is None else f"{size[0]}x{size[1]}"


@dataclass(frozen=True)
class QaReport:
    verdict: Verdict
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
    notes: list[str] = field(default_factory=list)  # problems seen outside the messages (the graph)

    def __post_init__(self) -> None:
        self.monitors = [TopicMonitor(t, starts_with_header(t.type)) for t in self.cfg.topics]

    def observe(self, index: int, now_ns: int, cdr: bytes) -> None:
        self.monitors[index].observe(now_ns, cdr)

    def note(self, reason: str) -> None:
        """A problem the messages cannot show (a publisher the subscription cannot match); kept once."""
        if reason not in self.notes:
            self.notes.append(reason)

    def report(self, now_ns: int) -> QaReport:
        elapsed = max(0, now_ns - self.start_ns)
        reasons = [p for m in self.monitors for p in m.problems(self.cfg, elapsed, now_ns)] + self.notes
        return QaReport(Verdict.NEEDS_REVIEW if reasons else Verdict.OK, reasons,
                        {m.cfg.topic: m.summary(elapsed) for m in self.monitors}, elapsed / NS)


def stale_required(cfg: RecordingConfig, last_seen_ns: list[int | None], now_ns: int) -> dict[int, str]:
    """The start gate: a reason per required topic (by index) that has not delivered within stale_after_s."""
    found = {}
    for i, (t, last) in enumerate(zip(cfg.topics, last_seen_ns)):
        if not t.required:
            continue
        if last is None:
            found[i] = f"{t.topic}: nothing received yet"
        elif now_ns - last > cfg.stale_after_s * NS:
            found[i] = f"{t.topic}: stale, nothing for {(now_ns - last) / NS:.1f} s"
    return found
