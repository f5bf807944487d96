"""A trained policy on disk: CKPT/model.safetensors + CKPT/policy_config.yaml, and `load_policy`.

    ckpt = load_policy(Path("runs/policy"))      # PolicyCheckpoint: model (eval mode), config, norm, ...
    actions = ckpt.model(image, state, state_mask, text, noise)

policy_config.yaml holds everything needed to rebuild and feed the network without the training
data: the config, the norm (`preprocess.PolicyNorm`: state/action ranges, image size, video keys),
the action layout (joint names) and the embodiment's name and content hash, the text encoder spec,
the horizon, the training datasets (path, kind, fingerprint, episodes) and mix, and the sha256 of
model.safetensors. It is written last, so its presence means the weights beside it are complete;
loading checks the hash, so weights swapped under a config are refused.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors.torch import load_file, save

from dreamgen_core.atomic import write_bytes_atomic, write_text_atomic
from dreamgen_core.config import ConfigError, read_yaml
from dreamgen_core.policy.config import PolicyConfig, TextEncoderSpec, config_from_dict, config_to_dict
from dreamgen_core.policy.errors import PolicyError
from dreamgen_core.policy.model import PolicyNet
from dreamgen_core.policy.preprocess import PolicyNorm
from dreamgen_core.training.hashing import file_sha256, verified_sha256

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "policy_config.yaml"
FORMAT = "dreamgen.policy/1"


@dataclass
class PolicyCheckpoint:
    model: PolicyNet
    config: PolicyConfig
    norm: PolicyNorm
    embodiment: str
    embodiment_hash: str
    layout: tuple[str, ...]        # action/state names in vector order
    text_encoder: TextEncoderSpec  # dim: the width the network was trained with
    video_keys: tuple[str, ...]
    horizon: int
    training: dict[str, Any] = field(default_factory=dict)
    weights_sha256: str = ""
    path: Path | None = None


def build_model(config: PolicyConfig, norm: PolicyNorm, text: TextEncoderSpec) -> PolicyNet:
    """A fresh network shaped for this norm (width, cameras) and text width."""
    return PolicyNet(config, dim=norm.dim, num_cameras=len(norm.video_keys), text_dim=text.dim)


def save_policy(directory: Path, ckpt: PolicyCheckpoint) -> str:
    """Write the weights, then the config (atomically, each); returns the weights' sha256."""
    if len(ckpt.layout) != ckpt.norm.dim:
        raise PolicyError(f"{directory}: layout has {len(ckpt.layout)} names but the norm is {ckpt.norm.dim} wide")
    directory.mkdir(parents=True, exist_ok=True)
    weights = directory / MODEL_FILE
    write_bytes_atomic(weights, save({n: t.detach().cpu().contiguous() for n, t in ckpt.model.state_dict().items()}))
    digest = file_sha256(weights)
    document = {
        "format": FORMAT,
        "config": config_to_dict(ckpt.config),
        "norm": ckpt.norm.to_dict(),
        "embodiment": {"name": ckpt.embodiment, "content_hash": ckpt.embodiment_hash},
        "layout": list(ckpt.layout),
        "text_encoder": asdict(ckpt.text_encoder),
        "video_keys": list(ckpt.video_keys),
        "horizon": ckpt.horizon,
        "training": ckpt.training,
        "weights_sha256": digest,
    }
    write_text_atomic(directory / CONFIG_FILE, yaml.safe_dump(document, sort_keys=False))
    return digest


def load_policy(path: Path, device: str = "cpu") -> PolicyCheckpoint:
    """The checkpoint in directory `path`, its network in eval mode; PolicyError naming the file on any problem."""
    path = Path(path)
    config_file, weights = path / CONFIG_FILE, path / MODEL_FILE
    for file in (config_file, weights):
        if not file.is_file():
            raise PolicyError(f"{file}: missing; {path} is not a finished policy checkpoint "
                              "(`dreamgen policy train` writes it at the end of training)")
    try:
        doc = read_yaml(config_file)
    except ConfigError as exc:
        raise PolicyError(str(exc)) from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise PolicyError(f"{config_file}: format: {doc.get('format') if isinstance(doc, dict) else doc!r}: "
                          f"expected {FORMAT!r}")
    try:
        config = config_from_dict(doc["config"], config_file.name)
        norm = PolicyNorm.from_dict(doc["norm"], str(config_file))
        text = TextEncoderSpec(**doc["text_encoder"])
        layout, video_keys = tuple(doc["layout"]), tuple(doc["video_keys"])
        embodiment, horizon = doc["embodiment"], int(doc["horizon"])
        expected_sha = str(doc["weights_sha256"])
    except (KeyError, TypeError, ValueError) as exc:
        raise PolicyError(f"{config_file}: missing or malformed key ({type(exc).__name__}: {exc})") from exc
    if len(layout) != norm.dim or video_keys != norm.video_keys or horizon != config.horizon:
        raise PolicyError(f"{config_file}: inconsistent: layout {len(layout)} names vs norm width {norm.dim}, "
                          f"video_keys {list(video_keys)} vs norm {list(norm.video_keys)}, horizon {horizon} vs "
                          f"config {config.horizon}")
    actual_sha = verified_sha256(weights, expected_sha, config_file.name, PolicyError)
    model = build_model(config, norm, text)
    try:
        model.load_state_dict(load_file(weights, device=device))
    except RuntimeError as exc:
        raise PolicyError(f"{weights}: does not fit the network {config_file.name} describes: {exc}") from exc
    model.to(torch.device(device)).eval()
    return PolicyCheckpoint(model, config, norm, str(embodiment["name"]), str(embodiment["content_hash"]), layout,
                            text, video_keys, horizon, dict(doc.get("training") or {}), actual_sha, path)
