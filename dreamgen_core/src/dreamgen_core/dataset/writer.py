"""Build or extend a GR00T-LeRobot v2.0 dataset so that a crash never leaves a half-written one.

Everything is written into an `AtomicDir` build beside the target (existing files are hard-linked
in, never modified: new episodes get new files and metadata is rewritten whole), validated, and
swapped into place; its lock keeps two writers from racing and losing each other's episodes. Each
episode carries an idempotency key (its source's hash): a source already in the dataset is skipped
and reported, so re-running a conversion adds nothing.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from typing_extensions import Self

from dreamgen_core import __version__
from dreamgen_core.atomic import AtomicDir
from dreamgen_core.dataset import layout as L
from dreamgen_core.dataset.episode import EpisodeData
from dreamgen_core.dataset.stats import dataset_stats
from dreamgen_core.dataset.validate import validate
from dreamgen_core.dataset.videos import RawSize, encode_videos, modality_videos, video_features
from dreamgen_core.embodiment import Embodiment
from dreamgen_core.video import EncoderConfig, probe_video

PROVENANCE_FORMAT = "dreamgen.dataset.provenance/1"


@dataclass(frozen=True)
class StatsOverride:
    """One column's meta/stats.json entry taken from elsewhere instead of computed from the data: the
    IDM's training stats for the actions of labelled dreams (DREAMGEN_CONTRACT §5). `source` is recorded
    in provenance.json "stats_source" (`kind` and `content_hash` at least), and every episode's
    provenance must name the same source under `kind`: the validator accepts the stats only then."""

    column: str
    stats: dict[str, list[float]]
    source: dict[str, Any]


@dataclass(frozen=True)
class AddResult:
    """What `add` did: the episode index it got, or why the source was skipped."""

    source_key: str
    episode_index: int | None
    skipped: str = ""


@dataclass
class _Catalog:
    """The dataset's metadata as it grows; only updated once an episode's files are complete."""

    tasks: list[str] = field(default_factory=list)
    episodes: list[dict[str, Any]] = field(default_factory=list)
    provenance: list[dict[str, Any]] = field(default_factory=list)
    extras: dict[str, str] | None = None  # name → dtype; fixed by the first episode ever written
    total_frames: int = 0

    @classmethod
    def load(cls, root: Path) -> _Catalog:
        meta = root / "meta"
        info = L.read_json(meta / "info.json")
        standard = set(L.SCALAR_COLUMNS) | set(L.VECTOR_COLUMNS)
        extras = {k: f["dtype"] for k, f in info["features"].items() if k not in standard and f["dtype"] != "video"}
        tasks = sorted(L.read_jsonl(meta / "tasks.jsonl"), key=lambda row: row["task_index"])
        return cls([row["task"] for row in tasks], L.read_jsonl(meta / "episodes.jsonl"),
                   L.read_json(meta / "provenance.json")["episodes"], extras if info["total_episodes"] else None,
                   info["total_frames"])

    def source_index(self) -> dict[str, int]:
        return {entry["source_key"]: entry["episode_index"] for entry in self.provenance}


class DatasetWriter:
    """`with DatasetWriter(root, spec) as w: w.add(episode)`; leaving the block commits, an exception aborts.

    `root` may exist (episodes are appended) or not (it is created). `results` lists every `add`.
    `raw_size`: whether and how large the raw camera videos are (`dataset.videos`); an existing
    dataset must have been written with the same.
    """

    def __init__(self, root: Path, spec: Embodiment, encoder: EncoderConfig = EncoderConfig(),
                 raw_size: RawSize = None, stats_override: StatsOverride | None = None):
        self.root, self.spec, self.encoder = Path(root), spec, encoder
        self.stats_override = stats_override
        self.videos = video_features(spec, raw_size)
        self.results: list[AddResult] = []
        self._atomic = AtomicDir(self.root, validate=validate)
        self._catalog = _Catalog()

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def open(self) -> None:
        build = self._atomic.open()
        try:
            if self.root.exists():
                if not (self.root / "meta" / "info.json").is_file():
                    raise L.DatasetError(f"{self.root}: exists but is no dataset (no meta/info.json); "
                                         "refusing to touch it")
                self._catalog = _Catalog.load(self.root)
                self._check_compatible()
                shutil.copytree(self.root, build, copy_function=os.link, dirs_exist_ok=True)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Drop the build; the target is exactly as it was."""
        self._atomic.abort()

    def commit(self) -> None:
        """Write metadata, validate the build, and swap it into place (nothing to do if nothing was added)."""
        build = self._require_open()
        try:
            if not any(r.episode_index is not None for r in self.results):
                return  # nothing new: an existing dataset stays as it was, and no empty one appears
            shutil.rmtree(self._incoming(build), ignore_errors=True)
            self._write_meta(build)
            self._atomic.commit()  # validates the build; on failure the target is untouched
        finally:
            self.abort()

    # -- episodes --------------------------------------------------------------------------------
    def incoming(self) -> Path:
        """A directory inside the build, on its filesystem, for videos encoded elsewhere (converter
        workers) that `add` then moves into place; it is gone when the dataset is committed."""
        path = self._incoming(self._require_open())
        path.mkdir(exist_ok=True)
        return path

    def add(self, episode: EpisodeData) -> AddResult:
        """Write one episode (videos, then parquet); a failure removes its files and re-raises."""
        build = self._require_open()
        try:
            return self._add(build, episode)
        finally:
            for path in episode.videos.values():  # moved in, or not wanted: never left in incoming()
                path.unlink(missing_ok=True)

    def _add(self, build: Path, episode: EpisodeData) -> AddResult:
        episode = episode.checked(self.spec)
        known = self._catalog.source_index()
        if episode.source_key in known:
            where = known[episode.source_key]
            result = AddResult(episode.source_key, None, f"source already in the dataset as episode {where}")
            self.results.append(result)
            return result
        extras = self._extras_of(episode)
        index = len(self._catalog.episodes)
        tasks = list(self._catalog.tasks)
        paths = {f.key: build / L.video_file(f.key, index) for f in self.videos}
        written = [*paths.values(), build / L.data_file(index)]
        try:
            if episode.videos:
                self._move_in(episode, paths)
            else:
                encode_videos(self.spec, self.videos, episode.frames, episode.length, paths, self.encoder)
            table = self._table(episode, index, tasks, extras)
            written[-1].parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, written[-1])
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise
        self._record(episode, index, tasks, extras)
        result = AddResult(episode.source_key, index)
        self.results.append(result)
        return result

    def _move_in(self, episode: EpisodeData, paths: dict[str, Path]) -> None:
        """Check videos encoded elsewhere (key set, size, one frame per row) and rename them into place."""
        who = f"episode {episode.source_key!r}"
        if sorted(episode.videos) != sorted(paths):
            raise L.DatasetError(f"{who}: videos: {sorted(episode.videos)}: this dataset's videos are {sorted(paths)}")
        for feature in self.videos:
            probe = probe_video(episode.videos[feature.key])
            if (probe.height, probe.width) != feature.size_hw or len(probe.pts_s) != episode.length:
                raise L.DatasetError(f"{who}: videos.{feature.key}: {len(probe.pts_s)} frames of {probe.width}x"
                                     f"{probe.height}: expected {episode.length} of {feature.size_hw[1]}x"
                                     f"{feature.size_hw[0]}")
        for key, path in paths.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(episode.videos[key], path)

    def _table(self, episode: EpisodeData, index: int, tasks: list[str], extras: dict[str, str]) -> pa.Table:
        n = episode.length
        task, validity = _task_index(episode.task, tasks), _task_index(episode.validity, tasks)
        last = np.arange(n) == n - 1
        columns: dict[str, Any] = {
            L.STATE: _list_column(episode.state), L.ACTION: _list_column(episode.action),
            L.TIMESTAMP: L.timestamps(n, self.spec.rates.dataset_fps), L.FRAME_INDEX: np.arange(n),
            L.EPISODE_INDEX: np.full(n, index), L.INDEX: self._catalog.total_frames + np.arange(n),
            L.TASK_INDEX: np.full(n, task), L.TASK_DESCRIPTION: np.full(n, task), L.VALIDITY: np.full(n, validity),
            L.REWARD: (last & episode.success).astype(np.float32), L.DONE: last,
            **episode.extra_columns}
        schema = L.arrow_schema(self._features(extras))
        return pa.Table.from_pydict({name: columns[name] for name in schema.names}, schema=schema)

    def _record(self, episode: EpisodeData, index: int, tasks: list[str], extras: dict[str, str]) -> None:
        c = self._catalog
        c.tasks, c.extras = tasks, extras
        c.episodes.append({"episode_index": index, "tasks": [episode.task, episode.validity], "length": episode.length})
        c.provenance.append({"episode_index": index, "source_key": episode.source_key, "success": episode.success,
                             "validity": episode.validity, **episode.provenance})
        c.total_frames += episode.length

    # -- metadata --------------------------------------------------------------------------------
    def _features(self, extras: dict[str, str]) -> dict[str, dict[str, Any]]:
        fps = self.spec.rates.dataset_fps
        features = {f.key: L.video_feature(f.size_hw, fps) for f in self.videos}
        features |= {name: L.vector_feature(self.spec.joint_names) for name in L.VECTOR_COLUMNS}
        features |= {name: L.scalar_feature(dtype) for name, dtype in L.SCALAR_COLUMNS.items()}
        features |= {name: L.scalar_feature(dtype) for name, dtype in extras.items()}
        return features

    def _info(self) -> dict[str, Any]:
        c, fps = self._catalog, self.spec.rates.dataset_fps
        episodes = len(c.episodes)
        return {"codebase_version": L.CODEBASE_VERSION, "robot_type": self.spec.robot_type,
                "total_episodes": episodes, "total_frames": c.total_frames, "total_tasks": len(c.tasks),
                "total_videos": episodes * len(self.videos), "total_chunks": -(-episodes // L.CHUNKS_SIZE),
                "chunks_size": L.CHUNKS_SIZE, "fps": int(fps) if float(fps).is_integer() else fps,
                "splits": {"train": f"0:{episodes}"}, "data_path": L.DATA_PATH, "video_path": L.VIDEO_PATH,
                "features": self._features(c.extras or {})}

    def _provenance(self) -> dict[str, Any]:
        views = {key: asdict(cam.model_view) | {"native_hw": [cam.height, cam.width]}
                 for key, cam in self.spec.cameras.items()}
        return {"format": PROVENANCE_FORMAT, "dreamgen_core": __version__,
                "embodiment": {"name": self.spec.name, "content_hash": self.spec.content_hash},
                "robot_type": self.spec.robot_type, "fps": self.spec.rates.dataset_fps, "model_views": views,
                "raw_videos": {f.key: list(f.size_hw) for f in self.videos if f.raw},
                "encoder": asdict(self.encoder), "episodes": self._catalog.provenance,
                **self._stats_source()}

    def _stats_source(self) -> dict[str, Any]:
        o = self.stats_override
        return {} if o is None else {"stats_source": {o.column: o.source}}

    def _write_meta(self, build: Path) -> None:
        meta, c = build / "meta", self._catalog
        info = self._info()
        tables = (pq.read_table(build / L.data_file(e["episode_index"])) for e in c.episodes)
        stat_columns = [k for k, f in info["features"].items() if f["dtype"] != "video"]
        L.write_json(meta / "info.json", info)
        L.write_json(meta / "modality.json", self.spec.modality() | {"video": modality_videos(self.videos)})
        L.write_jsonl(meta / "episodes.jsonl", c.episodes)
        L.write_jsonl(meta / "tasks.jsonl", [{"task_index": i, "task": t} for i, t in enumerate(c.tasks)])
        stats = dataset_stats(tables, stat_columns)
        if self.stats_override is not None:
            stats[self.stats_override.column] = self.stats_override.stats
        L.write_json(meta / "stats.json", stats)
        L.write_json(meta / "provenance.json", self._provenance())

    # -- checks ----------------------------------------------------------------------------------
    @staticmethod
    def _incoming(build: Path) -> Path:
        return build / ".incoming"

    def _require_open(self) -> Path:
        if not self._atomic.is_open:
            raise RuntimeError("DatasetWriter is not open: use it as a context manager or call open()")
        return self._atomic.build

    def _check_compatible(self) -> None:
        meta = self.root / "meta"
        info, provenance = L.read_json(meta / "info.json"), L.read_json(meta / "provenance.json")
        theirs, ours = provenance["embodiment"]["content_hash"], self.spec.content_hash
        if theirs != ours:
            raise L.DatasetError(f"{meta / 'provenance.json'}: embodiment.content_hash: {theirs[:16]}: the dataset "
                                 f"was built with another embodiment spec than {self.spec.name} ({ours[:16]})")
        if info["fps"] != self.spec.rates.dataset_fps:
            raise L.DatasetError(f"{meta / 'info.json'}: fps: {info['fps']}: spec {self.spec.name} "
                                 f"says {self.spec.rates.dataset_fps}")
        if provenance.get("stats_source") != self._stats_source().get("stats_source"):
            raise L.DatasetError(f"{meta / 'provenance.json'}: stats_source: {provenance.get('stats_source')}: "
                                 f"appending would need {self._stats_source().get('stats_source')} (e.g. labels of "
                                 "another IDM); write a new dataset")
        theirs_videos = {k: f["shape"][:2] for k, f in info["features"].items() if f["dtype"] == "video"}
        ours_videos = {f.key: list(f.size_hw) for f in self.videos}
        if theirs_videos != ours_videos:
            raise L.DatasetError(f"{meta / 'info.json'}: features: videos {theirs_videos} (height, width): "
                                 f"appending would write {ours_videos}; use the raw size it was built with")

    def _extras_of(self, episode: EpisodeData) -> dict[str, str]:
        """The episode's extra columns (name → dtype), which must be those of the dataset's other episodes."""
        theirs = {name: str(column.dtype) for name, column in episode.extra_columns.items()}
        if self._catalog.extras is not None and theirs != self._catalog.extras:
            raise L.DatasetError(f"episode {episode.source_key!r}: extra_columns: {theirs}: every episode of a "
                                 f"dataset needs the same extra columns, this one has {self._catalog.extras}")
        return theirs


def _task_index(text: str, tasks: list[str]) -> int:
    """Index of `text` in the one annotation table (instructions and validity labels), added if new."""
    if text not in tasks:
        tasks.append(text)
    return tasks.index(text)


def _list_column(matrix: np.ndarray) -> pa.ListArray:
    rows, width = matrix.shape
    offsets = np.arange(0, rows * width + 1, width, dtype=np.int32)
    return pa.ListArray.from_arrays(offsets, pa.array(np.ascontiguousarray(matrix).reshape(-1)))
