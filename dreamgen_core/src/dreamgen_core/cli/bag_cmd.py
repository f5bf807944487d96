"""`dreamgen bag info|recover`: inspect episode bags and restore the ones a killed recorder left."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dreamgen_core.bag import BagError, BagInfo, read_info
from dreamgen_core.recording import EpisodeMeta, partial_episodes, recover_episode
from dreamgen_core.recording.episode import iso

SHOWN = ("instruction", "operator", "outcome", "stop_reason", "embodiment", "embodiment_hash", "calibration_hash",
         "calibration_dir", "software_version", "start_time", "stop_time")


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("bag", help="inspect and recover episode bags (rosbag2 MCAP)",
                                 description="Inspect and recover the episode bags the episode_recorder writes.")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    info = sub.add_parser("info", help="counts per topic, duration, episode metadata and QA",
                          description="Counts per topic, duration, episode metadata and QA of a closed episode.")
    info.add_argument("path", type=Path, help="an episode directory (or its .mcap file)")
    info.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    info.set_defaults(run=show_info)
    recover = sub.add_parser("recover", help="restore episodes a killed recorder left as <name>.partial/",
                             description="Rewrite everything up to the last flushed chunk of a <name>.partial/ "
                                         "episode into a closed bag <name>/ with outcome 'recovered'. PATH is one "
                                         "partial episode or a directory holding some.")
    recover.add_argument("path", type=Path)
    recover.set_defaults(run=recover_all)


def show_info(args: argparse.Namespace) -> int:
    info = read_info(args.path)
    if args.json:
        print(json.dumps(info_dict(info), indent=2))
    else:
        print(render(info))
    return 0


def info_dict(info: BagInfo) -> dict:
    return {"path": str(info.path), "duration_s": info.duration_s, "start_time": iso(info.start_ns),
            "topics": {t.name: {"type": t.msgtype, "count": t.count} for t in info.topics},
            "metadata": episode_meta(info).as_dict()}


def episode_meta(info: BagInfo) -> EpisodeMeta:
    return EpisodeMeta.from_custom_data(info.custom_data, f"{info.path} (metadata.yaml custom_data)")


def render(info: BagInfo) -> str:
    meta = episode_meta(info).as_dict()
    total = sum(t.count for t in info.topics)
    lines = [f"{info.path}", f"  {info.duration_s:.2f} s, {total} messages, from {iso(info.start_ns)}", ""]
    width = max((len(t.name) for t in info.topics), default=5)
    lines.append(f"  {'topic':<{width}}  {'type':<36} {'count':>7} {'rate':>9}")
    for t in info.topics:
        rate = f"{t.count / info.duration_s:.1f} Hz" if info.duration_s > 0 else "-"
        lines.append(f"  {t.name:<{width}}  {t.msgtype:<36} {t.count:>7} {rate:>9}")
    lines.append("")
    lines += [f"  {key}: {meta[key]}" for key in SHOWN if meta.get(key) not in (None, "")]
    if meta["qa_verdict"] is not None:
        lines.append(f"  QA: {meta['qa_verdict']}")
        lines += [f"    - {reason}" for reason in meta["qa_reasons"]]
    return "\n".join(lines)


def recover_all(args: argparse.Namespace) -> int:
    failed = 0
    for partial in partial_episodes(args.path):
        try:
            result = recover_episode(partial)
        except BagError as exc:
            print(f"dreamgen: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        counts = ", ".join(f"{topic} {n}" for topic, n in result.counts.items())
        print(f"recovered {result.path}: {counts}; QA {result.verdict}"
              + (f"; scan stopped at a torn record ({result.stopped})" if result.stopped else ""))
    return 2 if failed else 0
