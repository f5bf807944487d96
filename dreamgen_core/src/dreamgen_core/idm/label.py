"""`idm label`: dreams → a GR00T dataset of neural trajectories, actions recovered by the IDM.

For each dream of a `wm dream` directory (`idm.dreams`: video, sidecar, framing, scene):

1. decode it and resample it to the IDM's dataset fps. Dreams run slower than the dataset (sim-tiny:
   9 frames at 16/13 fps, 0.81 s apart; the dataset: 20 fps), so the resampling is explicit and
   nearest-earlier, as clips are cut (`dataset.clips.resample_indices`): dataset frame j shows dream
   frame floor(j · fps_dream / fps_dataset). No pixel is invented; each dream frame is simply held for
   its duration. What that does: most (t, t+k) pairs straddle at most one dream frame change, so the
   IDM sees motion in steps, 0.81 s of dream motion between two of its 0.4 s-apart frames or none;
   the temporal ensemble smooths the steps, but detail between dream frames does not exist to recover;
2. predict a chunk of H actions at every frame t from frames (t, min(t+k, T-1)) (`idm.pair_indices`),
   in batches of `batch` pairs, seeded per dream from its video hash (`DreamItem.seed`), never from
   the worker, so a dream's labels are the same on any worker;
3. per frame, the mean of every chunk covering it (`idm.ensemble.temporal_ensemble`).

The dataset is written through `DatasetWriter` (the converter's writer): state all zeros, the
actions in the layout, task "<DREAM> " + instruction, the model view made from the dream placed
where its FrameView says in a black camera frame (what the IDM saw, and what a policy trained on
the dataset sees); provenance per episode: the dream's sidecar, the IDM (content hash, k, H, ...),
the labelling (seed, resampling, view) and the sim scene when known. meta/stats.json "action" is the
IDM's own training stats (`StatsOverride`, declared in provenance.json stats_source), never a global
file. Success is True: a dream is taken as a demonstration, as DreamGen does (replays test that).

Episodes are written in dream order whatever order workers finish in (a reorder buffer), and
committed every `commit_every` episodes: a killed run keeps what it committed, and a re-run skips
every dream already labelled by the same IDM (idempotency key: dream mp4 sha256 + IDM hash).
Work fans out to Ray actors (`workers` > 1 or a `ray_address`) each with the IDM loaded once, or
runs in this process. Every run ends with the scale check (`idm.scale`) over the whole dataset.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from dreamgen_core import ray_local
from dreamgen_core.atomic import write_text_atomic
from dreamgen_core.dataset import DatasetWriter, EpisodeData
from dreamgen_core.dataset import layout as L
from dreamgen_core.dataset.clips import resample_indices
from dreamgen_core.dataset.reader import DatasetReader
from dreamgen_core.dataset.writer import StatsOverride
from dreamgen_core.embodiment import Embodiment, load_embodiment
from dreamgen_core.idm.checkpoint import Idm, load_idm
from dreamgen_core.idm.dreams import DreamItem, find_dreams
from dreamgen_core.idm.ensemble import temporal_ensemble
from dreamgen_core.idm.errors import IdmError
from dreamgen_core.idm.scale import DEFAULT_RANGE, ScaleReport, check_scale
from dreamgen_core.idm.view import FrameView
from dreamgen_core.video import decode_video, resize

DREAM_PREFIX = "<DREAM> "
REPORT = "label_report.json"
QUANTILES = "q01/q99: the IDM's own when its checkpoint has them, else its training min/max"
RESAMPLING = "nearest-earlier: dataset frame j shows dream frame floor(j * fps_dream / fps_dataset)"
ENSEMBLE = "per frame, the mean of every chunk covering it (chunk at every frame t from frames t, min(t+k, T-1))"


@dataclass(frozen=True)
class LabelOptions:
    workers: int = 1                    # > 1 (or a ray_address): Ray actors; GPUs: one actor per GPU
    ray_address: str | None = None
    view: str | None = None             # how dreams were framed when no clip set records it (idm.dreams)
    scale_range: tuple[float, float] = DEFAULT_RANGE
    batch: int = 64                     # (t, t+k) pairs per IDM call; fixed, so every path batches alike
    threads: int = 1                    # torch CPU threads per labeller (same everywhere: same bits)
    device: str | None = None           # None: cuda when visible, else cpu
    commit_every: int = 16
    progress: bool = True


@dataclass
class LabelReport:
    out: Path
    labelled: list[int] = field(default_factory=list)        # dream indices this run wrote, in dataset order
    skipped: list[int] = field(default_factory=list)         # labelled by an earlier run with this IDM
    completion_order: list[int] = field(default_factory=list)  # as workers finished
    actors: int = 0
    scale: ScaleReport | None = None


@dataclass(frozen=True)
class IdmIdentity:
    """What the dataset records of the IDM, and the spec it labels for."""

    path: str
    content_hash: str
    embodiment: str
    embodiment_hash: str
    k: int
    horizon: int
    encoder: str
    head: str
    stats: dict[str, list[float]]


class Labeller:
    """Loads the IDM once; `label(item, mp4)` → float32 [T, D] actions at the dataset fps. Runs the same
    in this process and as a Ray actor."""

    def __init__(self, idm_path: Path, device: str | None, threads: int, batch: int) -> None:
        import torch

        torch.set_num_threads(threads)
        self.idm = load_idm(Path(idm_path), device or local_device())
        self.spec = load_embodiment(self.idm.embodiment)
        self.batch = batch

    def label(self, item: DreamItem, mp4: bytes) -> np.ndarray:
        frames = resampled(_decode(mp4, item.video), item, self.spec.rates.dataset_fps)
        return label_frames(self.idm, frames, item.seed, item.view, self.batch)


def label_frames(idm: Idm, frames: np.ndarray, seed: int, view: FrameView, batch: int) -> np.ndarray:
    """float32 [T, D] labels of frames [T, h, w, 3] at the dataset fps: a chunk at every t (`Idm.predict_episode`:
    pairs t, min(t+k, T-1), `batch` per call seeded from `seed` by position), then the temporal ensemble."""
    return temporal_ensemble(idm.predict_episode(frames, seed, view, batch))


def label_dreams(dreams: Path, idm_path: Path, out: Path, options: LabelOptions = LabelOptions()) -> LabelReport:
    """Label every dream of `dreams` with the IDM at `idm_path` into the dataset `out`; see the module doc."""
    if options.workers < 1 or options.batch < 1 or options.commit_every < 1 or options.threads < 1:
        raise IdmError(f"--workers {options.workers}, batch {options.batch}, commit_every {options.commit_every} "
                       f"and threads {options.threads} must be at least 1")
    identity = idm_identity(idm_path)
    spec = load_embodiment(identity.embodiment)
    if spec.content_hash != identity.embodiment_hash:
        raise IdmError(f"{idm_path}: embodiment {identity.embodiment} hash {identity.embodiment_hash[:16]}: this "
                       f"checkout's spec is {spec.content_hash[:16]}; label with an IDM trained on this spec")
    items = find_dreams(dreams, spec, options.view)
    done = _labelled_keys(Path(out))
    report = LabelReport(Path(out))
    todo = []
    for item in items:
        if source_key(item, identity) in done:
            report.skipped.append(item.index)
        else:
            todo.append(item)
    with tqdm(total=len(items), initial=len(report.skipped), unit="dream", desc="idm label",
              disable=not options.progress) as bar:
        writer = InOrderWriter(report, todo, spec, identity, options.commit_every, bar.update)
        fan_out = bool(todo) and (options.workers > 1 or options.ray_address is not None)
        try:
            for item, actions in _fan_out(todo, idm_path, options, report) if fan_out else \
                    _serial(todo, idm_path, options):
                writer.put(item, actions)
            writer.close()
        except BaseException:
            writer.abort()
            raise
    report.scale = _scale(Path(out), spec, identity, options.scale_range)
    write_text_atomic(Path(out) / REPORT, _report_json(report, identity))
    return report


def local_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def idm_identity(idm_path: Path) -> IdmIdentity:
    idm = load_idm(Path(idm_path))
    return IdmIdentity(str(Path(idm_path).resolve()), idm.content_hash, idm.embodiment, idm.embodiment_hash,
                       idm.config.k, idm.config.horizon, idm.config.encoder, idm.config.head, stats_dict(idm.stats))


def stats_dict(stats: Any) -> dict[str, list[float]]:
    """The IDM's ActionStats as meta/stats.json holds a column's (mean, std, min, max, q01, q99). A checkpoint
    without quantiles has its min and max stand in for q01 and q99 (QUANTILES says so in the provenance)."""
    values = {name: [float(v) for v in np.asarray(getattr(stats, name), dtype=np.float64)]
              for name in ("mean", "std", "min", "max")}
    for quantile, bound in (("q01", "min"), ("q99", "max")):
        own = getattr(stats, quantile, None)
        values[quantile] = values[bound] if own is None else [float(v) for v in np.asarray(own, dtype=np.float64)]
    return values


def source_key(item: DreamItem, identity: IdmIdentity) -> str:
    """The idempotency key of a labelled dream: its video, its instruction (the same video dreamed for two
    instructions is two episodes) and the IDM that labelled it."""
    instruction = hashlib.sha256(item.meta.instruction.encode("utf-8")).hexdigest()[:16]
    return f"dream:{item.meta.video_sha256}:{instruction}+idm:{identity.content_hash}"


def resampled(frames: np.ndarray, item: DreamItem, dataset_fps: float) -> np.ndarray:
    """The dream's frames at the dataset fps, nearest-earlier (see the module doc)."""
    picks = resample_indices(len(frames), item.meta.fps, dataset_fps)
    if len(picks) < 2:
        raise IdmError(f"{item.video}: {len(frames)} frames at {item.meta.fps:g} fps give {len(picks)} at "
                       f"{dataset_fps:g} fps: too short to label")
    return frames[picks]


