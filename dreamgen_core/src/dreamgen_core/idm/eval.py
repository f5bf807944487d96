"""`idm eval`: are the IDM's labels actions? Offline errors against baselines, and replays in the sim.

On the real (recorded) episodes of DATASET — held-out ones, the IDM never trained on them — the IDM
predicts a chunk at every frame from the episode's model-view frames, exactly as `idm label` does
for dreams, and is measured twice (per joint, MAE and RMSE; `idm.metrics`), each time beside two
trivial baselines, hold the current state and the mean action (the IDM's training mean):
- chunks: the chunk at t against the recorded a_t … a_{t+H-1} (`metrics.compare_chunks`, the IDM's
  own task: it sees frame t+k, the baselines only what is known at t);
- labels: the temporal ensemble (what a labelled dataset gets) against a_t, per frame. Here holding
  the state is a strong baseline that no labeller of dreams has: a_t is nearly s_{t+1}, and a dream
  has no state.
Joints that did not move in the IDM's training data are left out of the means
(`metrics.moving_joints`); per-joint numbers keep every joint.

Replay (`idm.replay`): for episodes whose provenance names a sim scene (a sim recording's seed and
task; a labelled dream's scene), the actions are executed in the sim from that scene through the
safety monitor. A real episode replays both the IDM's labels and its recorded actions (the
recorded replay is the oracle: it shows what the replay itself can reproduce), with tracking error
against the recorded trajectory; a labelled dream replays its stored labels, and the question is
whether they solve its instruction. A dataset without any sim scene cannot be replayed: asking
for a replay of one is refused.

Outputs: a table on stdout, REPORT_DIR/report.json, REPORT_DIR/eval.png (per-joint MAE of the IDM
and the baselines; replay success and tracking).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dreamgen_core.atomic import write_bytes_atomic, write_text_atomic
from dreamgen_core.dataset.reader import DatasetReader, EpisodeInfo
from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.idm.checkpoint import load_idm
from dreamgen_core.idm.ensemble import temporal_ensemble
from dreamgen_core.idm.errors import IdmError
from dreamgen_core.idm.label import local_device
from dreamgen_core.idm.metrics import baseline_chunks, compare_chunks, moving_joints, per_joint_errors
from dreamgen_core.idm.replay import ReplayResult, replay, scene_of
from dreamgen_core.idm.view import MODEL_VIEW

REPORT, PLOT = "report.json", "eval.png"
METHODS = ("idm", "hold_state", "mean_action")


@dataclass(frozen=True)
class EvalOptions:
    episodes: Sequence[int] | None = None   # None: every real episode
    replay: int | None = None               # episodes to replay; None: every one with a sim scene
    batch: int = 64
    threads: int = 1
    device: str | None = None
    progress: bool = True


@dataclass(frozen=True)
class MethodErrors:
    method: str
    mae: float               # mean over moving joints
    rmse: float
    mae_per_joint: list[float]
    rmse_per_joint: list[float]


@dataclass(frozen=True)
class ReplayRow:
    episode: int
    actions: str             # "idm labels" | "recorded" | "dream labels"
    instruction: str
    result: ReplayResult


@dataclass
class EvalReport:
    dataset: str
    idm: str
    idm_sha256: str
    joints: list[str]
    moving: list[str]
    real_episodes: list[int] = field(default_factory=list)
    methods: list[MethodErrors] = field(default_factory=list)      # chunks vs recorded chunks
    per_frame: list[MethodErrors] = field(default_factory=list)    # ensembled labels vs recorded actions
    replays: list[ReplayRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def method(self, name: str) -> MethodErrors:
        return next(m for m in self.methods if m.method == name)

    def success_rate(self, actions: str) -> tuple[int, int]:
        rows = [r for r in self.replays if r.actions == actions]
        return sum(r.result.success for r in rows), len(rows)

    def table(self) -> str:
        lines = []
        if self.methods:
            lines.append(f"{len(self.real_episodes)} real episodes, mean over {len(self.moving)} moving joints (rad)")
            lines.append(f"  {'method':<14}{'chunk MAE':>11}{'chunk RMSE':>12}{'frame MAE':>11}{'frame RMSE':>12}")
            lines += [f"  {c.method:<14}{c.mae:>11.4f}{c.rmse:>12.4f}{f.mae:>11.4f}{f.rmse:>12.4f}"
                      for c, f in zip(self.methods, self.per_frame)]
            lines.append("  (chunk: the chunk at t vs a_t..a_t+H-1; frame: the ensembled label vs a_t)")
        for actions in ("idm labels", "recorded", "dream labels"):
            rows = [r for r in self.replays if r.actions == actions]
            if not rows:
                continue
            solved, total = self.success_rate(actions)
            tracked = [r.result.tracking_rmse for r in rows if r.result.tracking_rmse is not None]
            tracking = f", tracking RMSE {np.mean(tracked):.4f} rad" if tracked else ""
            lines.append(f"sim replay of {actions}: {solved}/{total} solve their task{tracking}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["success"] = {a: dict(zip(("solved", "replayed"), self.success_rate(a)))
                           for a in ("idm labels", "recorded", "dream labels")}
        return data


def evaluate(dataset: Path, idm_path: Path, out: Path, options: EvalOptions = EvalOptions()) -> EvalReport:
    """Evaluate the IDM at `idm_path` on `dataset`; writes report.json and eval.png into `out`."""
    import torch

    torch.set_num_threads(options.threads)
    idm = load_idm(Path(idm_path), options.device or local_device())
    reader = DatasetReader(dataset)
    spec = load_embodiment(idm.embodiment)
    if reader.embodiment_hash != idm.embodiment_hash:
        raise IdmError(f"{dataset}: embodiment hash {str(reader.embodiment_hash)[:16]}: the IDM {idm_path} was "
                       f"trained for {idm.embodiment_hash[:16]}")
    moving_mask = moving_joints(idm.stats)
    report = EvalReport(str(dataset), str(idm_path), idm.content_hash, list(spec.joint_names),
                        [n for n, m in zip(spec.joint_names, moving_mask) if m])
    real = [e for e in reader.episodes if e.provenance.get("origin") != "dreamed"]
    if options.episodes is not None:
        known = {e.index for e in real}
        unknown = sorted(set(options.episodes) - known)
        if unknown:
            raise IdmError(f"{dataset}: --episodes {unknown}: not real episodes of the dataset "
                           f"(real: {sorted(known)})")
        real = [e for e in real if e.index in options.episodes]
    dreamed = [e for e in reader.episodes if e.provenance.get("origin") == "dreamed"]
    scened = [e for e in real + dreamed if scene_of(e.provenance) is not None]
    if options.replay and not scened:
        raise IdmError(f"{dataset}: no episode names a sim scene (a sim recording's provenance source 'sim' with "
                       "seed and task, or a labelled dream's scene): there is nothing to replay; pass --replay 0")
    to_replay = {e.index for e in scened[:options.replay if options.replay is not None else len(scened)]}
    if not scened:
        report.notes.append("no episode names a sim scene: no replay (a real robot's data)")
    chunks: list[np.ndarray] = []
    frames: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {m: [] for m in METHODS}
    recorded: list[tuple[np.ndarray, np.ndarray]] = []  # (action, state) per real episode
    for info in tqdm(real + dreamed, unit="episode", desc="idm eval", disable=not options.progress):
        arrays = reader.arrays(info.index)
        scene = scene_of(info.provenance)
        if info.provenance.get("origin") == "dreamed":
            if info.index in to_replay and scene is not None:
                result = replay(spec, scene, arrays.action, reader.fps)
                report.replays.append(ReplayRow(info.index, "dream labels", info.task, result))
            continue
        predicted = idm.predict_episode(reader.frames(info.index), _seed(info), MODEL_VIEW, options.batch)
        labels = temporal_ensemble(predicted)
        report.real_episodes.append(info.index)
        chunks.append(predicted)
        recorded.append((arrays.action, arrays.state))
        trivial = baseline_chunks(arrays.state, idm.stats, 1)  # per frame: a chunk of one
        for method, values in {"idm": labels, **{k: v[:, 0] for k, v in trivial.items()}}.items():
            frames[method].append((values, arrays.action))
        if info.index in to_replay and scene is not None:
            for actions, values in (("idm labels", labels), ("recorded", arrays.action)):
                result = replay(spec, scene, values, reader.fps, arrays.state)
                report.replays.append(ReplayRow(info.index, actions, info.task, result))
    if recorded:
        compared = compare_chunks({"idm": chunks}, [a for a, _ in recorded], [s for _, s in recorded], idm.stats,
                                  idm.config.horizon)
        report.methods = [MethodErrors(m, compared.mean_mae(m), compared.mean_rmse(m), _floats(compared.mae[m]),
                                       _floats(compared.rmse[m])) for m in METHODS]
        report.per_frame = [_errors(m, frames[m], moving_mask) for m in METHODS]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / REPORT, json.dumps(report.to_dict(), indent=1) + "\n")
    plot(report, out / PLOT)
    return report


def _seed(info: EpisodeInfo) -> int:
    """A labelling seed from the episode itself (its source key), as `idm label` seeds a dream from its video."""
    return int(hashlib.sha256(str(info.provenance.get("source_key", info.index)).encode()).hexdigest()[:8], 16)


def _errors(method: str, pairs: list[tuple[np.ndarray, np.ndarray]], moving: np.ndarray) -> MethodErrors:
    predicted = np.concatenate([p for p, _ in pairs])
    actual = np.concatenate([a for _, a in pairs])
    mae, rmse = per_joint_errors(predicted, actual)
    return MethodErrors(method, float(np.mean(mae[moving])), float(np.mean(rmse[moving])), _floats(mae), _floats(rmse))


def _floats(values: np.ndarray) -> list[float]:
    return [float(v) for v in values]


def plot(report: EvalReport, path: Path) -> None:
    """Per-joint MAE of the IDM and the baselines (moving joints), and replay success and tracking."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 7), dpi=100)
    top, bottom = figure.subplots(2, 1, gridspec_kw={"height_ratios": [3, 2]})
    moving = [report.joints.index(n) for n in report.moving]
    x = np.arange(len(moving))
    for offset, m in enumerate(report.methods):
        top.bar(x + (offset - 1) * 0.27, [m.mae_per_joint[i] for i in moving], width=0.27,
                label=f"{m.method} (mean {m.mae:.3f})")
    top.set_xticks(x, [report.joints[i].removesuffix("_joint") for i in moving], rotation=60, ha="right", fontsize=7)
    top.set_ylabel("chunk MAE vs recorded actions (rad)")
    top.set_title(f"IDM labels on {len(report.real_episodes)} real episodes" if report.methods else
                  "no real episodes: no label errors")
    if report.methods:
        top.legend()
    kinds = [a for a in ("idm labels", "recorded", "dream labels") if any(r.actions == a for r in report.replays)]
    rates = [report.success_rate(a) for a in kinds]
    bottom.bar(np.arange(len(kinds)), [s / t for s, t in rates], color="tab:green")
    for i, (s, t) in enumerate(rates):
        bottom.text(i, s / t, f"{s}/{t}", ha="center", va="bottom")
    bottom.set_xticks(np.arange(len(kinds)), kinds)
    bottom.set_ylim(0, 1.15)
    bottom.set_ylabel("sim replay success")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    write_bytes_atomic(path, buffer.getvalue())
