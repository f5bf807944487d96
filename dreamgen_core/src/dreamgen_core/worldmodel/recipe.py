"""World-model recipes: one YAML per backend carrying the paper's or the model card's defaults.

A recipe names its backend (a key of `BACKENDS`), the video geometry the model trains and dreams
at, the LoRA and optimiser settings, the sampler defaults, and — for tests and CPU runs — the
architecture of a small random-weight model built from config (`tiny:`, keyword arguments the
backend passes to its diffusers classes). `--recipe NAME` picks `recipes/NAME.yaml` shipped with
dreamgen; `--recipe FILE` reads a user's file. Limits across fields are checked once, here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from dreamgen_core.config import ConfigError, build, read_yaml
from dreamgen_core.dataset.clips import CAPTION_PREFIX
from dreamgen_core.registry import Registry

RECIPES_DIR = Path(__file__).with_name("recipes")

BACKENDS = Registry("world-model backend", {
    "wan2.1-i2v": "dreamgen_core.worldmodel.backends.wan:Wan21I2V",
    "wan2.2-ti2v": "dreamgen_core.worldmodel.backends.wan:Wan22TI2V",
    "cosmos-predict2.5": "dreamgen_core.worldmodel.backends.cosmos:CosmosPredict25",
    "cosmos-predict2": "dreamgen_core.worldmodel.backends.cosmos:CosmosPredict2",
    "cogvideox-i2v": "dreamgen_core.worldmodel.backends.cogvideox:CogVideoXI2V",
    "ltx-i2v": "dreamgen_core.worldmodel.backends.ltx:LTXI2V",
    "pixel-wan": "dreamgen_core.worldmodel.backends.pixel_wan:PixelWan",
})


@dataclass(frozen=True)
class VideoConfig:
    """What one training sample and one dream is: `num_frames` frames `frame_stride` clip frames apart."""

    height: int
    width: int
    num_frames: int
    frame_stride: int = 1       # clip frames between two model frames (clips are 16 fps)
    fps: float = 16.0           # frame rate of written dreams


@dataclass(frozen=True)
class LoraConfig:
    rank: int = 4
    alpha: float = 4.0
    dropout: float = 0.0
    target_modules: tuple[str, ...] = ()  # empty: the backend's attention projections


@dataclass(frozen=True)
class TrainConfig:
    mode: Literal["lora", "full"] = "lora"
    steps: int = 1000
    batch_size: int = 1
    learning_rate: float = 1e-4
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    checkpoint_every: int = 100
    seed: int = 0
    gradient_checkpointing: bool = True
    mixed_precision: Literal["no", "bf16", "fp16"] = "bf16"  # applies on GPU; CPU trains in fp32


@dataclass(frozen=True)
class SampleConfig:
    steps: int = 50
    guidance: float = 5.0
    negative_prompt: str = ""


@dataclass(frozen=True)
class Recipe:
    backend: str
    video: VideoConfig
    description: str = ""
    caption_prefix: str = CAPTION_PREFIX
    train: TrainConfig = TrainConfig()
    lora: LoraConfig = LoraConfig()
    sample: SampleConfig = SampleConfig()
    tiny: dict[str, Any] = field(default_factory=dict)  # backend-specific sizes of a random-weight model
    source: str = "<recipe>"  # the file it came from, for messages


def recipe_names() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def load_recipe(name_or_path: str | Path) -> Recipe:
    """A shipped recipe by name, or a YAML file by path; validated, with the file named in every error."""
    path = Path(name_or_path)
    # A name has no folder and no YAML suffix; names may hold dots ("wan2.1-i2v").
    if len(path.parts) == 1 and path.suffix not in (".yaml", ".yml"):
        path = RECIPES_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            raise ConfigError("--recipe", "recipe", str(name_or_path),
                              f"no such recipe; shipped: {', '.join(recipe_names())} (or pass a YAML path)")
    if not path.is_file():
        raise FileNotFoundError(f"recipe file {path} does not exist")
    data = read_yaml(path)
    if isinstance(data, dict):
        data = {**data, "source": path.name}
    recipe = build(Recipe, data, path.name)
    check(recipe)
    return recipe


def check(recipe: Recipe) -> None:
    """Cross-field limits, once; both values in each message."""
    src = recipe.source
    BACKENDS.check(recipe.backend, src, "backend")
    v, t = recipe.video, recipe.train
    for key, value in (("video.height", v.height), ("video.width", v.width), ("video.num_frames", v.num_frames),
                       ("video.frame_stride", v.frame_stride), ("train.steps", t.steps),
                       ("train.batch_size", t.batch_size), ("train.checkpoint_every", t.checkpoint_every),
                       ("lora.rank", recipe.lora.rank), ("sample.steps", recipe.sample.steps)):
        if value < 1:
            raise ConfigError(src, key, value, "must be at least 1")
    if v.num_frames < 2:
        raise ConfigError(src, "video.num_frames", v.num_frames, "an image-to-video model needs at least 2 frames")
    if t.learning_rate <= 0:
        raise ConfigError(src, "train.learning_rate", t.learning_rate, "must be positive")
    if t.checkpoint_every > t.steps:
        raise ConfigError(src, "train.checkpoint_every", t.checkpoint_every,
                          f"is more than train.steps {t.steps}: the run would never checkpoint before its end")


def for_tiny_model(recipe: Recipe) -> Recipe:
    """The recipe a random-weight model (no `--base`) trains and dreams with: `tiny.video` replaces the
    geometry, because a real model's 81 frames at 480p through a toy model would take hours on a CPU
    and teach nothing."""
    video = recipe.tiny.get("video")
    if not video:
        return recipe
    if not isinstance(video, dict):
        raise ConfigError(recipe.source, "tiny.video", video, "must be a mapping of video keys")
    tiny = replace(recipe, video=build(VideoConfig, {**asdict(recipe.video), **video}, recipe.source, "tiny.video"))
    check(tiny)
    return tiny
