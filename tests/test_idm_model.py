"""The IDM's parts without the sim: the one preprocessing function against the embodiment's model-view
recipe, config strictness, action stats, samples, encoders (a tiny random SigLIP saved to disk),
heads, the checkpoint round trip and what load_idm refuses, and the metrics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.numpy import load_file as load_numpy

from dreamgen_core.config import ConfigError
from dreamgen_core.dataset.clips import framing
from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.idm.checkpoint import IDM_YAML, WEIGHTS, TrainedOn, load_idm, pair_indices, save_idm
from dreamgen_core.idm.config import load_config
from dreamgen_core.idm.errors import IdmError
from dreamgen_core.idm.metrics import compare_chunks, per_joint_errors
from dreamgen_core.idm.model import IdmNet, image_tensor
from dreamgen_core.idm.samples import action_chunks
from dreamgen_core.idm.stats import ActionStats
from dreamgen_core.idm.view import MODEL_VIEW, RAW_VIEW, FrameView, model_camera, prepare_frames
from dreamgen_core.video.model_view import ModelViewTransform, resize

SPEC = load_embodiment("gr1")
CAMERA = model_camera(SPEC, "observation.images.ego_view")
TINY = {"width": 32, "fusion_layers": 1, "readouts": 2, "fusion_heads": 4, "image_hw": [32, 32],
        "encoder_options": {"stem": 4, "channels": [8, 16]}, "head_options": {"hidden": 32, "layers": 1}}


def smooth_frame(hw: tuple[int, int], seed: int = 0) -> np.ndarray:
    """A frame of smooth colour gradients: resampling it at different scales gives nearly the same pixels."""
    rng = np.random.default_rng(seed)
    y, x = np.meshgrid(np.linspace(0, 1, hw[0]), np.linspace(0, 1, hw[1]), indexing="ij")
    channels = [np.sin(2 * np.pi * (rng.uniform(0.3, 1.2) * x + rng.uniform(0.3, 1.2) * y + rng.uniform()))
                for _ in range(3)]
    return ((np.stack(channels, -1) + 1) * 127.5).astype(np.uint8)


def test_raw_frames_get_exactly_the_recipes_model_view_and_model_view_frames_are_only_resized() -> None:
    raw = np.random.default_rng(1).integers(0, 256, (200, 320, 3), dtype=np.uint8)
    expected = resize(ModelViewTransform.for_camera(CAMERA)(raw), (64, 64))
    assert np.array_equal(prepare_frames(raw, RAW_VIEW, CAMERA, (64, 64))[0], expected)
    view = ModelViewTransform.for_camera(CAMERA)(raw)  # what a dataset's model-view video holds
    assert np.array_equal(prepare_frames(view[None], MODEL_VIEW, CAMERA, (64, 64))[0], resize(view, (64, 64)))


def test_a_dream_framed_as_a_centred_square_crop_is_black_where_the_recipe_reaches_past_it() -> None:
    raw = smooth_frame((800, 1280))
    crop = framing((800, 1280), (64, 64), 0.5)            # how wm sim-clips frames a 16:10 frame for a 64x64 dream
    dream = crop.apply(raw)
    view = FrameView.of_crop((800, 1280), crop.crop)
    assert (view.left, view.right) == pytest.approx((0.1875, 0.8125)) and (view.top, view.bottom) == (0.0, 1.0)
    got = prepare_frames(dream, view, CAMERA, (128, 128))[0].astype(int)
    full = prepare_frames(raw, RAW_VIEW, CAMERA, (128, 128))[0].astype(int)
    # The recipe crops columns [110, 1130) of 1280; the dream shows [240, 1040): 13 % of the crop's width on
    # the left and 9 % on the right are outside it and must be black; the rest matches the full frame's view.
    left, right = int(128 * (240 - 110) / 1020), int(128 * (1130 - 1040) / 1020)
    rows = slice(int(128 * 120 / 720) + 2, int(128 * 600 / 720) - 2)  # inside the recipe's black bands
    assert got[rows, : left - 1].max() == 0 and got[rows, 128 - right + 1:].max() == 0
    inner = (rows, slice(left + 2, 128 - right - 2))
    assert np.abs(got[inner] - full[inner]).mean() < 6
    assert full[rows, : left - 1].mean() > 40  # the full frame does have content there


def test_frame_view_checks_and_round_trips() -> None:
    with pytest.raises(IdmError, match="bottom must exceed top"):
        FrameView(0.5, 0, 0.5, 1)
    view = FrameView(0.1, 0.2, 0.9, 0.8)
    assert FrameView.from_dict(json.loads(json.dumps(view.to_dict()))) == view
    with pytest.raises(IdmError, match=r"expected uint8 RGB frames"):
        prepare_frames(np.zeros((2, 8, 8), np.uint8), RAW_VIEW, CAMERA, (32, 32))


def test_config_is_strict_and_names_file_key_and_value(tmp_path: Path) -> None:
    path = tmp_path / "idm.yaml"
    for text, key, value in (("k: 0\n", "k", "0"), ("heads: flow\n", "heads", "'flow'"),
                             ("encoder: resnet\n", "encoder", "'resnet'"),
                             ("encoder_options: {chanels: [8]}\n", "encoder_options.chanels", "[8]"),
                             ("train: {steps: 10, checkpoint_every: 20}\n", "train.checkpoint_every", "20"),
                             ("horizon: yes\n", "horizon", "True")):
        path.write_text(text)
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        assert f"idm.yaml: {key}: {value}" in str(caught.value), str(caught.value)
    with pytest.raises(ConfigError, match="encoder_path.*siglip encoder needs a local model directory"):
        load_config(None, {"encoder": "siglip"})
    config = load_config(None, {"train.steps": 7, "k": 4})
    assert (config.k, config.horizon, config.train.steps, config.train.checkpoint_every) == (4, 16, 7, 7)
    assert (config.encoder, config.head) == ("cnn", "flow")


def test_stats_normalize_to_minus_one_one_and_leave_still_dimensions_alone() -> None:
    actions = np.array([[0.0, 2.0, 5.0], [1.0, 2.0, 7.0], [0.5, 2.0, 6.0]])
    stats = ActionStats.of([actions[:2], actions[2:]])
    normalized = stats.normalize(actions)
    assert normalized[:, 0].tolist() == [-1.0, 1.0, 0.0] and normalized[:, 1].tolist() == [0.0, 0.0, 0.0]
    assert np.allclose(stats.denormalize(normalized), actions, atol=1e-6)
    assert stats.active.tolist() == [True, False, True]
    again = ActionStats.from_dict(json.loads(json.dumps(stats.to_dict())), "x.yaml", 3)
    assert np.array_equal(again.max, stats.max)
    with pytest.raises(IdmError, match=r"x.yaml: stats.min: expected 4 finite numbers"):
        ActionStats.from_dict(stats.to_dict(), "x.yaml", 4)


def test_pairs_clamp_at_the_end_and_chunks_repeat_the_last_action() -> None:
    first, second = pair_indices(5, 3)
    assert first.tolist() == [0, 1, 2, 3, 4] and second.tolist() == [3, 4, 4, 4, 4]
    chunks = action_chunks(np.arange(4.0)[:, None], 3)
    assert chunks[..., 0].tolist() == [[0, 1, 2], [1, 2, 3], [2, 3, 3], [3, 3, 3]]


def tiny_siglip(directory: Path) -> Path:
    from transformers import SiglipVisionConfig, SiglipVisionModel

    torch.manual_seed(0)
    SiglipVisionModel(SiglipVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, image_size=32, patch_size=8)).save_pretrained(directory)
    return directory


@pytest.mark.parametrize("encoder", ["cnn", "vit", "siglip"])
@pytest.mark.parametrize("head", ["flow", "regression"])
def test_every_encoder_and_head_trains_a_step_and_samples_deterministically(encoder: str, head: str,
                                                                             tmp_path: Path) -> None:
    options = {"cnn": TINY["encoder_options"], "vit": {"patch": 8, "dim": 16, "depth": 1, "heads": 2},
               "siglip": {"unshuffle": 2}}[encoder]
    overrides = {**TINY, "encoder": encoder, "head": head, "encoder_options": options,
                 "head_options": {"hidden": 32, "layers": 1}}
    if encoder == "siglip":
        overrides["encoder_path"] = str(tiny_siglip(tmp_path / "siglip"))
    net = IdmNet(load_config(None, overrides), 7)
    frames = image_tensor(np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8))
    actions = torch.rand(4, 16, 7) * 2 - 1
    loss = net.loss(frames, frames.flip(0), actions, torch.Generator().manual_seed(0))
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in net.parameters() if p.requires_grad)
    a = net.sample(frames, frames, torch.Generator().manual_seed(3))
    b = net.sample(frames, frames, torch.Generator().manual_seed(3))
    assert a.shape == (4, 16, 7) and torch.equal(a, b)
    if head == "flow":  # the sample starts from the seed's noise
        assert not torch.equal(a, net.sample(frames, frames, torch.Generator().manual_seed(4)))


def test_siglip_encoder_needs_a_local_directory(tmp_path: Path) -> None:
    with pytest.raises(IdmError, match=r"not a local SigLIP model directory"):
        IdmNet(load_config(None, {**TINY, "encoder": "siglip", "encoder_path": str(tmp_path / "nowhere"),
                                  "encoder_options": {}}), 7)


def saved_idm(out: Path, overrides: dict | None = None) -> tuple[Path, ActionStats]:
    rng = np.random.default_rng(0)
    actions = np.zeros((50, SPEC.dim))
    actions[:, 22:29] = rng.uniform(-1, 1, (50, 7))
    stats = ActionStats.of([actions])
    config = load_config(None, {**TINY, **(overrides or {})})
    torch.manual_seed(0)
    net = IdmNet(config, int(stats.active.sum()))
    out.mkdir(parents=True, exist_ok=True)
    save_idm(out, net, config, SPEC, CAMERA.model_view.video_key, stats, [TrainedOn("/data/x", "abc", 1, 50)], 3)
    return out, stats


def test_checkpoint_round_trip_predicts_in_joint_units_deterministically(tmp_path: Path) -> None:
    ckpt, stats = saved_idm(tmp_path / "ckpt")
    meta = yaml.safe_load((ckpt / IDM_YAML).read_text())
    assert meta["layout"] == list(SPEC.joint_names) and meta["embodiment_hash"] == SPEC.content_hash
    assert meta["config"]["k"] == 8 and meta["config"]["horizon"] == 16 and meta["stats"]["max"][22] == stats.max[22]
    assert set(load_numpy(ckpt / WEIGHTS))  # a safetensors file any reader opens
    idm = load_idm(ckpt)
    assert idm.layout == SPEC.joint_names and idm.content_hash == meta["weights_sha256"]
    frames = np.random.default_rng(1).integers(0, 256, (3, 256, 256, 3), dtype=np.uint8)
    chunks = idm.predict(frames, frames[::-1], seed=5)
    assert chunks.shape == (3, 16, SPEC.dim) and chunks.dtype == np.float32
    assert np.array_equal(chunks, idm.predict(frames, frames[::-1], seed=5))
    still = ~stats.active
    assert np.array_equal(chunks[..., still], np.broadcast_to(stats.min[still].astype(np.float32), chunks[..., still].shape))
    assert (chunks[..., 22:29] >= stats.min[22:29].min() - 3 * np.ptp(stats.max - stats.min)).all()
    episode = idm.predict_episode(frames, seed=5, batch=2)
    assert episode.shape == (3, 16, SPEC.dim)


def test_load_idm_names_the_file_and_the_problem(tmp_path: Path) -> None:
    ckpt, _ = saved_idm(tmp_path / "ckpt")
    with pytest.raises(IdmError, match=r"idm.yaml: missing; .* is not an IDM checkpoint"):
        load_idm(tmp_path)
    meta = yaml.safe_load((ckpt / IDM_YAML).read_text())

    def broken(change: dict) -> str:
        (ckpt / IDM_YAML).write_text(yaml.safe_dump({**meta, **change}))
        with pytest.raises(IdmError) as caught:
            load_idm(ckpt)
        return str(caught.value)

    assert "retrain the IDM" in broken({"embodiment_hash": "0" * 64})
    assert "another joint layout" in broken({"layout": list(reversed(SPEC.joint_names))})
    assert "stats.std: expected 44 finite numbers" in broken({"stats": {**meta["stats"], "std": [1.0]}})
    assert "records" in broken({"weights_sha256": "f" * 64})
    wider = {**meta["config"], "width": 64}
    message = broken({"config": wider})
    assert f"{WEIGHTS}: does not match the config" in message and "wrong shape" in message
    assert "config: " in broken({"config": {**meta["config"], "k": -1}})


def test_errors_per_joint_and_against_both_baselines() -> None:
    mae, rmse = per_joint_errors(np.array([[0.0, 1.0], [0.0, 3.0]]), np.array([[1.0, 1.0], [-1.0, 0.0]]))
    assert mae.tolist() == [1.0, 1.5] and rmse.tolist() == pytest.approx([1.0, np.sqrt(4.5)])
    actions = np.stack([np.zeros(6), np.linspace(0, 1, 6)], 1)  # joint 1 moves, joint 0 never does
    state = actions - 0.1
    stats = ActionStats.of([actions])
    perfect = action_chunks(actions, 2)
    result = compare_chunks({"idm": [perfect]}, [actions], [state], stats, 2)
    assert result.moving.tolist() == [False, True]
    assert result.mean_mae("idm") == 0.0
    assert result.mean_mae("hold_state") == pytest.approx(np.abs(perfect[..., 1] - state[:, None, 1]).mean())
    assert result.mean_mae("mean_action") == pytest.approx(np.abs(perfect[..., 1] - 0.5).mean())
    assert "hold_state" in result.table(("a", "b")) and "moving joints: b" in result.table(("a", "b"))
