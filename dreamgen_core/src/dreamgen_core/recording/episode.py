"""The episode lifecycle behind the recorder node: gate, record, stop/discard, close off-thread.

Subscription callbacks only timestamp, QA-observe and enqueue raw CDR bytes; a writer thread per
episode owns the bag, flushes it every `flush_period_s` and closes it (summary, metadata.yaml,
rename of `<name>.partial/` to `<name>/`). So stopping returns at once and the next episode can
start while the previous one is still being closed: saving never stalls the operator.

Two clocks: `now_ns` is the node's clock (sim time when the sim drives /clock) and drives QA and
elapsed; `wall_ns` is the receive time and becomes the bag's log time. Header stamps stay inside
the messages untouched.
"""

from __future__ import annotations

import queue
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from dreamgen_core.bag.reader import PARTIAL_SUFFIX
from dreamgen_core.bag.writer import BagWriter, TopicInfo
from dreamgen_core.recording.config import RecordingConfig
from dreamgen_core.recording.metadata import EpisodeMeta, Outcome, Verdict
from dreamgen_core.recording.provenance import episode_calibration_hash, slug, software_version
from dreamgen_core.recording.qa import NS, EpisodeQa, QaReport, stale_required
from dreamgen_core.recording.qos import Offer, Requested, mismatch, why_silent

MB = 2**20


class Refused(RuntimeError):
    """A request was refused (start while stale or low on disk, stop with nothing recording); says why."""


def iso(wall_ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(wall_ns / NS)) + f".{wall_ns % NS // 1_000_000:03d}Z"


def free_disk_mb(path: Path) -> float:
    return shutil.disk_usage(path).free / MB


@dataclass
class Closed:
    """How an episode ended, as the status and the node report it."""
    name: str
    outcome: Outcome | None = None      # None while it is still recording
    path: Path | None = None
    verdict: Verdict | None = None
    reasons: list[str] = field(default_factory=list)
    error: str = ""
    counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {**asdict(self), "path": str(self.path) if self.path else None}


class _Finish:
    def __init__(self, custom_data: dict[str, str] | None) -> None:
        self.custom_data = custom_data  # None: discard


class EpisodeWriter(threading.Thread):
    """Owns one BagWriter: writes queued messages, flushes on time, closes or discards on command."""

    def __init__(self, writer: BagWriter, final_dir: Path, flush_period_s: float, closed: Closed,
                 on_done: Callable[[Closed], None]) -> None:
        super().__init__(name=f"episode-writer-{closed.name}", daemon=False)
        self.writer, self.final_dir, self.period, self.closed = writer, final_dir, flush_period_s, closed
        self.on_done = on_done
        self.queue: queue.SimpleQueue = queue.SimpleQueue()

    def put(self, index: int, wall_ns: int, data: bytes) -> None:
        self.queue.put((index, wall_ns, data))

    def finish(self, meta: EpisodeMeta | None) -> None:
        self.queue.put(_Finish(None if meta is None else meta.custom_data()))

    def run(self) -> None:
        try:
            self._loop()
        except Exception as exc:
            self.closed.error = f"{type(exc).__name__}: {exc}"
            self.writer.abort()
        self.on_done(self.closed)

    def _loop(self) -> None:
        next_flush = time.monotonic() + self.period
        while True:
            try:
                item = self.queue.get(timeout=max(0.0, next_flush - time.monotonic()))
            except queue.Empty:
                item = None
            if isinstance(item, _Finish):
                self._finish(item.custom_data)
                return
            if item is not None:
                self.writer.write(*item)
            if time.monotonic() >= next_flush:
                self.writer.flush()
                next_flush = time.monotonic() + self.period

    def _finish(self, custom_data: dict[str, str] | None) -> None:
        if custom_data is None:
            self.writer.abort()
            shutil.rmtree(self.writer.directory)
            return
        stats = self.writer.close(custom_data)
        self.writer.directory.rename(self.final_dir)
        self.closed.path = self.final_dir
        self.closed.counts = {t.name: n for t, n in zip(stats.topics, stats.counts)}


@dataclass
class Episode:
    name: str
    writer: EpisodeWriter
    qa: EpisodeQa
    start_ns: int
    meta: EpisodeMeta


