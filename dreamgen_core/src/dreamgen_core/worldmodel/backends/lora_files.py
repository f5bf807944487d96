"""LoRA files in diffusers' format that a stock pipeline loads at the strength they were trained at.

Saving goes through the pipeline class's own `save_lora_weights` with the adapter's peft config as
metadata: without it the stock loader assumes alpha = rank and a LoRA trained with another alpha
loads at the wrong strength, silently. Loading goes through the stock loader too, and then checks
what the loader only logs: a file whose keys match no module loads as nothing ("No LoRA keys
associated ... found"), and one with some unmatched keys still changes the output. Every tensor of
the file must be found in the denoiser afterwards with its value, or the load is an error and the
half-loaded adapter is removed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from dreamgen_core.worldmodel.errors import WorldModelError

LORA_WEIGHT_NAME = "pytorch_lora_weights.safetensors"  # diffusers' default name, what `load_lora_weights(dir)` finds
METADATA_KEY = "lora_adapter_metadata"                 # diffusers' key in the safetensors header
PREFIX = "transformer."
ADAPTER = "dreamgen"


def save_lora(saver: Any, transformer: torch.nn.Module, out: Path) -> Path:
    """Write the denoiser's one LoRA adapter into directory `out` through `saver.save_lora_weights`."""
    from peft.utils import get_peft_model_state_dict

    configs = getattr(transformer, "peft_config", {})
    if len(configs) != 1:
        raise WorldModelError(f"{type(transformer).__name__} carries {len(configs)} LoRA adapters "
                              f"({', '.join(configs) or 'none'}); saving needs exactly one (train in lora mode)")
    (name, config), = configs.items()
    layers = get_peft_model_state_dict(transformer, adapter_name=name)
    out.mkdir(parents=True, exist_ok=True)
    saver.save_lora_weights(out, transformer_lora_layers=layers,
                            transformer_lora_adapter_metadata=config.to_dict())
    return out / LORA_WEIGHT_NAME


def read_lora(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The tensors of a LoRA file and its adapter metadata (diffusers keys: `transformer.r`, ...)."""
    from safetensors import safe_open

    if not path.is_file():
        raise WorldModelError(f"LoRA file {path} does not exist")
    with safe_open(str(path), framework="pt") as f:
        tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (safe_open is not a mapping)
        header = f.metadata() or {}
    if METADATA_KEY not in header:
        raise WorldModelError(f"{path}: no adapter metadata ({METADATA_KEY}) in its header; the stock loader "
                              "would load it with alpha = rank. Re-save it with transformer_lora_adapter_metadata")
    return tensors, json.loads(header[METADATA_KEY])


def load_lora_checked(transformer: torch.nn.Module, path: Path, load: Callable[[str, str], None]) -> int:
    """Run the stock `load(path, adapter_name)` and require every tensor of `path` in `transformer`;
    returns how many LoRA tensors matched."""
    from peft.utils import get_peft_model_state_dict

    tensors, metadata = read_lora(path)
    expected = {k.removeprefix(PREFIX): v for k, v in tensors.items() if k.startswith(PREFIX)}
    kind = type(transformer).__name__
    if not expected:
        raise WorldModelError(f"{path}: holds no `{PREFIX}*` LoRA tensors for the {kind} (keys like {next(iter(tensors), '-')})")
    try:
        load(str(path), ADAPTER)
    except (ValueError, RuntimeError, KeyError) as exc:
        _drop(transformer)
        raise WorldModelError(f"{path}: is not a LoRA for this {kind}: {str(exc).splitlines()[0]}") from exc
    loaded = get_peft_model_state_dict(transformer, adapter_name=ADAPTER) if ADAPTER in getattr(
        transformer, "peft_config", {}) else {}
    unmatched = sorted(k for k, v in expected.items()
                       if k not in loaded or loaded[k].shape != v.shape or not torch.equal(loaded[k].cpu(), v))
    if unmatched:
        _drop(transformer)
        raise WorldModelError(f"{path}: {len(unmatched)} of {len(expected)} LoRA tensors match no module of the "
                              f"{kind} (e.g. {unmatched[0]}): a LoRA for another architecture or size")
    config: Any = transformer.peft_config[ADAPTER]  # type: ignore[index]
    rank, alpha = metadata.get(f"{PREFIX}r"), metadata.get(f"{PREFIX}lora_alpha")
    if (rank, alpha) != (config.r, config.lora_alpha):
        _drop(transformer)
        raise WorldModelError(f"{path}: loaded with rank {config.r} alpha {config.lora_alpha}, "
                              f"but its metadata says rank {rank} alpha {alpha}")
    return len(expected)


def _drop(transformer: torch.nn.Module) -> None:
    if ADAPTER in getattr(transformer, "peft_config", {}):
        transformer.delete_adapters(ADAPTER)  # type: ignore[operator]
