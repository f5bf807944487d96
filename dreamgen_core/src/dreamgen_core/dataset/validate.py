"""Check every invariant of a GR00T-LeRobot v2.0 dataset and list what is violated.

Training fails late and quietly on a bad dataset (a row one frame off its video, a stale stats
file, a task index pointing nowhere), so this reads everything back: metadata against the files,
every parquet row, every video's packet timestamps (PyAV, no decoding), and the stats recomputed.
Each violation is one line naming the file (relative to the root), the key and the value.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dreamgen_core.dataset import layout as L
from dreamgen_core.dataset.episode import ORIGINS
from dreamgen_core.dataset.stats import STAT_NAMES, dataset_stats
from dreamgen_core.video import probe_video

# PTS and stats come from other arithmetic (rationals, float64 sums); far below one frame period.
PTS_TOLERANCE_S = 1e-6
STATS_SOURCES = ("idm",)  # where a column's stats may come from instead of the data (provenance stats_source)
STATS_RTOL, STATS_ATOL = 1e-5, 1e-6


def validate(root: Path) -> list[str]:
    """Every violation found in the dataset at `root` (empty when it is valid)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such dataset directory")
    missing = [f"meta/{name}: missing" for name in L.META_FILES if not (root / "meta" / name).is_file()]
    if missing:
        return missing
    try:
        meta = {name.split(".")[0]: (L.read_jsonl if name.endswith(".jsonl") else L.read_json)(root / "meta" / name)
                for name in L.META_FILES}
        return list(_check(root, meta))
    except L.DatasetError as exc:
        return [str(exc)]
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        return [f"meta: malformed metadata: {type(exc).__name__}: {exc}"]


def require_valid(root: Path) -> None:
    """Raise a DatasetError naming the first violation unless `root` is a valid dataset."""
    problems = validate(root)
    if problems:
        raise L.DatasetError(f"{root}: invalid dataset ({len(problems)} violations, first: {problems[0]}); "
                             "run `dreamgen validate` on it")


def _check(root: Path, meta: dict[str, Any]) -> Iterator[str]:
    info = meta["info"]
    yield from _check_info(info)
    features = info["features"]
    dim = features.get(L.STATE, {}).get("shape", [0])[0]
    yield from _check_modality(meta["modality"], dim, L.video_keys(features))
    tasks = yield from _check_tasks(meta["tasks"])
    yield from _check_episode_table(meta["episodes"], tasks)
    first_index, readable = 0, True
    for row in meta["episodes"]:
        rows = yield from _check_episode(root, info, row["episode_index"], row["length"], first_index, len(tasks))
        readable &= rows is not None
        first_index += row["length"] if rows is None else rows  # an unreadable episode: trust its declared length
    yield from _check_totals(root, info, meta, first_index)
    yield from _check_provenance(meta["provenance"], len(meta["episodes"]))
    if readable:
        yield from _check_stats(root, features, meta["episodes"], meta["stats"], meta["provenance"])


def _check_info(info: dict[str, Any]) -> Iterator[str]:
    fixed: dict[str, Any] = {"codebase_version": L.CODEBASE_VERSION, "chunks_size": L.CHUNKS_SIZE,
                             "data_path": L.DATA_PATH, "video_path": L.VIDEO_PATH}
    for key, value in fixed.items():
        if info.get(key) != value:
            yield f"meta/info.json: {key}: {info.get(key)!r}: expected {value!r}"
    features = info["features"]
    for name, dtype in L.SCALAR_COLUMNS.items():
        yield from _check_feature(features, name, dtype, [1])
    dim = features.get(L.STATE, {}).get("shape", [None])[0]
    for name in L.VECTOR_COLUMNS:
        yield from _check_feature(features, name, "float32", [dim])
        if name in features and len(features[name].get("names") or []) != dim:
            yield f"meta/info.json: features.{name}.names: {features[name].get('names')}: expected {dim} joint names"
    if not L.video_keys(features):
        yield "meta/info.json: features: no video feature"
    for key in L.video_keys(features):
        video = features[key]
        want = L.video_feature((video["shape"][0], video["shape"][1]), info["fps"])
        for part in ("shape", "names", "video_info"):
            if video.get(part) != want[part]:
                yield f"meta/info.json: features.{key}.{part}: {video.get(part)}: expected {want[part]}"


