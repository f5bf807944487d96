"""Bring back an episode whose recorder was killed: everything up to its last flushed chunk.

The killed episode is a `<name>.partial/` directory whose MCAP has no summary and may end in a torn
chunk. Its messages are re-written into a fresh bag beside it (`.<name>.recovering/`), QA is
re-run over them (on receive times) and the bag is closed with outcome `recovered`; only then is it
renamed to `<name>/` and the partial directory removed, so a crash during recovery loses nothing.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from dreamgen_core.bag.reader import PARTIAL_SUFFIX, BagError, Salvage, find_mcap
from dreamgen_core.bag.writer import EPISODE_RECORD, RESULT_RECORD, BagWriter, TopicInfo, qos_from_yaml
from dreamgen_core.config import build
from dreamgen_core.recording.config import RecordingConfig, TopicConfig
from dreamgen_core.recording.episode import finished
from dreamgen_core.recording.metadata import EpisodeMeta, Outcome, Verdict
from dreamgen_core.recording.qa import EpisodeQa


@dataclass(frozen=True)
class Recovered:
    path: Path
    counts: dict[str, int]
    stopped: str          # why the scan ended: the torn chunk's error, or "" if the file was whole
    verdict: Verdict
    reasons: list[str]


def partial_episodes(path: Path) -> list[Path]:
    """`path` itself if it is a partial episode, else the partial episodes directly inside it."""
    if path.name.endswith(PARTIAL_SUFFIX):
        return [path]
    if not path.is_dir():
        raise BagError(f"{path}: no such directory")
    found = sorted(p for p in path.iterdir() if p.is_dir() and p.name.endswith(PARTIAL_SUFFIX))
    if not found:
        raise BagError(f"{path}: not a <name>{PARTIAL_SUFFIX} episode directory and holds none")
    return found


def recover_episode(partial: Path) -> Recovered:
    name = partial.name.removesuffix(PARTIAL_SUFFIX)
    final = partial.parent / name
    if final.exists():
        raise BagError(f"{partial}: {final} exists already; remove one of them by hand")
    salvage = Salvage(find_mcap(partial))
    work = partial.parent / f".{name}.recovering"
    shutil.rmtree(work, ignore_errors=True)  # a previous recovery that died: start over
    rebuilt: _Rebuilt | None = None
    last_ns = 0
    try:
        for channel, message in salvage.messages():
            if rebuilt is None:
                rebuilt = _open(salvage, work, name)
            i = rebuilt.index[channel.topic]
            rebuilt.writer.write(i, message.log_time, message.data)
            rebuilt.qa.observe(i, message.log_time, message.data)
            last_ns = max(last_ns, message.log_time)
        if rebuilt is None:
            if not salvage.records:
                raise BagError(f"{salvage.mcap_path}: nothing recoverable ({salvage.stopped or 'empty file'})")
            rebuilt = _open(salvage, work, name)
        report = rebuilt.qa.report(last_ns or rebuilt.qa.start_ns)
        previous = EpisodeMeta.from_custom_data(salvage.result(), f"{salvage.mcap_path} ({RESULT_RECORD} record)")
        if salvage.complete_file and previous.outcome is not None:
            outcome, reason = previous.outcome, previous.stop_reason
        else:
            outcome = Outcome.RECOVERED
            reason = f"recorder died; recovered up to the last flushed chunk ({salvage.stopped or 'end of file'})"
        stats = rebuilt.writer.close(finished(rebuilt.meta, outcome, reason, report, last_ns).custom_data())
    except BaseException:
        if rebuilt is not None:
            rebuilt.writer.abort()
        shutil.rmtree(work, ignore_errors=True)
        raise
    work.rename(final)
    shutil.rmtree(partial)
    return Recovered(final, {t.name: n for t, n in zip(stats.topics, stats.counts)}, salvage.stopped,
                     report.verdict, report.reasons)


@dataclass(frozen=True)
class _Rebuilt:
    """The fresh bag a recovery writes, with the QA and metadata of the episode it rebuilds."""
    writer: BagWriter
    qa: EpisodeQa
    index: dict[str, int]
    meta: EpisodeMeta


def _open(salvage: Salvage, work: Path, name: str) -> _Rebuilt:
    source = f"{salvage.mcap_path.name} ({EPISODE_RECORD} record)"
    meta = EpisodeMeta.from_custom_data(salvage.episode(), source)
    topics = [build(TopicConfig, t, source, f"topics[{i}]") for i, t in enumerate(meta.topics)]
    cfg = RecordingConfig(topics=tuple(topics), **meta.qa_config)
    offered = {c.topic: qos_from_yaml(c.metadata.get("offered_qos_profiles", "")) for c in salvage.channels.values()}
    writer = BagWriter(work, name, [TopicInfo(t.topic, t.type, offered.get(t.topic, ())) for t in topics], "none",
                       meta.custom_data())
    return _Rebuilt(writer, EpisodeQa(cfg, meta.start_ns), {t.topic: i for i, t in enumerate(topics)}, meta)
