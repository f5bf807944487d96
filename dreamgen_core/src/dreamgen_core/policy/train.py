"""Co-train the policy on real demos and IDM-labelled dreams (`dreamgen policy train`).

    from dreamgen_core.policy.train import train_policy
    outcome = train_policy([Path("demos"), Path("dreams")], Path("runs/policy"), PolicyConfig(),
                           mix={"real": 1.0, "dream": 1.0})

Data (`data.py`): every episode read and its video decoded once; samples drawn by the co-training
sampler (`sampler.py`) at the mix's ratio, through the step loop all dreamgen trainers share
(`training.loop.run_steps`); each observation made model input by `prepare`, the one
function the runtimes call too. The network (`model.py`) starts from torch's generator seeded with
train.seed; AdamW with gradient clipping; the flow head's t and noise, like the batches, are
functions of (seed, step, process), so a run killed at any moment and started again with the same
command resumes from its newest checkpoint and ends with the same weights, bit for bit.

The run directory OUT (= the checkpoint): run.json (identity and progress), checkpoints/ (the
shared step checkpoints, `training.checkpoints`), loss.csv + loss.png (`training.losslog`), and at
the end model.safetensors + policy_config.yaml (`checkpoint.py`). A larger --steps extends a
finished run; a run of another config, mix or other datasets is refused (ResumeMismatch).

Devices (accelerate, `training.devices`): CUDA with train.mixed_precision, CPU in fp32. Several
processes (`accelerate launch` / `torchrun`) each take their share of every batch, gradients are
averaged, only the main process writes — the same data parallelism as `wm train`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dreamgen_core import __version__
from dreamgen_core.atomic import write_text_atomic
from dreamgen_core.policy.checkpoint import PolicyCheckpoint, build_model, save_policy
from dreamgen_core.policy.config import PolicyConfig, config_to_dict
from dreamgen_core.policy.data import OpenedDatasets, TrainingData, load_training_data, open_datasets
from dreamgen_core.policy.errors import PolicyError, ResumeMismatch
from dreamgen_core.policy.sampler import CoTrainingSampler, check_mix
from dreamgen_core.policy.text import load_text_encoder
from dreamgen_core.training.checkpoints import resume_checkpoint
from dreamgen_core.training.devices import make_accelerator
from dreamgen_core.training.loop import LOSS_CSV, LOSS_PNG, LoopSettings, run_steps
from dreamgen_core.training.run_lock import run_lock

RUN_FILE = "run.json"
__all__ = ["LOSS_CSV", "LOSS_PNG", "RUN_FILE", "PolicyTrainOutcome", "RunState", "train_policy"]


@dataclass(frozen=True)
class RunState:
    """RUN/run.json: what the run is (identity) and how far it got."""

    identity: str           # sha256 of the config (less steps/checkpoint_every), mix and dataset fingerprints
    steps_total: int
    steps_done: int
    finished: bool
    weights_sha256: str | None
    dreamgen_version: str

    def write(self, run: Path) -> None:
        write_text_atomic(run / RUN_FILE, json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def read(cls, run: Path) -> RunState:
        try:
            return cls(**json.loads((run / RUN_FILE).read_text()))
        except (ValueError, TypeError) as exc:
            raise PolicyError(f"{run / RUN_FILE}: unreadable ({exc}); choose a new --out") from exc


@dataclass(frozen=True)
class PolicyTrainOutcome:
    run: Path
    state: RunState
    resumed_from: int                   # 0: a fresh start
    weights: dict[str, float]           # the mix trained with
    sizes: dict[str, int]               # samples per kind
    sources: list[dict[str, Any]]       # datasets as the checkpoint records them
    main_process: bool


def train_policy(datasets: Sequence[Path], out: Path, config: PolicyConfig, mix: Mapping[str, float] | None = None,
                 device: str | None = None) -> PolicyTrainOutcome:
    """Train (or resume, or extend) the policy run `out`; see the module doc."""
    run, t = Path(out), config.train
    accelerator = make_accelerator(device, t.mixed_precision, PolicyError)
    if t.batch_size % accelerator.num_processes:
        raise PolicyError(f"train.batch_size {t.batch_size} does not divide among {accelerator.num_processes} processes")
    opened = open_datasets(datasets)
    weights = check_mix(mix, opened.sizes())
    text_encoder = load_text_encoder(config.text, config.source)
    text_spec = replace(config.text, dim=text_encoder.dim)
    with run_lock(run, accelerator.is_main_process, "dreamgen policy train", PolicyError):
        state = _start(run, config, weights, opened, accelerator.is_main_process)
        if state.finished and state.steps_done == t.steps:  # answered before decoding any video
            sources = [{"path": str(r.root), "kind": k, "episodes": len(r.episodes), "clipped_actions": 0,
                        "samples": sum(e.length for e in r.episodes)} for r, k in zip(opened.readers, opened.kinds)]
            return PolicyTrainOutcome(run, state, state.steps_done, weights, opened.sizes(), sources,
                                      accelerator.is_main_process)
        data = load_training_data(opened, config.image_size, config.horizon)
        sources = [s.to_dict() for s in data.sources]
        torch.manual_seed(t.seed)  # the same initial weights in every run of this seed
        model = build_model(config, data.norm, text_spec).to(accelerator.device).train()
        params = dict(model.named_parameters())
        optimizer = accelerator.prepare_optimizer(torch.optim.AdamW(
            list(params.values()), lr=t.learning_rate, weight_decay=t.weight_decay))
        start, elapsed = resume_checkpoint(run, params, optimizer, accelerator.device, ResumeMismatch)
        sampler = CoTrainingSampler(data.sizes(), weights, t.seed)
        texts = {e.instruction: text_encoder.embed(e.instruction) for e in data.episodes}

        def draw(step: int) -> list[int]:
            return [data.item(kind, index) for kind, index in sampler.draw(step, t.batch_size)]

        def loss(items: list[int], noise: torch.Generator) -> torch.Tensor:
            batch = _batch(data, items, texts, accelerator.device)
            return model.loss(batch["image"], batch["state"], batch["state_mask"], batch["text"], batch["actions"], noise)

        def checkpointed(step: int) -> None:
            replace(state, steps_done=step, finished=False, weights_sha256=None).write(run)

        def nonfinite(value: float, step: int) -> Exception:
            return PolicyError(f"{run}: loss is {value} at step {step}; lower train.learning_rate (the last checkpoint is kept)")

        settings = LoopSettings(t.steps, t.batch_size, t.seed, t.max_grad_norm, t.checkpoint_every, "policy train")
        run_steps(run, settings, len(data.items), loss, params, optimizer, accelerator, start, elapsed, checkpointed,
                  nonfinite, draw)
        if accelerator.is_main_process:
            digest = save_policy(run, PolicyCheckpoint(
                model.eval(), config, data.norm, data.embodiment, data.embodiment_hash, data.layout, text_spec,
                data.norm.video_keys, config.horizon,
                {"datasets": sources, "mix": weights, "steps": t.steps, "seed": t.seed, "dreamgen_version": __version__}))
            state = replace(state, steps_total=t.steps, steps_done=t.steps, finished=True, weights_sha256=digest)
            state.write(run)
        accelerator.wait_for_everyone()
    return PolicyTrainOutcome(run, state, start, weights, data.sizes(), sources, accelerator.is_main_process)


def run_identity(config: PolicyConfig, weights: Mapping[str, float], opened: OpenedDatasets) -> str:
    """What must not change across a resume: everything a step computes from (not how many steps, nor
    how often to checkpoint, nor where the datasets lie)."""
    settings = config_to_dict(config)
    del settings["train"]["steps"], settings["train"]["checkpoint_every"]
    document = {"config": settings, "mix": dict(sorted(weights.items())),
                "datasets": list(zip(opened.kinds, opened.fingerprints))}
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def _start(run: Path, config: PolicyConfig, weights: Mapping[str, float], opened: OpenedDatasets, main: bool) -> RunState:
    """The run's state as it stands, checked to be this run; only the main process writes it."""
    identity, steps = run_identity(config, weights, opened), config.train.steps
    if not (run / RUN_FILE).is_file():
        if main and any(p.name != ".train.lock" for p in run.glob("*")):
            raise PolicyError(f"{run}: exists and is not a policy run (no {RUN_FILE}); choose a new --out")
        state = RunState(identity, steps, 0, False, None, __version__)
        if main:
            state.write(run)
        return state
    previous = RunState.read(run)
    if previous.identity != identity:
        raise ResumeMismatch(f"{run}: was trained with another config, --mix or other datasets ({RUN_FILE} identity "
                             f"{previous.identity[:12]}…, now {identity[:12]}…); resume with the same ones or choose a new --out")
    if steps < previous.steps_done:
        raise ResumeMismatch(f"{run}: has trained {previous.steps_done} steps already, more than the {steps} asked for; "
                             "pass --steps of at least that, or choose a new --out")
    finished = previous.finished and previous.steps_done == steps
    state = replace(previous, steps_total=steps, finished=finished)
    if main:
        state.write(run)
    return state


def _batch(data: TrainingData, items: list[int], texts: Mapping[str, np.ndarray],
           device: torch.device) -> dict[str, torch.Tensor]:
    images, states, masks, words, actions = [], [], [], [], []
    for item in items:
        inputs, action, instruction = data.sample(item)
        images.append(inputs.image)
        states.append(inputs.state)
        masks.append(inputs.state_mask)
        words.append(texts[instruction])
        actions.append(action)
    return {name: torch.from_numpy(np.stack(values)).to(device) for name, values in
            (("image", images), ("state", states), ("state_mask", masks), ("text", words), ("actions", actions))}
