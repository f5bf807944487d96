"""A world-model run directory: what `wm train` writes and `wm dream` loads, and its metadata.

    RUN/run.json        RunMeta: backend, recipe, base model and its fingerprint, mode, steps, LoRA hash
    RUN/recipe.yaml     the recipe as used (resume and dreaming read this copy, not the original)
    RUN/base/           the random-weight base pipeline of a tiny model (diffusers format); a real
                        base stays where the user keeps it and is referenced by path + fingerprint
    RUN/cache/          encoded clips under their content key (cache.py; `--cache` puts them elsewhere)
    RUN/checkpoints/step_NNNNNN/   trainable weights, optimiser state, loop state (train.py)
    RUN/lora/pytorch_lora_weights.safetensors   the LoRA in diffusers' format (LoRA mode)
    RUN/transformer/    the fine-tuned denoiser, diffusers `save_pretrained` layout (full mode)
    RUN/loss.csv  RUN/loss.png

Every file here is written atomically; run.json last, so a run that says `finished` has its outputs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from dreamgen_core.atomic import write_text_atomic
from dreamgen_core.training.hashing import file_sha256, fingerprint
from dreamgen_core.worldmodel.backend import WorldModelBackend
from dreamgen_core.worldmodel.errors import WorldModelError
from dreamgen_core.worldmodel.recipe import BACKENDS, Recipe, load_recipe

RUN_META = "run.json"
RECIPE_COPY = "recipe.yaml"
TINY_BASE = "base"
LORA_FILE = Path("lora") / "pytorch_lora_weights.safetensors"
FULL_DIR = "transformer"
@dataclass(frozen=True)
class RunMeta:
    backend: str
    recipe: str                 # the recipe's name or file as the user gave it
    recipe_sha256: str
    base: str | None            # the user's base directory; None: tiny random-weight model in RUN/base
    base_fingerprint: str
    clips: str
    clips_fingerprint: str
    mode: str                   # "lora" | "full"
    steps_total: int
    steps_done: int
    finished: bool
    weights_sha256: str | None  # LoRA file (or full transformer's weights) of the finished run
    dreamgen_version: str

    def write(self, run: Path) -> None:
        write_text_atomic(run / RUN_META, json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def read(cls, run: Path) -> RunMeta:
        path = run / RUN_META
        if not path.is_file():
            raise WorldModelError(f"{run} is not a world-model run: it has no {RUN_META} (train one with `dreamgen wm train`)")
        return cls(**json.loads(path.read_text()))


def weights_sha256(path: Path) -> str:
    """sha256 of a weights file, or of a directory's safetensors files (each one's path and sha256, in order).
    Configs are left out: diffusers writes where a model was loaded from into them."""
    if path.is_file():
        return file_sha256(path)
    digest = hashlib.sha256()
    for file in sorted(path.rglob("*.safetensors")):
        digest.update(f"{file.relative_to(path).as_posix()}\0{file_sha256(file)}\n".encode())
    return digest.hexdigest()


def recipe_sha256(recipe: Recipe) -> str:
    """A recipe's identity for resuming: every field but where it was read from, how many steps and how
    often to checkpoint (neither changes what a step computes, so a run may be extended)."""
    data = asdict(recipe)
    del data["source"]
    del data["train"]["steps"], data["train"]["checkpoint_every"]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


@dataclass
class LoadedRun:
    meta: RunMeta
    recipe: Recipe
    backend: WorldModelBackend


def load_run(run: Path, device: str = "cpu", base: Path | None = None) -> LoadedRun:
    """The trained model of a finished run, ready to `generate`. `base` overrides where a real base now lives."""
    meta = RunMeta.read(run)
    if not meta.finished:
        raise WorldModelError(f"{run} has not finished training ({meta.steps_done}/{meta.steps_total} steps); "
                              "resume it with the same `dreamgen wm train` command")
    recipe = load_recipe(run / RECIPE_COPY)
    backend: WorldModelBackend = BACKENDS.load(recipe.backend, recipe.source, "backend")(recipe, device)
    base_dir = run / TINY_BASE if meta.base is None else (base or Path(meta.base))
    found = fingerprint(base_dir)
    if found != meta.base_fingerprint:
        raise WorldModelError(f"base model {base_dir} is not the one {run} was trained on "
                              f"(fingerprint {found[:12]}, run says {meta.base_fingerprint[:12]})")
    backend.build(base_dir)
    if meta.mode == "lora":
        backend.load_lora(run / LORA_FILE)
    else:
        backend.load_full(run / FULL_DIR)
    return LoadedRun(meta, recipe, backend)
