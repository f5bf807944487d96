"""The policy's configuration: architecture and training settings, one frozen dataclass tree.

    config = load_policy_config(Path("my_policy.yaml"))     # or PolicyConfig() for the defaults
    config = with_overrides(config, {"train.steps": 500})    # CLI flags, checked the same way

Names pick implementations from registries (`VISION_ENCODERS`, `HEADS` here; `TEXT_ENCODERS` in
`text.py`), imported only when built. Every limit is checked once, in `check`, and every message
names the file, the key and the value (`dreamgen_core.config.ConfigError`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from dreamgen_core.config import ConfigError, build, read_yaml
from dreamgen_core.registry import Registry
from dreamgen_core.training.settings import TrainSettings

VISION_ENCODERS = Registry("policy vision encoder", {
    "cnn": "dreamgen_core.policy.encoders:CnnEncoder",
    "vit": "dreamgen_core.policy.encoders:VitEncoder",
})
HEADS = Registry("policy action head", {
    "flow": "dreamgen_core.policy.heads:FlowHead",
    "regression": "dreamgen_core.policy.heads:RegressionHead",
})
TEXT_ENCODER_NAMES = ("hashed", "hf")  # text.TEXT_ENCODERS; listed here so checking a config imports nothing


@dataclass(frozen=True)
class TextEncoderSpec:
    """Which text encoder embeds the instruction: "hashed" (built in, `dim` wide) or "hf" (a local
    transformers model at `path`, mean-pooled; its width is the model's hidden size)."""

    name: str = "hashed"
    path: str | None = None
    dim: int = 128  # "hashed" only


@dataclass(frozen=True)
class PolicyConfig:
    """Architecture (`encoder`, `head`, sizes) and training (`train`). `flow_steps`: Euler steps of the
    flow head, unrolled inside the network's forward (GR00T N1 uses 4)."""

    encoder: str = "cnn"
    head: Literal["flow", "regression"] = "flow"
    flow_steps: int = 4
    horizon: int = 16
    image_size: int = 64
    hidden: int = 256
    text: TextEncoderSpec = TextEncoderSpec()
    train: TrainSettings = field(default_factory=TrainSettings)
    source: str = "<defaults>"  # the file it came from, for messages


def load_policy_config(path: Path | None) -> PolicyConfig:
    """The defaults (`path` None) or a YAML file of the keys to change, validated, the file named in errors."""
    if path is None:
        return PolicyConfig()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"policy config {path} does not exist")
    data = read_yaml(path)
    if isinstance(data, dict):
        data = {**data, "source": path.name}
    config = build(PolicyConfig, data, path.name)
    check(config)
    return config


def config_from_dict(data: dict[str, Any], source: str) -> PolicyConfig:
    """A config as `config_to_dict` stored it (a checkpoint's policy_config.yaml), checked like a file."""
    config = build(PolicyConfig, {**data, "source": source}, source, "config")
    check(config)
    return config


def config_to_dict(config: PolicyConfig) -> dict[str, Any]:
    data = json.loads(json.dumps(asdict(config)))  # tuples → lists, plain YAML types
    del data["source"]
    return data


def with_overrides(config: PolicyConfig, overrides: dict[str, Any]) -> PolicyConfig:
    """`config` with dotted keys replaced (`{"train.steps": 10, "head": "regression"}`), checked again."""
    data = config_to_dict(config)
    for dotted, value in overrides.items():
        if value is None:
            continue
        *parents, last = dotted.split(".")
        node = data
        for part in parents:
            node = node[part]
        node[last] = value
    updated = build(PolicyConfig, {**data, "source": config.source}, config.source)
    check(updated)
    return updated


def check(config: PolicyConfig) -> None:
    """Cross-field limits, once; the value in each message."""
    src, t = config.source, config.train
    VISION_ENCODERS.check(config.encoder, src, "encoder")
    HEADS.check(config.head, src, "head")
    if config.text.name not in TEXT_ENCODER_NAMES:
        raise ConfigError(src, "text.name", config.text.name, f"unknown text encoder; known: {', '.join(TEXT_ENCODER_NAMES)}")
    if config.text.name == "hf" and not config.text.path:
        raise ConfigError(src, "text.path", config.text.path, "the hf text encoder needs a local model directory")
    for key, value in (("flow_steps", config.flow_steps), ("horizon", config.horizon), ("hidden", config.hidden),
                       ("text.dim", config.text.dim), ("train.steps", t.steps), ("train.batch_size", t.batch_size),
                       ("train.checkpoint_every", t.checkpoint_every)):
        if value < 1:
            raise ConfigError(src, key, value, "must be at least 1")
    if config.image_size < 16 or config.image_size % 16:
        raise ConfigError(src, "image_size", config.image_size, "must be a multiple of 16 (the CNN halves it 4 times)")
    if t.learning_rate <= 0 or t.max_grad_norm <= 0 or t.weight_decay < 0:
        raise ConfigError(src, "train.learning_rate/max_grad_norm/weight_decay",
                          (t.learning_rate, t.max_grad_norm, t.weight_decay), "must be positive (weight decay ≥ 0)")
