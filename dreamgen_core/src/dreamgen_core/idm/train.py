"""`dreamgen idm train`: the IDM trained on datasets of demos, resumable, on one or several devices.

    from dreamgen_core.idm.train import train
    outcome = train([Path("demos")], Path("runs/idm"), overrides={"train.steps": 500})

Samples are every frame t of every episode (`samples.TrainingSet`); actions are normalized with
the stats of exactly these datasets' actions (`stats.ActionStats.of`, never their stats.json). The
model starts from weights seeded by train.seed, and the shared step loop (`training.loop`) draws
each step's samples and noise from (seed, step, process): a run killed at any moment and started
again with the same command resumes from its newest checkpoint (CKPT/checkpoints/, every
train.checkpoint_every steps) and ends with the weights an uninterrupted run ends with, bit for bit
on the same machine. A larger --steps extends a finished run; a CKPT trained with another config or
other datasets is refused. CKPT/run.json says how far it got; CKPT/model.safetensors + idm.yaml
(`checkpoint.save_idm`) are written at the end, idm.yaml last.

Several GPUs: `accelerate launch --multi_gpu --num_processes N -m dreamgen_core.cli.main idm train
DATASET --out CKPT`; each process takes its share of every batch (train.batch_size must divide
by N), gradients are averaged, only the main process writes. On CUDA train.mixed_precision (bf16)
applies; the CPU trains in fp32. (Checked here on the CPU only: this machine has no GPU.)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from dreamgen_core import __version__
from dreamgen_core.atomic import write_text_atomic
from dreamgen_core.dataset.reader import DatasetReader
from dreamgen_core.embodiment import Embodiment, load_embodiment
from dreamgen_core.idm.checkpoint import IDM_YAML, WEIGHTS, TrainedOn, save_idm
from dreamgen_core.idm.config import IdmConfig, load_config
from dreamgen_core.idm.errors import IdmError
from dreamgen_core.idm.model import IdmNet, image_tensor
from dreamgen_core.idm.samples import TrainingSet, load_episodes
from dreamgen_core.idm.stats import ActionStats
from dreamgen_core.idm.view import model_camera
from dreamgen_core.training.checkpoints import resume_checkpoint
from dreamgen_core.training.devices import make_accelerator
from dreamgen_core.training.hashing import fingerprint
from dreamgen_core.training.loop import LOSS_CSV, LOSS_PNG, LoopSettings, run_steps
from dreamgen_core.training.run_lock import run_lock
from dreamgen_core.training.seeds import derive_seed

RUN_FILE = "run.json"
RUN_FORMAT = "dreamgen.idm.run/1"
CACHE = "cache"


@dataclass(frozen=True)
class TrainOutcome:
    out: Path
    steps_done: int
    resumed_from: int        # 0: a fresh start
    already_finished: bool
    episodes: int
    samples: int
    weights_sha256: str
    main_process: bool       # under `accelerate launch`, only the main process reports

    def describe(self) -> str:
        if self.already_finished:
            return f"{self.out}: already finished ({self.steps_done} steps); nothing to do"
        start = f"resumed at step {self.resumed_from}" if self.resumed_from else "from the start"
        return (f"{self.out}: trained the IDM on {self.samples} samples of {self.episodes} episodes, {start}, "
                f"to step {self.steps_done}\nwrote {self.out / WEIGHTS} (sha256 {self.weights_sha256}), "
                f"{self.out / IDM_YAML}, {self.out / LOSS_CSV}, {self.out / LOSS_PNG}")


def train(datasets: Sequence[Path], out: Path, *, config: Path | IdmConfig | None = None,
          overrides: dict[str, Any] | None = None, device: str | None = None, progress: bool = True) -> TrainOutcome:
    """Train (or resume, or extend) the IDM checkpoint `out` on `datasets`; see the module doc."""
    out = Path(out)
    cfg = config if isinstance(config, IdmConfig) else load_config(config, overrides)
    if isinstance(config, IdmConfig) and overrides:
        raise IdmError("train: pass overrides with a config file, not with an IdmConfig")
    accelerator = make_accelerator(device, cfg.train.mixed_precision, IdmError)
    if cfg.train.batch_size % accelerator.num_processes:
        raise IdmError(f"{cfg.source}: train.batch_size {cfg.train.batch_size} does not divide among "
                       f"{accelerator.num_processes} processes")
    readers = [DatasetReader(Path(d)) for d in datasets]
    spec = _embodiment(readers)
    video_key = readers[0].model_view_key
    if any(r.model_view_key != video_key for r in readers):
        raise IdmError(f"datasets have different model views: {', '.join(f'{r.root}: {r.model_view_key}' for r in readers)}")
    main = accelerator.is_main_process
    with run_lock(out, main, "dreamgen idm train", IdmError):
        prints = [fingerprint(r.root) for r in readers]
        trained_on = [TrainedOn(str(r.root.resolve()), f, len(r.episodes), sum(e.length for e in r.episodes))
                      for r, f in zip(readers, prints)]
        identity = {"format": RUN_FORMAT, "config": _identity(cfg), "datasets": [vars(d) for d in trained_on]}
        previous = _previous(out, identity, cfg.train.steps)
        if previous.get("finished") and previous["steps_done"] == cfg.train.steps:
            return TrainOutcome(out, cfg.train.steps, cfg.train.steps, True, sum(d.episodes for d in trained_on),
                                sum(d.frames for d in trained_on), previous["weights_sha256"], main)
        episodes = load_episodes(readers, prints, model_camera(spec, video_key), cfg.image_hw, out / CACHE,
                                 progress and main)
        stats = ActionStats.of([e.actions for e in episodes])
        samples = TrainingSet(episodes, stats, cfg.k, cfg.horizon)
        torch.manual_seed(derive_seed(cfg.train.seed, "init"))  # every run of this config starts from the same weights
        if not stats.active.any():
            raise IdmError(f"{', '.join(str(r.root) for r in readers)}: no action dimension varies; nothing to learn")
        net = IdmNet(cfg, int(stats.active.sum())).to(accelerator.device)
        net.train()
        params = {n: p for n, p in net.named_parameters() if p.requires_grad}
        optimizer = accelerator.prepare_optimizer(torch.optim.AdamW(
            list(params.values()), lr=cfg.train.learning_rate, weight_decay=cfg.train.weight_decay))
        start, elapsed = resume_checkpoint(out, params, optimizer, accelerator.device, IdmError)
        state = {**identity, "steps_total": cfg.train.steps, "steps_done": start, "finished": False,
                 "weights_sha256": None, "dreamgen_version": __version__}
        if main:
            _write_run(out, state)

        def loss_fn(indices: list[int], noise: torch.Generator) -> torch.Tensor:
            first, second, chunks = samples.batch(indices)
            return net.loss(image_tensor(first, accelerator.device), image_tensor(second, accelerator.device),
                            torch.from_numpy(chunks).to(accelerator.device), noise)

        def nonfinite(loss: float, step: int) -> Exception:
            return IdmError(f"{out}: loss is {loss} at step {step}; lower train.learning_rate (the last checkpoint is kept)")

        t = cfg.train
        run_steps(out, LoopSettings(t.steps, t.batch_size, t.seed, t.max_grad_norm, t.checkpoint_every, "idm train"),
                  len(samples), loss_fn, params, optimizer, accelerator, start, elapsed,
                  lambda done: _write_run(out, {**state, "steps_done": done}), nonfinite)
        digest = ""
        if main:
            net.eval()
            digest = save_idm(out, net, cfg, spec, video_key, stats, trained_on, t.steps)
            _write_run(out, {**state, "steps_done": t.steps, "finished": True, "weights_sha256": digest})
        accelerator.wait_for_everyone()
    return TrainOutcome(out, t.steps, start, False, len(episodes), len(samples), digest, main)


def _embodiment(readers: list[DatasetReader]) -> Embodiment:
    names = {r.embodiment for r in readers}
    if len(names) != 1:
        raise IdmError(f"datasets of different embodiments: {', '.join(f'{r.root}: {r.embodiment}' for r in readers)}")
    spec = load_embodiment(names.pop())
    for reader in readers:
        if reader.embodiment_hash != spec.content_hash:
            raise IdmError(f"{reader.root}: recorded with {spec.name} spec hash {str(reader.embodiment_hash)[:16]}, "
                           f"the installed spec is {spec.content_hash[:16]}: its action layout may differ")
    return spec


def _identity(config: IdmConfig) -> dict[str, Any]:
    """What must not change across a resume: everything but the step count (a longer run extends)."""
    data = config.to_dict()
    for key in ("steps", "checkpoint_every"):
        data["train"].pop(key)
    return data


def _previous(out: Path, identity: dict[str, Any], steps: int) -> dict[str, Any]:
    """The run.json of a run in `out` that this one continues ({} for a fresh start); IdmError if it is another run."""
    path = out / RUN_FILE
    if not path.is_file():
        if any(p.name not in (".train.lock", CACHE) for p in out.glob("*")):
            raise IdmError(f"{out}: exists and is not an IDM run (no {RUN_FILE}); choose a new --out")
        return {}
    previous = json.loads(path.read_text(encoding="utf-8"))
    for key, what in (("format", "format"), ("config", "IDM config"), ("datasets", "datasets (paths or contents)")):
        if previous.get(key) != identity[key]:
            raise IdmError(f"{path}: was trained with other {what} than given now; resume with the same datasets "
                           "and config (only --steps may grow), or choose a new --out")
    if steps < previous["steps_done"]:
        raise IdmError(f"{out}: has trained {previous['steps_done']} steps already, more than the {steps} asked for")
    return previous


def _write_run(out: Path, state: dict[str, Any]) -> None:
    write_text_atomic(out / RUN_FILE, json.dumps(state, indent=1) + "\n")