def camera_canvas(frame: np.ndarray, view: FrameView, camera_hw: tuple[int, int]) -> np.ndarray:
    """The dream frame where `view` puts it in a black frame of the camera's aspect ratio, at the dream's
    own scale: what the embodiment's model-view transform (ratio-based) then turns into the model view."""
    height = max(2, round(frame.shape[0] / (view.bottom - view.top)))
    width = max(2, round(height * camera_hw[1] / camera_hw[0]))
    r0, r1 = round(view.top * height), round(view.bottom * height)
    c0, c1 = round(view.left * width), round(view.right * width)
    placed = resize(frame, (r1 - r0, c1 - c0))
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    rr0, rr1, cc0, cc1 = max(r0, 0), min(r1, height), max(c0, 0), min(c1, width)
    if rr1 > rr0 and cc1 > cc0:
        canvas[rr0:rr1, cc0:cc1] = placed[rr0 - r0:rr1 - r0, cc0 - c0:cc1 - c0]
    return canvas


def _decode(mp4: bytes, name: Path) -> np.ndarray:
    with tempfile.TemporaryDirectory(prefix="idm-label-") as tmp:
        path = Path(tmp) / "dream.mp4"
        path.write_bytes(mp4)
        frames = decode_video(path).frames
    if not len(frames):
        raise IdmError(f"{name}: holds no frame")
    return frames


