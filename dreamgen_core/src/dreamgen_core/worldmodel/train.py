"""The one training loop every world-model backend uses (`dreamgen wm train`).

    from dreamgen_core.worldmodel.train import train
    outcome = train(Path("clips"), "sim-tiny", Path("runs/sim"), steps=300)   # → TrainOutcome

`train(clips, recipe, out, base=None, steps=None, device=None, cache=None)` reads a clip set
(`clipset.py`), encodes each clip once through `backend.encode` into a content-keyed cache
(`cache.py`, RUN/cache/ by default), and trains `backend.denoiser()` — with a peft LoRA adapter from
`recipe.lora` (only the adapter trains) or in full — plus the backend's `jointly_trained()`
modules, with AdamW and gradient clipping. Without `base` the backend builds its `recipe.tiny`
random-weight model, saved once to RUN/base; every run (fresh or resumed) then loads it from there.

Determinism: the clips of step s (an epoch-wise shuffle) and the noise `backend.loss` draws come
from generators seeded by (recipe.train.seed, s, process), so a run resumed from a checkpoint
draws exactly what an uninterrupted one would and ends with the same weights, bit for bit.

Checkpoints: every `checkpoint_every` steps and at the last step, RUN/checkpoints/step_NNNNNN —
an AtomicDir holding the trainable parameters (safetensors), the optimiser state (torch.save,
read back with weights_only=True) and state.json — the last two kept. A run starts from its newest
complete checkpoint; a RUN of another recipe, base model, clip set or backend is refused
(ResumeMismatch). `--steps` may grow a run (finished or not): the loop has no schedule that
depends on the total. RUN/loss.csv gets a row per step (rows past the resumed checkpoint are
dropped on resume); RUN/loss.png is redrawn at each checkpoint. At the end the LoRA (diffusers
format, RUN/lora/) or the full denoiser (RUN/transformer/) is written and run.json says finished.

Devices and scale (accelerate): on CUDA the recipe's mixed precision applies (bf16 for the big
models), on CPU everything is fp32. Several GPUs:

    accelerate launch --multi_gpu --num_processes 8 -m dreamgen_core.cli.main wm train CLIPS \\
        --recipe wan2.1-i2v --base /models/Wan2.1-I2V-14B-480P-Diffusers --out RUN

(`torchrun --nproc_per_node 2 -m dreamgen_core.cli.main wm train ... --device cpu` runs two CPU
processes over gloo, which is how this was checked here; `accelerate launch --cpu` starts only one.)
Each process takes its own share of every batch (train.batch_size must divide by the process
count) with noise of its own (seeded by its rank too), gradients are averaged across processes
before clipping, and only the main process writes.
That is plain data parallelism: each GPU holds the whole model, which suffices for LoRA on a 14B
model in bf16 with gradient checkpointing. Sharding a full fine-tune across GPUs (FSDP, via
`accelerate config` → FSDP) is not wired into this loop yet.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import yaml
from tqdm import tqdm

from dreamgen_core import __version__
from dreamgen_core.atomic import AtomicDir, write_text_atomic
from dreamgen_core.training.checkpoints import resume_checkpoint
from dreamgen_core.training.devices import make_accelerator
from dreamgen_core.training.loop import LoopSettings, run_steps
from dreamgen_core.training.run_lock import run_lock
from dreamgen_core.worldmodel.backend import WorldModelBackend
from dreamgen_core.worldmodel.cache import EncodedCache
from dreamgen_core.worldmodel.clipset import ClipSet, content_key, load_clip, read_clipset
from dreamgen_core.worldmodel.errors import ResumeMismatch, WorldModelError
from dreamgen_core.worldmodel.recipe import BACKENDS, Recipe, check, for_tiny_model, load_recipe
from dreamgen_core.worldmodel.run import (
    FULL_DIR,
    LORA_FILE,
    RECIPE_COPY,
    RUN_META,
    TINY_BASE,
    RunMeta,
    fingerprint,
    recipe_sha256,
    weights_sha256,
)

if TYPE_CHECKING:
    from accelerate import Accelerator

CACHE = "cache"


@dataclass(frozen=True)
class TrainOutcome:
    """What a call did, for the CLI to print: the run's metadata, the clips left out, where it started."""

    meta: RunMeta
    skipped: list[tuple[str, str]]
    resumed_from: int        # 0: a fresh start
    clips_used: int
    main_process: bool       # under `accelerate launch`, only the main process reports