def _check_feature(features: dict[str, Any], name: str, dtype: str, shape: list[Any]) -> Iterator[str]:
    if name not in features:
        yield f"meta/info.json: features.{name}: missing"
    elif features[name].get("dtype") != dtype or features[name].get("shape") != shape:
        yield f"meta/info.json: features.{name}: {features[name]}: expected dtype {dtype} shape {shape}"


def _check_modality(modality: dict[str, Any], dim: int, video_keys: list[str]) -> Iterator[str]:
    for part in ("state", "action"):
        slices = sorted((s["start"], s["end"], key) for key, s in modality.get(part, {}).items())
        end = 0
        for start, stop, key in slices:
            if start != end or stop <= start:
                yield f"meta/modality.json: {part}.{key}: [{start}, {stop}): slices must tile [0, {dim}) in order"
            end = stop
        if end != dim:
            yield f"meta/modality.json: {part}: slices end at {end}: observation.state has {dim} values"
    for key, v in modality.get("video", {}).items():
        if v.get("original_key") not in video_keys:
            yield f"meta/modality.json: video.{key}.original_key: {v.get('original_key')!r}: not a video feature"
    named = {v.get("original_key") for v in modality.get("video", {}).values()}
    for key in video_keys:
        if key not in named:
            yield f"meta/modality.json: video: {key} is a video feature but no video key names it"


def _check_tasks(tasks: list[dict[str, Any]]) -> Generator[str, None, list[str]]:
    """Yields violations; returns the task strings by index."""
    for position, row in enumerate(tasks):
        if row.get("task_index") != position or not isinstance(row.get("task"), str):
            yield f"meta/tasks.jsonl: line {position + 1}: {row}: expected task_index {position} and a task string"
    if len({row.get("task") for row in tasks}) != len(tasks):
        yield "meta/tasks.jsonl: task: the same string appears twice"
    return [str(row.get("task")) for row in tasks]


def _check_episode_table(episodes: list[dict[str, Any]], tasks: list[str]) -> Iterator[str]:
    for position, row in enumerate(episodes):
        where = f"meta/episodes.jsonl: line {position + 1}"
        if row.get("episode_index") != position:
            yield f"{where}: episode_index: {row.get('episode_index')}: expected {position}"
        if not isinstance(row.get("length"), int) or row["length"] <= 0:
            yield f"{where}: length: {row.get('length')!r}: expected a positive frame count"
        for text in row.get("tasks", []):
            if text not in tasks:
                yield f"{where}: tasks: {text!r}: not in meta/tasks.jsonl"


def _check_episode(root: Path, info: dict[str, Any], episode: int, length: int, first_index: int,
                   n_tasks: int) -> Generator[str, None, int | None]:
    """Yields violations of one episode's parquet and videos; returns its row count (None if unreadable)."""
    rel = L.data_file(episode)
    if not (root / rel).is_file():
        yield f"{rel}: missing"
        return None
    try:
        table = pq.read_table(root / rel)
    except (pa.ArrowException, OSError) as exc:
        yield f"{rel}: unreadable parquet: {exc}"
        return None
    problems = list(_check_schema(rel, table, info["features"]))
    yield from problems
    if problems:
        return None
    n = table.num_rows
    if n != length:
        yield f"{rel}: {n} rows: meta/episodes.jsonl says length {length}"
    expected = {L.EPISODE_INDEX: np.full(n, episode), L.FRAME_INDEX: np.arange(n),
                L.TIMESTAMP: L.timestamps(n, info["fps"]), L.INDEX: first_index + np.arange(n),
                L.DONE: np.arange(n) == n - 1}
    notes = {L.TIMESTAMP: " = frame_index/fps", L.INDEX: " (the global index must be contiguous)"}
    for name, want in expected.items():
        yield from _first_mismatch(rel, name, _column(table, name), want, notes.get(name, ""))
    for name in (L.TASK_INDEX, L.TASK_DESCRIPTION, L.VALIDITY):
        values = _column(table, name)
        bad = np.flatnonzero((values < 0) | (values >= n_tasks))
        if bad.size:
            yield f"{rel}: {name}[{bad[0]}]: {values[bad[0]]}: not an index into meta/tasks.jsonl ({n_tasks} rows)"
    for key in L.video_keys(info["features"]):
        yield from _check_video(root, L.video_file(key, episode), info["features"][key], _column(table, L.TIMESTAMP))
    return n