def _serial(todo: list[DreamItem], idm_path: Path, options: LabelOptions) -> Iterator[tuple[DreamItem, np.ndarray]]:
    if not todo:
        return
    labeller = Labeller(idm_path, options.device, options.threads, options.batch)
    for item in todo:
        yield item, labeller.label(item, item.video.read_bytes())


def _fan_out(todo: list[DreamItem], idm_path: Path, options: LabelOptions,
             report: LabelReport) -> Iterator[tuple[DreamItem, np.ndarray]]:
    """Ray actors, each with the IDM loaded once, kept busy from one queue; yields as they finish."""
    with ray_local.session(options.ray_address, command="dreamgen idm label") as ray:
        gpus = int(ray.cluster_resources().get("GPU", 0))
        if gpus:
            count, resources, device = min(gpus, len(todo)), {"num_gpus": 1}, options.device or "cuda"
        else:
            cpus = max(1, int(ray.available_resources().get("CPU", 1)))
            count, resources, device = min(options.workers, cpus, len(todo)), {"num_cpus": 1}, options.device or "cpu"
        report.actors = count
        actor_class = ray.remote(**resources)(Labeller)
        idle = [actor_class.remote(Path(idm_path).absolute(), device, options.threads, options.batch)
                for _ in range(count)]
        queue = deque(todo)
        running: dict[Any, tuple[Any, DreamItem]] = {}
        while queue or running:
            while idle and queue:
                item = queue.popleft()
                actor = idle.pop()
                running[actor.label.remote(item, item.video.read_bytes())] = (actor, item)
            (ref,), _ = ray.wait(list(running), num_returns=1)
            actor, item = running.pop(ref)
            idle.append(actor)
            yield item, ray.get(ref)


