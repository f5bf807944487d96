"""The diffusers world-model backends: tiny random-weight models built from each recipe's `tiny:` block
(text encoder and tokenizer included) train 2 LoRA steps through the shared loop, and a fresh stock
diffusers pipeline with that LoRA reproduces the trained model's video; plus the LoRA file itself,
foreign LoRAs, unknown backends and bad tiny configs."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import diffusers
import numpy as np
import pytest
import torch
import yaml
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from dreamgen_core.config import ConfigError, read_yaml
from dreamgen_core.training.checkpoints import CHECKPOINTS, PARAMS_FILE
from dreamgen_core.video import encode_video
from dreamgen_core.worldmodel.backend import Clip
from dreamgen_core.worldmodel.backends.cosmos import NoGuardrail
from dreamgen_core.worldmodel.backends.diffusers_base import DiffusersBackend, to_uint8
from dreamgen_core.worldmodel.errors import WorldModelError
from dreamgen_core.worldmodel.recipe import BACKENDS, RECIPES_DIR, load_recipe
from dreamgen_core.worldmodel.run import FULL_DIR, LORA_FILE, TINY_BASE, load_run
from dreamgen_core.worldmodel.train import train

DIFFUSERS_BACKENDS = ["wan2.1-i2v", "wan2.2-ti2v", "cosmos-predict2.5", "cosmos-predict2", "cogvideox-i2v", "ltx-i2v"]
RANK, ALPHA = 4, 8.0  # alpha != rank: a loader that ignored the file's metadata would load it at half strength
SIZE, FRAMES = 32, 9
PROMPT = "Use the right hand to push the red cube onto the green target."


def tiny_recipe(name: str, path: Path, **train: object) -> Path:
    """The shipped recipe at its tiny geometry, 2 LoRA steps with a learning rate that moves the adapter."""
    data = read_yaml(RECIPES_DIR / f"{name}.yaml")
    data["video"] = {**data["video"], **data["tiny"]["video"], "frame_stride": 1}
    data["train"] = {"mode": "lora", "steps": 2, "batch_size": 1, "learning_rate": 0.1, "checkpoint_every": 2,
                     "gradient_checkpointing": True, "mixed_precision": "no", **train}
    data["lora"] = {"rank": RANK, "alpha": ALPHA}
    data["sample"] = {"steps": 2, "guidance": 2.0}
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny models spend their time in thread hand-offs: one thread is several times faster on a shared CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 32x32 clip in export-clips' layout: a red cube sliding over a grey table."""
    root = tmp_path_factory.mktemp("clips") / "clips"
    (root / "videos").mkdir(parents=True)
    (root / "metas").mkdir()
    rows = []
    for k in range(1):
        frames = []
        for j in range(FRAMES):
            frame = np.full((SIZE, SIZE, 3), 90, np.uint8)
            frame[12:20, 4 + 2 * j + k:12 + 2 * j + k] = (200, 30, 30)
            frames.append(frame)
        name = f"episode_{k:06d}"
        encode_video(root / "videos" / f"{name}.mp4", frames, 16, (SIZE, SIZE))
        (root / "metas" / f"{name}.txt").write_text(PROMPT + "\n")
        rows.append((f"videos/{name}.mp4", PROMPT, FRAMES, 16.0, k))
    with open(root / "metadata.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("video_path", "caption", "num_frames", "fps", "episode_index"))
        writer.writerows(rows)
    return root


def first_frame() -> np.ndarray:
    frame = np.full((SIZE, SIZE, 3), 90, np.uint8)
    frame[12:20, 4:12] = (200, 30, 30)
    return frame


def trained_backend(name: str, recipe: Path, run: Path) -> DiffusersBackend:
    """The model as the loop left it: the saved base plus the LoRA parameters of its last checkpoint
    (the loop's own safetensors, not the diffusers LoRA file under test)."""
    spec = load_recipe(recipe)
    backend: DiffusersBackend = BACKENDS.load(name)(spec)
    backend.build(run / TINY_BASE)
    denoiser = backend.denoiser()
    denoiser.add_adapter(LoraConfig(r=RANK, lora_alpha=ALPHA, target_modules=list(backend.default_lora_targets)))
    saved = load_file(run / CHECKPOINTS / "step_000002" / PARAMS_FILE)
    lora = {name: p for name, p in denoiser.named_parameters() if "lora_" in name}
    assert {k.removeprefix("denoiser.") for k in saved} == set(lora)
    with torch.no_grad():
        for key, value in saved.items():
            lora[key.removeprefix("denoiser.")].copy_(value)
    return backend


def stock_pipeline(name: str, base: Path) -> diffusers.DiffusionPipeline:
    pipeline_class = getattr(diffusers, BACKENDS.load(name).pipeline_class)
    extra = {"safety_checker": NoGuardrail()} if name.startswith("cosmos") else {}
    pipe = pipeline_class.from_pretrained(str(base), **extra)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def stock_load(name: str, pipe: diffusers.DiffusionPipeline, lora: Path) -> None:
    if name == "cosmos-predict2":  # its pipeline has no LoRA loader: the transformer's, with the file's metadata
        state, metadata = diffusers.Cosmos2_5_PredictBasePipeline.lora_state_dict(str(lora), return_lora_metadata=True)
        pipe.transformer.load_lora_adapter(state, prefix="transformer", metadata=metadata, adapter_name="trained")
    else:
        pipe.load_lora_weights(str(lora), adapter_name="trained")


def run_stock(backend: DiffusersBackend, pipe: diffusers.DiffusionPipeline, output_type: str) -> np.ndarray:
    """The stock pipeline's call for the test's first frame and prompt, seed 7: uint8 frames or float latents."""
    kwargs = backend.pipeline_call(pipe, first_frame(), PROMPT, "", 2, 2.0)
    with torch.no_grad():
        out = pipe(**kwargs, generator=torch.Generator().manual_seed(7), output_type=output_type).frames
    return to_uint8(np.asarray(out[0])) if output_type == "np" else out.float().numpy()


@pytest.mark.parametrize("name", DIFFUSERS_BACKENDS)
def test_two_lora_steps_reload_in_a_fresh_stock_pipeline(name: str, clips: Path, tmp_path: Path) -> None:
    recipe, run = tiny_recipe(name, tmp_path / "recipe.yaml"), tmp_path / "run"
    outcome = train(clips, recipe, run)
    assert outcome.meta.finished and outcome.meta.steps_done == 2

    # the file, read with safetensors alone: diffusers keys, rank and alpha in its metadata
    lora = run / LORA_FILE
    with safe_open(str(lora), framework="pt") as f:
        keys = list(f.keys())
        metadata = json.loads(f.metadata()["lora_adapter_metadata"])
        a_shapes = {f.get_tensor(k).shape[0] for k in keys if ".lora_A." in k}
    assert keys and all(k.startswith("transformer.") and (".lora_A." in k or ".lora_B." in k) for k in keys)
    assert (metadata["transformer.r"], metadata["transformer.lora_alpha"]) == (RANK, ALPHA)
    assert a_shapes == {RANK}

    trained = trained_backend(name, recipe, run)
    expected = trained.generate(first_frame(), PROMPT, seed=7, steps=2, guidance=2.0)

    dreamer = load_run(run).backend  # what `wm dream` loads: the base plus the LoRA file, our loader
    assert np.abs(dreamer.generate(first_frame(), PROMPT, seed=7, steps=2, guidance=2.0).astype(int) - expected).max() <= 1

    pipe = stock_pipeline(name, run / TINY_BASE)
    stock_load(name, pipe, lora)
    loaded = get_peft_model_state_dict(pipe.transformer, adapter_name="trained")
    file_tensors = {k.removeprefix("transformer."): v for k, v in load_file(lora).items()}
    assert loaded.keys() == file_tensors.keys(), "every LoRA tensor of the file matched a module"
    assert all(torch.equal(loaded[k], v) for k, v in file_tensors.items())
    assert pipe.transformer.peft_config["trained"].lora_alpha == ALPHA
    # frames: the backend's own generate vs the fresh stock pipeline (both quantised to uint8)
    reproduced = run_stock(trained, pipe, "np")
    assert reproduced.shape == (FRAMES, SIZE, SIZE, 3)
    assert np.abs(reproduced.astype(int) - expected).max() <= 1
    # latents, before the VAE: tight, and the LoRA must matter there (a random tiny VAE decodes most
    # latents to near-grey, so pixels alone would hide a LoRA that does nothing)
    with_lora = run_stock(trained, pipe, "latent")
    assert np.allclose(with_lora, run_stock(trained, trained.pipe, "latent"), rtol=1e-4, atol=1e-5)
    pipe.transformer.disable_adapters()
    without = run_stock(trained, pipe, "latent")
    assert np.abs(without - with_lora).mean() > 0.02 * np.abs(with_lora).mean(), "the trained LoRA changes the video"


def test_full_fine_tuning_writes_a_stock_transformer_that_loads_back(clips: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(clips, tiny_recipe("cosmos-predict2", tmp_path / "full.yaml", mode="full", learning_rate=1e-3), run)
    stock = diffusers.CosmosTransformer3DModel.from_pretrained(str(run / FULL_DIR)).state_dict()
    base = load_file(run / TINY_BASE / "transformer" / "diffusion_pytorch_model.safetensors")
    loaded = load_run(run)
    weights = loaded.backend.denoiser().state_dict()
    assert stock.keys() == weights.keys() == base.keys()
    assert all(torch.equal(weights[k], v) for k, v in stock.items())
    assert sum(not torch.equal(base[k], weights[k]) for k in base) > len(base) // 2, "training moved the weights"
    video = loaded.backend.generate(first_frame(), PROMPT, seed=3, steps=2, guidance=1.0)
    assert video.shape == (FRAMES, SIZE, SIZE, 3) and video.dtype == np.uint8


def test_tiny_build_is_seeded_and_its_fingerprint_follows_the_weights(tmp_path: Path) -> None:
    recipe = load_recipe(tiny_recipe("cosmos-predict2", tmp_path / "a.yaml"))
    first, second = (BACKENDS.load(recipe.backend)(recipe) for _ in range(2))
    first.build(None)
    second.build(None)
    assert first.encoder_fingerprint() == second.encoder_fingerprint()
    a, b = first.denoiser().state_dict(), second.denoiser().state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    clip = Clip(np.stack([first_frame()] * FRAMES), PROMPT)
    encoded = first.encode(clip)
    assert all(torch.equal(encoded[k], v) for k, v in second.encode(clip).items())

    data = read_yaml(tmp_path / "a.yaml")
    data["tiny"]["seed"] = 1
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(data))
    other = BACKENDS.load(recipe.backend)(load_recipe(tmp_path / "b.yaml"))
    other.build(None)
    assert other.encoder_fingerprint() != first.encoder_fingerprint()


def test_a_lora_of_another_architecture_or_without_metadata_is_refused(tmp_path: Path) -> None:
    cosmos = BACKENDS.load("cosmos-predict2.5")(load_recipe(tiny_recipe("cosmos-predict2.5", tmp_path / "c.yaml")))
    cosmos.build(None)
    cosmos.denoiser().add_adapter(LoraConfig(r=RANK, lora_alpha=ALPHA, target_modules=list(cosmos.default_lora_targets)))
    foreign = cosmos.save_lora(tmp_path / "cosmos_lora")

    wan = BACKENDS.load("wan2.2-ti2v")(load_recipe(tiny_recipe("wan2.2-ti2v", tmp_path / "w.yaml")))
    wan.build(None)
    with pytest.raises(WorldModelError, match=r"cosmos_lora.*(match no module|not a LoRA for this WanTransformer3DModel)"):
        wan.load_lora(foreign)
    assert not getattr(wan.denoiser(), "peft_config", {}), "a refused LoRA leaves no adapter behind"

    stripped = tmp_path / "no_metadata.safetensors"
    save_file(load_file(foreign), stripped)  # the same tensors, no adapter metadata in the header
    with pytest.raises(WorldModelError, match="no adapter metadata"):
        cosmos.load_lora(stripped)


def test_unknown_backend_and_bad_tiny_config_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as unknown:
        BACKENDS.load("wan3-i2v", "my.yaml", "backend")
    assert "my.yaml: backend: 'wan3-i2v'" in str(unknown.value)
    assert all(name in str(unknown.value) for name in DIFFUSERS_BACKENDS)

    data = read_yaml(tiny_recipe("cogvideox-i2v", tmp_path / "cog.yaml"))
    data["tiny"]["transformer"]["num_heads"] = 2  # CogVideoX calls it num_attention_heads
    (tmp_path / "cog.yaml").write_text(yaml.safe_dump(data))
    backend = BACKENDS.load("cogvideox-i2v")(load_recipe(tmp_path / "cog.yaml"))
    with pytest.raises(ConfigError, match=r"cog.yaml: tiny.transformer: .*num_heads"):
        backend.build(None)

    data = read_yaml(tiny_recipe("wan2.2-ti2v", tmp_path / "wan.yaml"))
    data["video"]["num_frames"] = 8  # the Wan VAE takes 4k + 1 frames
    (tmp_path / "wan.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"wan.yaml: video.num_frames: 8: must be 4k \+ 1"):
        BACKENDS.load("wan2.2-ti2v")(load_recipe(tmp_path / "wan.yaml")).build(None)


def test_a_base_directory_of_another_model_is_named(tmp_path: Path) -> None:
    backend = BACKENDS.load("wan2.2-ti2v")(load_recipe(tiny_recipe("wan2.2-ti2v", tmp_path / "w.yaml")))
    with pytest.raises(WorldModelError, match=r"no model_index.json"):
        backend.build(tmp_path)
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "CogVideoXImageToVideoPipeline"}))
    with pytest.raises(WorldModelError, match=r"holds a CogVideoXImageToVideoPipeline .* needs a WanImageToVideoPipeline"):
        backend.build(tmp_path)
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "WanImageToVideoPipeline"}))
    with pytest.raises(WorldModelError, match=r"expand_timesteps=False .* Wan 2.1 I2V base does not fit backend wan2.2-ti2v"):
        backend.build(tmp_path)


def test_real_bases_load_in_bf16_on_cuda_except_the_vae_image_encoder_and_a_fully_trained_transformer() -> None:
    recipe = load_recipe("wan2.1-i2v")  # bf16, LoRA
    assert BACKENDS.load("wan2.1-i2v")(recipe, "cpu").load_dtypes() == {"default": torch.float32}
    lora = BACKENDS.load("wan2.1-i2v")(recipe, "cuda:0").load_dtypes()
    assert lora == {"default": torch.bfloat16, "vae": torch.float32, "image_encoder": torch.float32}
    full = BACKENDS.load("cosmos-predict2")(load_recipe("cosmos-predict2"), "cuda").load_dtypes()  # full mode
    assert full["transformer"] == torch.float32 and full["default"] == torch.bfloat16