def train(clips: Path, recipe: str | Path, out: Path, *, base: Path | None = None, steps: int | None = None,
          device: str | None = None, cache: Path | None = None) -> TrainOutcome:
    """Train (or resume, or extend) the run `out` on the clip set `clips`; see the module doc."""
    clips, run = Path(clips), Path(out)
    spec = _with_steps(load_recipe(recipe), steps)
    if base is None:
        spec = for_tiny_model(spec)
    accelerator = _accelerator(spec, device)
    clip_set = read_clipset(clips, spec)
    with run_lock(run, accelerator.is_main_process, "dreamgen wm train", WorldModelError):
        previous = RunMeta.read(run) if (run / RUN_META).is_file() else None
        backend: WorldModelBackend = BACKENDS.load(spec.backend, spec.source, "backend")(spec, str(accelerator.device))
        meta = _start(backend, spec, str(recipe), run, base, clips, previous, accelerator)
        if previous is not None and previous.finished and previous.steps_done == spec.train.steps:
            return TrainOutcome(previous, clip_set.skipped, previous.steps_done, len(clip_set.entries),
                                accelerator.is_main_process)
        if accelerator.is_main_process:
            write_text_atomic(run / RECIPE_COPY, _recipe_yaml(spec))
            meta.write(run)
        data = _encode_all(backend, clip_set, cache or run / CACHE, accelerator)
        params = _trainable(backend, spec)
        optimizer = accelerator.prepare_optimizer(torch.optim.AdamW(
            list(params.values()), lr=spec.train.learning_rate, weight_decay=spec.train.weight_decay))
        start, elapsed = resume_checkpoint(run, params, optimizer, accelerator.device, ResumeMismatch)
        _loop(backend, spec, run, data, params, optimizer, accelerator, meta, start, elapsed)
        meta = _finish(backend, spec, run, meta, accelerator)
    return TrainOutcome(meta, clip_set.skipped, start, len(clip_set.entries), accelerator.is_main_process)


def _with_steps(recipe: Recipe, steps: int | None) -> Recipe:
    if steps is None:
        return recipe
    if steps < 1:
        raise WorldModelError(f"--steps {steps}: must be at least 1")
    resized = replace(recipe, train=replace(recipe.train, steps=steps,
                                            checkpoint_every=min(recipe.train.checkpoint_every, steps)))
    check(resized)
    return resized


def _accelerator(recipe: Recipe, device: str | None) -> Accelerator:
    accelerator = make_accelerator(device, recipe.train.mixed_precision, WorldModelError)
    if recipe.train.batch_size % accelerator.num_processes:
        raise WorldModelError(f"{recipe.source}: train.batch_size {recipe.train.batch_size} does not divide among "
                              f"{accelerator.num_processes} processes; each must take an equal share of every batch")
    return accelerator


# --- the run directory ---------------------------------------------------------------------------
def _start(backend: WorldModelBackend, recipe: Recipe, recipe_arg: str, run: Path, base: Path | None, clips: Path,
           previous: RunMeta | None, accelerator: Accelerator) -> RunMeta:
    """Build the model and check that a resumed run is this one; returns the run's metadata as it stands."""
    if base is not None and not base.is_dir():
        raise FileNotFoundError(f"--base {base}: no such directory (a diffusers model directory)")
    if previous is None and any(p.name != ".train.lock" for p in run.glob("*")) and not (run / TINY_BASE).is_dir():
        raise WorldModelError(f"{run}: exists and is not a world-model run (no {RUN_META}); choose a new --out")
    if base is None and accelerator.is_main_process and (previous is None or not (run / TINY_BASE).is_dir()):
        backend.build(None)
        with AtomicDir(run / TINY_BASE) as build:
            backend.save_base(build)
    accelerator.wait_for_everyone()
    base_dir = run / TINY_BASE if base is None else base
    meta = RunMeta(backend=recipe.backend, recipe=recipe_arg, recipe_sha256=recipe_sha256(recipe),
                   base=None if base is None else str(base.resolve()), base_fingerprint=fingerprint(base_dir),
                   clips=str(clips.resolve()), clips_fingerprint=fingerprint(clips), mode=recipe.train.mode,
                   steps_total=recipe.train.steps, steps_done=0, finished=False, weights_sha256=None,
                   dreamgen_version=__version__)
    if previous is not None:
        _check_same_run(run, previous, meta)
        meta = replace(meta, steps_done=previous.steps_done, finished=previous.finished and
                       previous.steps_done == meta.steps_total, weights_sha256=previous.weights_sha256)
    backend.build(base_dir)
    return meta


def _check_same_run(run: Path, previous: RunMeta, meta: RunMeta) -> None:
    if meta.steps_total < previous.steps_done:
        raise ResumeMismatch(f"{run}: has trained {previous.steps_done} steps already, more than the {meta.steps_total} "
                             "asked for; pass --steps of at least that, or choose a new --out")
    for key, what in (("backend", "backend"), ("recipe_sha256", "recipe"), ("mode", "train.mode"),
                      ("base", "--base"), ("base_fingerprint", "base model"), ("clips_fingerprint", "clip set")):
        before, now = getattr(previous, key), getattr(meta, key)
        if before != now:
            raise ResumeMismatch(f"{run}: belongs to another {what} ({key} {before!r} in {RUN_META}, now {now!r}); "
                                 "resume with the same recipe, --base and clips, or choose a new --out")


def _recipe_yaml(recipe: Recipe) -> str:
    data = json.loads(json.dumps(asdict(recipe)))  # tuples → lists, which load_recipe reads back
    del data["source"]
    return yaml.safe_dump(data, sort_keys=False)


