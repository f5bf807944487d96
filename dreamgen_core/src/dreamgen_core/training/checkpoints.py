"""Step checkpoints of a training run: RUN/checkpoints/step_NNNNNN, each an AtomicDir of the trainable
parameters (safetensors), the optimiser state (torch.save, read back with weights_only=True) and
state.json {step, elapsed_s}; the newest `keep` are kept and the newest complete one is resumed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from dreamgen_core.atomic import AtomicDir

CHECKPOINTS = "checkpoints"
KEEP_CHECKPOINTS = 2
PARAMS_FILE = "trainable.safetensors"
OPTIMIZER_FILE = "optimizer.pt"
STATE_FILE = "state.json"


def checkpoint_problems(directory: Path) -> list[str]:
    problems = [f"{directory / name} is missing" for name in (PARAMS_FILE, OPTIMIZER_FILE, STATE_FILE)
                if not (directory / name).is_file()]
    if not problems:
        try:
            int(json.loads((directory / STATE_FILE).read_text())["step"])
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(f"{directory / STATE_FILE}: unreadable ({exc})")
    return problems


def save_checkpoint(run: Path, step: int, elapsed: float, params: dict[str, torch.nn.Parameter],
                    optimizer: torch.optim.Optimizer, keep: int = KEEP_CHECKPOINTS) -> None:
    folder = run / CHECKPOINTS
    with AtomicDir(folder / f"step_{step:06d}", validate=checkpoint_problems) as build:
        save_file({n: p.detach().cpu().contiguous() for n, p in params.items()}, build / PARAMS_FILE)
        torch.save(optimizer.state_dict(), build / OPTIMIZER_FILE)
        (build / STATE_FILE).write_text(json.dumps({"step": step, "elapsed_s": elapsed}) + "\n")
    for old in sorted(folder.glob("step_*"))[:-keep]:
        shutil.rmtree(old)
        (folder / f".{old.name}.lock").unlink(missing_ok=True)  # a killed run's, left beside it (we hold the run lock)


def resume_checkpoint(run: Path, params: dict[str, torch.nn.Parameter], optimizer: torch.optim.Optimizer,
                      device: torch.device, error: type[Exception]) -> tuple[int, float]:
    """Load the newest complete checkpoint; returns (its step, training seconds so far), (0, 0.0) without one.
    Raises `error` when it holds other parameter names than `params`."""
    complete = [d for d in sorted((run / CHECKPOINTS).glob("step_*"), reverse=True) if not checkpoint_problems(d)]
    if not complete:
        return 0, 0.0
    latest = complete[0]
    saved = load_file(latest / PARAMS_FILE)
    if set(saved) != set(params):
        raise error(f"{latest / PARAMS_FILE}: holds other parameters than this model trains "
                    f"({len(set(saved) ^ set(params))} names differ, e.g. {min(set(saved) ^ set(params))})")
    with torch.no_grad():
        for name, param in params.items():
            param.copy_(saved[name])
    optimizer.load_state_dict(torch.load(latest / OPTIMIZER_FILE, weights_only=True, map_location=device))
    state = json.loads((latest / STATE_FILE).read_text())
    return int(state["step"]), float(state["elapsed_s"])