class InOrderWriter:
    """Adds labelled dreams to the dataset in dream order, whatever order they arrive in (`put`), and
    commits every `commit_every` episodes; `close` commits the rest, `abort` drops the uncommitted ones."""

    def __init__(self, report: LabelReport, todo: list[DreamItem], spec: Embodiment, identity: IdmIdentity,
                 commit_every: int, on_write: Callable[[], None] = lambda: None) -> None:
        self.report, self.todo, self.spec, self.identity = report, todo, spec, identity
        self.override = StatsOverride(L.ACTION, identity.stats, {"kind": "idm", "content_hash": identity.content_hash,
                                                                 "path": identity.path, "quantiles": QUANTILES})
        self.commit_every, self.on_write = commit_every, on_write
        self.pending: dict[int, tuple[DreamItem, np.ndarray]] = {}
        self.position, self.since_commit = 0, 0
        self.writer: DatasetWriter | None = None

    def put(self, item: DreamItem, actions: np.ndarray) -> None:
        self.report.completion_order.append(item.index)
        self.pending[item.index] = (item, actions)
        while self.position < len(self.todo) and self.todo[self.position].index in self.pending:
            ready, labels = self.pending.pop(self.todo[self.position].index)
            if self.writer is None:
                self.writer = DatasetWriter(self.report.out, self.spec, stats_override=self.override)
                self.writer.open()
            added = self.writer.add(episode(ready, labels, self.spec, self.identity))
            (self.report.labelled if added.episode_index is not None else self.report.skipped).append(ready.index)
            self.position, self.since_commit = self.position + 1, self.since_commit + 1
            self.on_write()
            if self.since_commit >= self.commit_every:
                self._commit()

    def close(self) -> None:
        if self.pending:
            raise IdmError(f"labels of dreams {sorted(self.pending)} arrived, but not of every dream before them")
        self._commit()

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()
            self.writer = None

    def _commit(self) -> None:
        if self.writer is not None:
            self.writer.commit()
            self.writer, self.since_commit = None, 0


def episode(item: DreamItem, actions: np.ndarray, spec: Embodiment, identity: IdmIdentity) -> EpisodeData:
    """One labelled dream as the writer takes it."""
    camera_name, camera = next(iter(spec.cameras.items()))
    fps = spec.rates.dataset_fps
    frames = decode_video(item.video).frames
    picks = resample_indices(len(frames), item.meta.fps, fps)
    if len(picks) != len(actions):
        raise IdmError(f"{item.video}: {len(actions)} labels for {len(picks)} frames at {fps:g} fps")

    def canvases() -> Iterator[np.ndarray]:
        shown, last = -1, np.zeros(0)
        for pick in picks:  # the same object for a held frame: the writer transforms it once
            if pick != shown:
                shown, last = pick, camera_canvas(frames[pick], item.view, (camera.height, camera.width))
            yield last

    labelling = {"seed": item.seed, "resampling": RESAMPLING, "fps_dream": item.meta.fps, "fps_dataset": fps,
                 "frames_dream": len(frames), "frames_dataset": len(picks), "ensemble": ENSEMBLE,
                 "view": [item.view.top, item.view.left, item.view.bottom, item.view.right],
                 "view_source": item.view_source, "state": "zeros (a dream has no measured state)",
                 "success": "assumed: a dream is taken as a demonstration (idm eval replays it)"}
    idm = {k: v for k, v in asdict(identity).items() if k != "stats"}
    return EpisodeData(state=np.zeros_like(actions), action=actions, frames={camera_name: canvases()},
                       task=DREAM_PREFIX + item.meta.instruction, source_key=source_key(item, identity), success=True,
                       provenance={"origin": "dreamed", "dream": asdict(item.meta), "idm": idm,
                                   "labelling": labelling, "scene": item.scene.to_dict() if item.scene else None})


def _labelled_keys(out: Path) -> set[str]:
    if not (out / "meta" / "provenance.json").is_file():
        return set()
    return {str(e.get("source_key")) for e in L.read_json(out / "meta" / "provenance.json").get("episodes", [])}


def _scale(out: Path, spec: Embodiment, identity: IdmIdentity, bounds: tuple[float, float]) -> ScaleReport | None:
    if not (out / "meta" / "info.json").is_file():
        return None
    reader = DatasetReader(out)
    labels = [reader.arrays(e.index).action for e in reader.episodes]
    return check_scale(labels, np.asarray(identity.stats["std"]), spec.joint_names, bounds)


def _report_json(report: LabelReport, identity: IdmIdentity) -> str:
    import json

    return json.dumps({"out": str(report.out), "idm": {k: v for k, v in asdict(identity).items() if k != "stats"},
                       "labelled": report.labelled, "skipped": report.skipped,
                       "completion_order": report.completion_order, "actors": report.actors,
                       "scale": report.scale.to_dict() if report.scale else None}, indent=1) + "\n"