# --- data ----------------------------------------------------------------------------------------
def _encode_all(backend: WorldModelBackend, clip_set: ClipSet, directory: Path,
                accelerator: Accelerator) -> list[dict[str, torch.Tensor]]:
    """Every usable clip, encoded once: each process encodes its share into the cache, then all read it."""
    cache = EncodedCache(directory)
    fingerprint_ = backend.encoder_fingerprint()
    v = backend.recipe.video
    keys = [content_key(e, backend.recipe.backend, fingerprint_, v) for e in clip_set.entries]
    mine = list(range(accelerator.process_index, len(keys), accelerator.num_processes))
    with torch.no_grad():
        for i in tqdm(mine, desc="encode clips", unit="clip", disable=not accelerator.is_main_process):
            entry = clip_set.entries[i]
            cache.get_or_encode(keys[i], lambda: backend.encode(load_clip(entry, v)))  # noqa: B023 (called at once)
    accelerator.wait_for_everyone()
    encoded = []
    for key, entry in zip(keys, clip_set.entries):
        tensors = cache.get(key)
        if tensors is None:
            raise WorldModelError(f"{cache.path(key)}: the encoded clip {entry.name} is missing or unreadable after encoding")
        encoded.append(tensors)
    return encoded


# --- parameters and checkpoints --------------------------------------------------------------------
def _trainable(backend: WorldModelBackend, recipe: Recipe) -> dict[str, torch.nn.Parameter]:
    """Named parameters that train: the LoRA adapter (LoRA mode) or the whole denoiser, plus jointly trained modules."""
    denoiser = backend.denoiser()
    if recipe.train.gradient_checkpointing and getattr(denoiser, "_supports_gradient_checkpointing", False):
        denoiser.enable_gradient_checkpointing()  # type: ignore[operator]
    if recipe.train.mode == "lora":
        from peft import LoraConfig

        denoiser.requires_grad_(False)
        torch.manual_seed(recipe.train.seed)  # LoRA A matrices start random: the same in every run
        lora = recipe.lora
        denoiser.add_adapter(LoraConfig(  # type: ignore[operator]
            r=lora.rank, lora_alpha=lora.alpha,  # type: ignore[arg-type]  # peft says int; alpha/rank is a float ratio
            lora_dropout=lora.dropout, init_lora_weights=True,
            target_modules=list(lora.target_modules or backend.default_lora_targets)))
        # On a bf16 base peft creates the adapter in bf16, where lr-1e-4 updates round away: train it in fp32.
        from diffusers.training_utils import cast_training_params

        cast_training_params(denoiser, dtype=torch.float32)
    else:
        denoiser.requires_grad_(True)
    denoiser.train()
    params = {f"denoiser.{n}": p for n, p in denoiser.named_parameters() if p.requires_grad}
    for name, module in backend.jointly_trained().items():
        module.requires_grad_(True)
        module.train()
        params.update({f"{name}.{n}": p for n, p in module.named_parameters()})
    if not params:
        raise WorldModelError(f"{recipe.source}: nothing to train (no LoRA target matched and no jointly trained module)")
    return params


# --- the loop --------------------------------------------------------------------------------------
def _loop(backend: WorldModelBackend, recipe: Recipe, run: Path, data: list[dict[str, torch.Tensor]],
          params: dict[str, torch.nn.Parameter], optimizer: torch.optim.Optimizer, accelerator: Accelerator,
          meta: RunMeta, start: int, elapsed: float) -> None:
    t = recipe.train

    def loss_fn(indices: list[int], noise: torch.Generator) -> torch.Tensor:
        return backend.loss({key: torch.stack([data[i][key] for i in indices]) for key in data[0]}, noise)

    def nonfinite(loss: float, step: int) -> Exception:
        return WorldModelError(f"{run}: loss is {loss} at step {step}; lower train.learning_rate in "
                               f"{recipe.source} (the last checkpoint is kept)")

    run_steps(run, LoopSettings(t.steps, t.batch_size, t.seed, t.max_grad_norm, t.checkpoint_every, "wm train"),
              len(data), loss_fn, params, optimizer, accelerator, start, elapsed,
              lambda done: replace(meta, steps_done=done, finished=False, weights_sha256=None).write(run), nonfinite)


def _finish(backend: WorldModelBackend, recipe: Recipe, run: Path, meta: RunMeta, accelerator: Accelerator) -> RunMeta:
    """Write the trained weights (LoRA or full) and mark the run finished, run.json last."""
    done = replace(meta, steps_total=recipe.train.steps, steps_done=recipe.train.steps, finished=True)
    if not accelerator.is_main_process:
        accelerator.wait_for_everyone()
        return done
    if recipe.train.mode == "lora":
        with AtomicDir(run / LORA_FILE.parent) as build:
            written = backend.save_lora(build)
            if written != build / LORA_FILE.name:
                raise WorldModelError(f"{recipe.backend}: save_lora wrote {written}, expected {build / LORA_FILE.name}")
        weights = run / LORA_FILE
    else:
        with AtomicDir(run / FULL_DIR) as build:
            backend.save_full(build)
        weights = run / FULL_DIR
    done = replace(done, weights_sha256=weights_sha256(weights))
    done.write(run)
    accelerator.wait_for_everyone()
    return done
