"""The IDM's configuration: model (encoder, head, k, H, image size) and training, one frozen tree.

Loaded strictly (`config.build`: unknown keys, wrong types and missing keys name file, key and
value), checked across fields once here, stored whole in the checkpoint's idm.yaml. Encoder and
head options are checked against the chosen implementation's own options dataclass, so a typo in
`encoder_options` fails at load, not deep in a constructor.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dreamgen_core.config import ConfigError, build, read_yaml
from dreamgen_core.registry import Registry
from dreamgen_core.training.settings import TrainSettings

ENCODERS = Registry("IDM encoder", {
    "cnn": "dreamgen_core.idm.encoders.cnn:CnnEncoder",
    "vit": "dreamgen_core.idm.encoders.vit:VitEncoder",
    "siglip": "dreamgen_core.idm.encoders.siglip:SiglipEncoder",
})
HEADS = Registry("IDM action head", {
    "flow": "dreamgen_core.idm.heads.flow:FlowHead",
    "regression": "dreamgen_core.idm.heads.regression:RegressionHead",
})


@dataclass(frozen=True)
class IdmConfig:
    encoder: str = "cnn"                  # ENCODERS key
    head: str = "flow"                    # HEADS key: flow (default) or regression
    k: int = 8                            # second frame: t + k, clamped at the episode's end
    horizon: int = 16                     # actions per chunk: a_t … a_{t+H-1}
    image_hw: tuple[int, int] = (64, 64)  # the model view, downscaled
    encoder_path: str | None = None       # local pretrained weights (siglip)
    encoder_options: dict[str, Any] = field(default_factory=dict)  # the encoder's Options fields
    head_options: dict[str, Any] = field(default_factory=dict)     # the head's Options fields
    width: int = 64                       # token width after the encoder's projection
    fusion_layers: int = 1                # self-attention layers over both frames' tokens and the readouts
    readouts: int = 2                     # learned readout tokens; together they condition the head
    fusion_heads: int = 4
    train: TrainSettings = field(default_factory=TrainSettings)
    source: str = "<defaults>"            # where it came from, for messages

    def to_dict(self) -> dict[str, Any]:
        data = json.loads(json.dumps(asdict(self)))  # tuples → lists, as YAML reads them back
        del data["source"]
        return data


def load_config(path: Path | None = None, overrides: dict[str, Any] | None = None) -> IdmConfig:
    """The defaults, or the YAML file `path`, with `overrides` ("key" or "train.key" → value) applied; checked."""
    data: dict[str, Any] = {}
    source = "<defaults>"
    if path is not None:
        if not Path(path).is_file():
            raise FileNotFoundError(f"IDM config {path} does not exist")
        data = read_yaml(Path(path)) or {}
        source = Path(path).name
        if not isinstance(data, dict):
            raise ConfigError(source, "", data, "must be a mapping of IdmConfig keys")
    data = json.loads(json.dumps(data))
    for key, value in (overrides or {}).items():
        if key.startswith("train."):
            data.setdefault("train", {})[key.split(".", 1)[1]] = value
        else:
            data[key] = value
    steps = (overrides or {}).get("train.steps")
    if isinstance(steps, int) and steps >= 1:  # a shorter run still checkpoints at its end
        data["train"]["checkpoint_every"] = min(data["train"].get("checkpoint_every", TrainSettings.checkpoint_every), steps)
    return config_from_dict(data, source)


def config_from_dict(data: Any, source: str) -> IdmConfig:
    if isinstance(data, dict) and "source" in data:  # set by the loader, never by a file
        raise ConfigError(source, "source", data["source"], "unknown key (the file's name is recorded by the loader)")
    if isinstance(data, dict) and "image_hw" in data and isinstance(data["image_hw"], tuple):
        data = {**data, "image_hw": list(data["image_hw"])}
    config = build(IdmConfig, {**data, "source": source} if isinstance(data, dict) else data, source)
    check(config)
    return config


def check(config: IdmConfig) -> None:
    """Cross-field limits, once; each message names the key and its value."""
    src, t = config.source, config.train
    ENCODERS.check(config.encoder, src, "encoder")
    HEADS.check(config.head, src, "head")
    for key, value in (("k", config.k), ("horizon", config.horizon), ("width", config.width),
                       ("fusion_layers", config.fusion_layers), ("readouts", config.readouts),
                       ("fusion_heads", config.fusion_heads), ("train.steps", t.steps),
                       ("train.batch_size", t.batch_size), ("train.checkpoint_every", t.checkpoint_every)):
        if value < 1:
            raise ConfigError(src, key, value, "must be at least 1")
    if len(config.image_hw) != 2 or min(config.image_hw) < 16:
        raise ConfigError(src, "image_hw", list(config.image_hw), "must be [height, width], each at least 16")
    if config.width % config.fusion_heads:
        raise ConfigError(src, "fusion_heads", config.fusion_heads, f"must divide width {config.width}")
    if t.learning_rate <= 0:
        raise ConfigError(src, "train.learning_rate", t.learning_rate, "must be positive")
    if t.checkpoint_every > t.steps:
        raise ConfigError(src, "train.checkpoint_every", t.checkpoint_every,
                          f"is more than train.steps {t.steps}: the run would never checkpoint before its end")
    if config.encoder == "siglip" and not config.encoder_path:
        raise ConfigError(src, "encoder_path", None, "the siglip encoder needs a local model directory "
                          "(--encoder-path, e.g. /models/siglip2-base-patch16-224)")
    build(ENCODERS.load(config.encoder, src, "encoder").Options, config.encoder_options, src, "encoder_options")
    build(HEADS.load(config.head, src, "head").Options, config.head_options, src, "head_options")