def _column(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).to_numpy()


def _first_mismatch(rel: str, name: str, actual: np.ndarray, want: np.ndarray, note: str) -> Iterator[str]:
    bad = np.flatnonzero(actual != want)
    if bad.size:
        i = bad[0]
        yield f"{rel}: {name}[{i}]: {actual[i]}: expected {want[i]}{note} ({bad.size} of {len(want)} rows differ)"


def _check_schema(rel: str, table: pa.Table, features: dict[str, Any]) -> Iterator[str]:
    for name, feature in features.items():
        if feature["dtype"] == "video":
            continue
        if name not in table.column_names:
            yield f"{rel}: column {name}: missing"
            continue
        want = L.arrow_type(feature)
        column = table.column(name)
        if column.type != want:
            yield f"{rel}: column {name}: type {column.type}: expected {want}"
        elif pa.types.is_list(want):
            widths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
            bad = np.flatnonzero(widths != feature["shape"][0])
            if bad.size:
                yield (f"{rel}: {name}[{bad[0]}]: width {widths[bad[0]]}: expected {feature['shape'][0]} "
                       f"({bad.size} rows)")
    for name in table.column_names:
        if name not in features:
            yield f"{rel}: column {name}: not declared in meta/info.json features"


def _check_video(root: Path, rel: str, feature: dict[str, Any], stamps: np.ndarray) -> Iterator[str]:
    if not (root / rel).is_file():
        yield f"{rel}: missing"
        return
    try:
        probe = probe_video(root / rel)
    except (OSError, IndexError, ValueError) as exc:  # PyAV's errors derive from OSError/ValueError
        yield f"{rel}: unreadable video: {exc}"
        return
    if (probe.codec, probe.pix_fmt) != ("h264", "yuv420p"):
        yield f"{rel}: codec {probe.codec} {probe.pix_fmt}: expected h264 yuv420p"
    if [probe.height, probe.width, 3] != feature["shape"]:
        yield f"{rel}: size {probe.height}x{probe.width}: meta/info.json says {feature['shape'][:2]}"
    if len(probe.pts_s) != len(stamps):
        yield f"{rel}: {len(probe.pts_s)} frames: the parquet has {len(stamps)} rows"
        return
    bad = np.flatnonzero(np.abs(probe.pts_s - stamps.astype(np.float64)) > PTS_TOLERANCE_S + np.abs(stamps) * 4e-7)
    if bad.size:
        i = bad[0]
        yield (f"{rel}: pts[{i}]: {probe.pts_s[i]:.6f} s: the parquet timestamp is {stamps[i]:.6f} s "
               f"({bad.size} of {len(stamps)} frames differ)")


def _check_totals(root: Path, info: dict[str, Any], meta: dict[str, Any], frames: int) -> Iterator[str]:
    episodes = len(meta["episodes"])
    videos = sorted(p.relative_to(root).as_posix() for p in (root / "videos").rglob("*.mp4")) \
        if (root / "videos").is_dir() else []
    parquets = sorted(p.relative_to(root).as_posix() for p in (root / "data").rglob("*.parquet")) \
        if (root / "data").is_dir() else []
    expected_data = sorted(L.data_file(e) for e in range(episodes))
    expected_videos = sorted(L.video_file(k, e) for k in L.video_keys(info["features"]) for e in range(episodes))
    for rel in sorted(set(parquets) - set(expected_data)) + sorted(set(videos) - set(expected_videos)):
        yield f"{rel}: not part of any episode in meta/episodes.jsonl"
    want = {"total_episodes": episodes, "total_frames": frames, "total_tasks": len(meta["tasks"]),
            "total_videos": len(videos), "total_chunks": len({L.chunk_of(e) for e in range(episodes)}),
            "splits": {"train": f"0:{episodes}"}}
    for key, value in want.items():
        if info.get(key) != value:
            yield f"meta/info.json: {key}: {info.get(key)!r}: the files say {value!r}"


