"""The step loop every dreamgen trainer runs: seeded batches, one loss, data-parallel gradients, checkpoints.

The caller gives `loss_fn(indices, noise)`: the loss of the items `indices` (this process's share
of the step's batch, from `batch_indices`) with all randomness drawn from `noise`, a generator
seeded by (seed, step, rank); torch's global RNG (dropout) is reseeded per step too. So a run
resumed from a checkpoint draws exactly what an uninterrupted one would. Gradients are averaged
across processes before clipping (plain data parallelism; each process holds the whole model), and
only the main process writes: a loss.csv row per step, and every `checkpoint_every` steps and at
the last step a checkpoint (`checkpoints.save_checkpoint`), the loss plot and `on_checkpoint(step)`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from tqdm import tqdm

from dreamgen_core.training.checkpoints import save_checkpoint
from dreamgen_core.training.losslog import LossLog
from dreamgen_core.training.seeds import batch_indices, derive_seed

if TYPE_CHECKING:
    from accelerate import Accelerator

LOSS_CSV = "loss.csv"
LOSS_PNG = "loss.png"


@dataclass(frozen=True)
class LoopSettings:
    steps: int
    batch_size: int
    seed: int
    max_grad_norm: float
    checkpoint_every: int
    desc: str          # progress-bar label, e.g. "idm train"


def run_steps(run: Path, settings: LoopSettings, count: int, loss_fn: Callable[[list[int], torch.Generator], torch.Tensor],
              params: dict[str, torch.nn.Parameter], optimizer: torch.optim.Optimizer, accelerator: Accelerator,
              start: int, elapsed: float, on_checkpoint: Callable[[int], None],
              nonfinite: Callable[[float, int], Exception],
              draw: Callable[[int], list[int]] | None = None) -> None:
    """Train steps start+1 … settings.steps over `count` items; `nonfinite(loss, step)` is raised on a NaN/inf loss.
    `draw(step)`: the step's whole batch of item indices, a function of the step only (the policy's weighted
    co-training sampler); by default `batch_indices`, seeded epoch shuffles."""
    s, rank, share = settings, accelerator.process_index, accelerator.num_processes
    log = LossLog(run / LOSS_CSV, start, writer=accelerator.is_main_process)
    bar = tqdm(total=s.steps, initial=start, desc=s.desc, unit="step", disable=not accelerator.is_main_process)
    for step in range(start, s.steps):
        began = time.perf_counter()
        indices = (draw(step) if draw else batch_indices(count, s.batch_size, s.seed, step))[rank::share]
        torch.manual_seed(derive_seed(s.seed, "dropout", step, rank))
        noise = torch.Generator(device=accelerator.device).manual_seed(derive_seed(s.seed, "noise", step, rank))
        with accelerator.autocast():
            loss = loss_fn(indices, noise)
        if not torch.isfinite(loss):
            raise nonfinite(loss.item(), step + 1)
        accelerator.backward(loss)
        if share > 1:  # the caller runs its own modules (no DDP wrapper), so average gradients here
            for param in params.values():
                if param.grad is not None:
                    torch.distributed.all_reduce(param.grad, op=torch.distributed.ReduceOp.AVG)
        accelerator.clip_grad_norm_(list(params.values()), s.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        elapsed += time.perf_counter() - began
        value = float(accelerator.reduce(loss.detach(), reduction="mean").item())
        done = step + 1
        log.append(done, value, optimizer.param_groups[0]["lr"], elapsed)
        bar.update(1)
        bar.set_postfix(loss=f"{value:.4f}")
        if (done % s.checkpoint_every == 0 or done == s.steps) and accelerator.is_main_process:
            save_checkpoint(run, done, elapsed, params, optimizer)
            on_checkpoint(done)
            log.plot(run / LOSS_PNG)
    bar.close()
