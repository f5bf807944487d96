"""The accelerate `Accelerator` for a --device choice: CUDA with the config's mixed precision, CPU in fp32."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from accelerate import Accelerator


def make_accelerator(device: str | None, mixed_precision: str, error: type[Exception]) -> Accelerator:
    """`device` None: cuda when torch sees one, else cpu. Raises `error` for a device that is not there."""
    from accelerate import Accelerator

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda"):
        raise error(f"--device {device!r}: must be cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise error(f"--device cuda: torch sees no CUDA device here (this torch build: {torch.__version__}); "
                    "use --device cpu")
    return Accelerator(cpu=device == "cpu", mixed_precision=mixed_precision if device == "cuda" else "no")


def set_threads(threads: int | None, error: type[Exception]) -> None:
    """`--threads`: torch's CPU threads (None: torch's default, one per core). On a machine other jobs keep
    busy, 1 can be several times faster: each parallel step waits for its slowest thread."""
    if threads is None:
        return
    if threads < 1:
        raise error(f"--threads {threads}: must be at least 1")
    torch.set_num_threads(threads)