def _check_provenance(provenance: dict[str, Any], episodes: int) -> Iterator[str]:
    entries = provenance.get("episodes", [])
    if [e.get("episode_index") for e in entries] != list(range(episodes)):
        yield f"meta/provenance.json: episodes: {len(entries)} entries: expected one per episode 0..{episodes - 1}"
    keys = [e.get("source_key") for e in entries]
    if len(set(keys)) != len(keys):
        yield "meta/provenance.json: episodes.source_key: a source appears twice"
    for e in entries:
        if e.get("origin") not in ORIGINS:
            yield (f"meta/provenance.json: episodes[{e.get('episode_index')}].origin: {e.get('origin')!r}: "
                   f"expected one of {ORIGINS}")
    if not provenance.get("embodiment", {}).get("content_hash"):
        yield "meta/provenance.json: embodiment.content_hash: missing"


def _check_stats(root: Path, features: dict[str, Any], episodes: list[dict[str, Any]],
                 stats: dict[str, Any], provenance: dict[str, Any]) -> Iterator[str]:
    columns = [k for k, f in features.items() if f["dtype"] != "video"]
    tables = (pq.read_table(root / L.data_file(e["episode_index"]), columns=columns) for e in episodes)
    recomputed = dataset_stats(tables, columns)
    for name in sorted(set(stats) - set(recomputed)):
        yield f"meta/stats.json: {name}: not a column of the dataset"
    declared = yield from _declared_stats(provenance, stats, recomputed)
    stale = [d for name, want in recomputed.items() if name not in declared for stat in STAT_NAMES
             if (d := _stat_difference(f"{name}.{stat}", stats.get(name, {}).get(stat, []), want[stat]))]
    if stale:  # one stale file is one violation, however many numbers moved
        yield (f"meta/stats.json: {stale[0]} (stale: {len(stale)} statistics differ from a recomputation; stats "
               "taken from elsewhere, e.g. an IDM's training stats, must be declared in meta/provenance.json "
               "stats_source)")


def _declared_stats(provenance: dict[str, Any], stats: dict[str, Any],
                    recomputed: dict[str, Any]) -> Generator[str, None, set[str]]:
    """Columns whose stats come from a declared source (`DatasetWriter`'s `StatsOverride`: an IDM's
    training stats) rather than from the data. Accepted only when the source is a known kind with a
    content hash that every episode's provenance names, and the stats are complete and of the right
    width. Yields violations; returns the accepted columns."""
    accepted: set[str] = set()
    for name, source in (provenance.get("stats_source") or {}).items():
        where = f"meta/provenance.json: stats_source.{name}"
        kind = source.get("kind") if isinstance(source, dict) else None
        if kind not in STATS_SOURCES or not source.get("content_hash"):
            yield f"{where}: {source!r}: expected kind one of {STATS_SOURCES} with a content_hash"
            continue
        if name not in recomputed:
            yield f"{where}: not a column of the dataset"
            continue
        others = [e.get("episode_index") for e in provenance.get("episodes", [])
                  if (e.get(kind) or {}).get("content_hash") != source["content_hash"]]
        if others:
            yield (f"meta/provenance.json: episodes[{others[0]}].{kind}.content_hash: not "
                   f"{source['content_hash'][:16]}, the {kind} stats_source.{name} names ({len(others)} episodes)")
            continue
        width = len(recomputed[name]["mean"])
        values = {stat: np.asarray(stats.get(name, {}).get(stat, []), dtype=np.float64).reshape(-1)
                  for stat in STAT_NAMES}
        bad = [stat for stat, v in values.items() if len(v) != width or not np.isfinite(v).all()]
        if bad:
            yield f"meta/stats.json: {name}.{bad[0]}: expected {width} finite values (declared from a {kind})"
            continue
        accepted.add(name)
    return accepted


def _stat_difference(key: str, stored: Any, recomputed: list[float]) -> str:
    have, want = np.asarray(stored, dtype=np.float64), np.asarray(recomputed)
    if have.shape != want.shape:
        return f"{key}: {have.size} values: the column has width {want.size}"
    bad = np.flatnonzero(~np.isclose(have, want, rtol=STATS_RTOL, atol=STATS_ATOL))
    return f"{key}[{bad[0]}]: {have[bad[0]]:.6g}: a recomputation gives {want[bad[0]]:.6g}" if bad.size else ""