class Recorder:
    """Records episodes of `cfg.topics` into `output_dir`. Not thread-safe: call from one thread."""

    def __init__(self, cfg: RecordingConfig, embodiment: str, embodiment_hash: str,
                 output_dir: Path | None = None, calibration_dir: Path | None = None) -> None:
        self.cfg = cfg
        self.output_dir = (output_dir or cfg.output_path).expanduser()
        self.calibration_dir = (calibration_dir or Path(cfg.calibration_dir)).expanduser().resolve()
        self.embodiment, self.embodiment_hash = embodiment, embodiment_hash
        self.index = {t.topic: i for i, t in enumerate(cfg.topics)}
        self.last_seen: list[int | None] = [None] * len(cfg.topics)
        # The graph as the node last saw it: each topic's publishers (None: not looked yet) and the
        # QoS its subscription asks for (None: not subscribed).
        self.offers: list[tuple[Offer, ...] | None] = [None] * len(cfg.topics)
        self.asked: list[Requested | None] = [None] * len(cfg.topics)
        self.episode: Episode | None = None
        self.closing: dict[str, EpisodeWriter] = {}
        self.last_closed: Closed | None = None
        self._unreported: list[Closed] = []
        self._lock = threading.Lock()  # writer threads report closures from their own thread

    # -- from subscription callbacks ------------------------------------------------------------
    def observe(self, index: int, now_ns: int, wall_ns: int, data: bytes) -> None:
        self.last_seen[index] = now_ns
        if self.episode is not None:
            self.episode.qa.observe(index, now_ns, data)
            self.episode.writer.put(index, wall_ns, data)

    def graph(self, index: int, offers: tuple[Offer, ...], asked: Requested | None) -> None:
        """The node's latest look at a topic's publishers and at what its subscription asks for. While
        recording, a publisher the subscription cannot match makes the episode need review."""
        self.offers[index], self.asked[index] = offers, asked
        if self.episode is None or asked is None:
            return
        for offer in offers:
            if reason := mismatch(offer, asked):
                self.episode.qa.note(f"{self.cfg.topics[index].topic}: {reason}: not recorded in this episode")

    # -- from services ----------------------------------------------------------------------------
    def start(self, instruction: str, operator: str, now_ns: int, wall_ns: int) -> str:
        if self.episode is not None:
            raise Refused(f"episode {self.episode.name} is still recording: stop or discard it first")
        if not instruction.strip():
            raise Refused("no instruction: set the `instruction` parameter or publish on ~/instruction")
        # Disk first: it does not depend on what the graph has discovered yet.
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self._check_disk("refusing to start")
        stale = stale_required(self.cfg, self.last_seen, now_ns)
        if stale:
            raise Refused("required topic(s) stale: " + "; ".join(self._explained(i, text) for i, text in stale.items()))
        name = self._unique_name(wall_ns, instruction)
        meta = self._start_meta(instruction, operator, wall_ns)
        writer = BagWriter(self.output_dir / f"{name}{PARTIAL_SUFFIX}", name, self._topic_infos(),
                           self.cfg.compression, meta.custom_data())
        thread = EpisodeWriter(writer, self.output_dir / name, self.cfg.flush_period_s, Closed(name),
                               self._on_closed)
        thread.start()
        self.episode = Episode(name, thread, EpisodeQa(self.cfg, now_ns), now_ns, meta)
        return name

    def stop(self, outcome: Outcome, now_ns: int, wall_ns: int, reason: str = "") -> Closed:
        """End the episode; the bag is closed off-thread (see `wait_closed`). Returns its QA."""
        ep = self._take("stop")
        report = ep.qa.report(now_ns)
        ep.writer.closed.outcome, ep.writer.closed.verdict = outcome, report.verdict
        ep.writer.closed.reasons = report.reasons
        ep.writer.finish(finished(ep.meta, outcome, reason, report, wall_ns))
        return ep.writer.closed

    def discard(self) -> str:
        ep = self._take("discard")
        ep.writer.closed.outcome = Outcome.DISCARDED
        ep.writer.finish(None)
        return ep.name

    def check_disk(self, now_ns: int, wall_ns: int) -> Closed | None:
        """The disk guard while recording: stops the episode cleanly when free space runs low."""
        if self.episode is None:
            return None
        free = free_disk_mb(self.output_dir)
        if free >= self.cfg.min_free_disk_mb:
            return None
        return self.stop(Outcome.INTERRUPTED, now_ns, wall_ns,
                         f"disk space low: {free:.0f} MB free in {self.output_dir}, "
                         f"minimum {self.cfg.min_free_disk_mb} MB")

    def wait_closed(self, timeout: float | None = None) -> None:
        """Block until every stopped episode is on disk (at shutdown, in tests)."""
        with self._lock:
            threads = list(self.closing.values())
        for t in threads:
            t.join(timeout)

    # -- status -----------------------------------------------------------------------------------
    def status(self, now_ns: int) -> dict:
        topics = {t.topic: {"age_s": None if last is None else round((now_ns - last) / NS, 3),
                            "publishers": None if offers is None else len(offers),
                            "qos": None if asked is None else str(asked)}
                  for t, last, offers, asked in zip(self.cfg.topics, self.last_seen, self.offers, self.asked)}
        status: dict = {"state": "idle", "episode": None, "elapsed_s": 0.0, "topics": topics}
        if self.episode is not None:
            report = self.episode.qa.report(now_ns)
            for name, summary in report.topics.items():
                topics[name].update(summary)
            status.update(state="recording", episode=self.episode.name, elapsed_s=round(report.elapsed_s, 2),
                          qa={"verdict": report.verdict, "reasons": report.reasons},
                          backlog=self.episode.writer.queue.qsize())
        with self._lock:
            status["closing"] = sorted(self.closing)
            status["last_closed"] = self.last_closed.as_dict() if self.last_closed else None
        if self.output_dir.is_dir():
            status["free_disk_mb"] = round(free_disk_mb(self.output_dir))
        return status

    # -- internals --------------------------------------------------------------------------------
    def _take(self, action: str) -> Episode:
        if self.episode is None:
            raise Refused(f"nothing to {action}: no episode is recording")
        ep, self.episode = self.episode, None
        with self._lock:
            self.closing[ep.name] = ep.writer
        return ep

    def _on_closed(self, closed: Closed) -> None:
        with self._lock:
            self.closing.pop(closed.name, None)
            self.last_closed = closed
            self._unreported.append(closed)

    def take_closed(self) -> list[Closed]:
        """Episodes that finished closing (or failed to) since the last call, for the node to log."""
        with self._lock:
            taken, self._unreported = self._unreported, []
        return taken

    def _explained(self, index: int, stale: str) -> str:
        """A stale topic's reason, with what the graph says about it once the node has looked."""
        offers = self.offers[index]
        why = "" if offers is None else why_silent(offers, self.asked[index])
        return f"{stale} ({why})" if why else stale

    def _topic_infos(self) -> list[TopicInfo]:
        return [TopicInfo(t.topic, t.type, tuple(o.rosbag2() for o in offers or ()))
                for t, offers in zip(self.cfg.topics, self.offers)]

    def _check_disk(self, what: str) -> None:
        free = free_disk_mb(self.output_dir)
        if free < self.cfg.min_free_disk_mb:
            raise Refused(f"{what}: disk space low: {free:.0f} MB free in {self.output_dir}, "
                               f"minimum {self.cfg.min_free_disk_mb} MB (recording.min_free_disk_mb)")

    def _unique_name(self, wall_ns: int, instruction: str) -> str:
        base = time.strftime("%Y%m%d_%H%M%S", time.gmtime(wall_ns / NS)) + "_" + slug(instruction)
        name, n = base, 1
        while any((self.output_dir / f"{name}{s}").exists() for s in ("", PARTIAL_SUFFIX)) or name in self.closing:
            n += 1
            name = f"{base}_{n}"
        return name

    def _start_meta(self, instruction: str, operator: str, wall_ns: int) -> EpisodeMeta:
        return EpisodeMeta(
            instruction=instruction, operator=operator, embodiment=self.embodiment,
            embodiment_hash=self.embodiment_hash, calibration_dir=str(self.calibration_dir),
            calibration_hash=episode_calibration_hash(self.calibration_dir), software_version=software_version(),
            start_time=iso(wall_ns), start_ns=wall_ns, topics=[asdict(t) for t in self.cfg.topics],
            qa_config=qa_config(self.cfg))


def qa_config(cfg: RecordingConfig) -> dict:
    return {"rate_tolerance": cfg.rate_tolerance, "max_gap_factor": cfg.max_gap_factor,
            "max_missing": cfg.max_missing, "stale_after_s": cfg.stale_after_s}


def finished(meta: EpisodeMeta, outcome: Outcome, reason: str, report: QaReport, wall_ns: int) -> EpisodeMeta:
    """`meta` with how the episode ended: outcome, why, when, and its QA."""
    return replace(meta, outcome=outcome, stop_reason=reason, stop_time=iso(wall_ns),
                   duration_s=round(report.elapsed_s, 3), qa_verdict=report.verdict, qa_reasons=report.reasons,
                   qa=report.topics)
