"""The policy's parts without a dataset: prepare (the one preprocessing function), the norm, the co-training
sampler and --mix, the config, the text encoders (hashed; hf from a tiny random model saved here), the network's
heads and the checkpoint round trip."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from dreamgen_core.config import ConfigError
from dreamgen_core.policy.checkpoint import CONFIG_FILE, MODEL_FILE, PolicyCheckpoint, build_model, load_policy, save_policy
from dreamgen_core.policy.config import PolicyConfig, TextEncoderSpec, load_policy_config, with_overrides
from dreamgen_core.policy.errors import PolicyError
from dreamgen_core.policy.preprocess import PolicyNorm, norm_from_arrays, prepare, shrink
from dreamgen_core.policy.sampler import CoTrainingSampler, check_mix, dataset_kind, parse_mix
from dreamgen_core.policy.text import instruction_of, load_text_encoder

KEY = "observation.images.ego_view"
D = 6
TINY = {"image_size": 16, "hidden": 32, "horizon": 4}


def norm(image_size: int = 32) -> PolicyNorm:
    rng = np.random.default_rng(0)
    states = rng.uniform(-2, 3, size=(50, D))
    states[:, 2] = 0.7  # a joint that never moves
    return norm_from_arrays(states, rng.uniform(-1, 1, size=(50, D)), image_size, [KEY])


# --- prepare ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("hw", [(256, 256), (200, 320), (32, 32), (20, 24)])
def test_prepare_of_a_kept_small_frame_equals_prepare_of_the_original_bitwise(hw: tuple[int, int]) -> None:
    """Training keeps `shrink`-ed frames and passes them through prepare again; the runtime passes the camera's."""
    n = norm()
    frame = np.random.default_rng(hw[0]).integers(0, 256, size=(*hw, 3), dtype=np.uint8)
    state = np.linspace(-1, 2, D)
    runtime, training = prepare({KEY: frame}, state, n), prepare({KEY: shrink(frame, n)}, state, n)
    for a, b in ((runtime.image, training.image), (runtime.state, training.state)):
        assert a.dtype == b.dtype == np.float32
        assert a.tobytes() == b.tobytes()
    assert runtime.image.shape == (1, 3, 32, 32)
    assert runtime.image.min() >= 0.0 and runtime.image.max() <= 1.0


def test_prepare_scales_state_to_unit_range_and_masks_a_missing_state() -> None:
    n = norm()
    frame = np.zeros((64, 64, 3), np.uint8)
    low, high = prepare({KEY: frame}, n.state_min, n), prepare({KEY: frame}, n.state_max, n)
    moving = [i for i in range(D) if i != 2]
    np.testing.assert_allclose(low.state[moving], -1, atol=1e-6)
    np.testing.assert_allclose(high.state[moving], 1, atol=1e-6)
    assert low.state[2] == 0 and high.state[2] == 0  # a joint that never moved maps to 0
    # The state of a joint the training actions never moved (fingers held open, a jittering idle arm) is not read,
    # wherever it is now; a commanded joint is read even where its state barely moved.
    idle = replace(n, action_min=n.action_min.copy(), action_max=n.action_max.copy())
    idle.action_min[1] = idle.action_max[1] = 0.3
    for v in (n.state_min[1], n.state_max[1], n.state_max[1] + 0.05):
        assert prepare({KEY: frame}, np.full(D, v, np.float32), idle).state[1] == 0.0
    np.testing.assert_allclose(prepare({KEY: frame}, n.state_max, idle).state[[0, 3, 4, 5]], 1, atol=1e-6)
    assert low.state_mask.tolist() == [1.0]
    dream = prepare({KEY: frame}, None, n)
    assert dream.state.tolist() == [0.0] * D and dream.state_mask.tolist() == [0.0]
    # actions go back to joint units exactly inside the range; the flat joint comes back as its value
    actions = np.stack([n.action_min, n.action_max, (n.action_min + n.action_max) / 2])
    np.testing.assert_allclose(n.denormalize_action(n.normalize_action(actions)), actions, atol=1e-5)


def test_prepare_refuses_a_missing_camera_and_wrong_shapes() -> None:
    n = norm()
    frame = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(PolicyError, match="no image for video key"):
        prepare({"observation.images.other": frame}, None, n)
    with pytest.raises(PolicyError, match="expected uint8"):
        prepare({KEY: frame.astype(np.float32)}, None, n)
    with pytest.raises(PolicyError, match=rf"expected \[{D}\]"):
        prepare({KEY: frame}, np.zeros(D + 1), n)


def test_norm_round_trips_and_names_what_is_missing() -> None:
    n = norm()
    back = PolicyNorm.from_dict(n.to_dict())
    assert back.to_dict() == n.to_dict() and back.video_keys == (KEY,)
    broken = n.to_dict()
    del broken["action_q99"]
    with pytest.raises(PolicyError, match="policy.yaml: norm: missing or malformed key.*action_q99"):
        PolicyNorm.from_dict(broken, "policy.yaml")
    ragged = {**n.to_dict(), "state_max": [1.0] * (D + 1)}
    with pytest.raises(PolicyError, match="different shapes"):
        PolicyNorm.from_dict(ragged)


# --- co-training sampler and --mix -----------------------------------------------------------------
@pytest.mark.parametrize(("mix", "expected"), [("real=1,dream=1", 0.5), ("real=1,dream=3", 0.75), ("real=4,dream=1", 0.2)])
def test_sampler_draws_dreams_at_the_mix_ratio_whatever_the_pool_sizes(mix: str, expected: float) -> None:
    sizes = {"real": 5000, "dream": 300}  # dreams far fewer: the ratio must not follow the sizes
    sampler = CoTrainingSampler(sizes, check_mix(parse_mix(mix), sizes), seed=3)
    draws = [pick for step in range(625) for pick in sampler.draw(step, 16)]  # 10 000 draws
    fraction = sum(kind == "dream" for kind, _ in draws) / len(draws)
    assert abs(fraction - expected) <= 0.05, (mix, fraction)
    assert sampler.fraction("dream") == pytest.approx(expected)
    assert all(0 <= index < sizes[kind] for kind, index in draws)
    assert len({index for kind, index in draws if kind == "dream"}) > 250  # uniform within the pool: most get drawn
    assert sampler.draw(17, 16) == CoTrainingSampler(sizes, parse_mix(mix), seed=3).draw(17, 16)  # f(seed, step)


def test_mix_errors_name_the_problem() -> None:
    with pytest.raises(PolicyError, match="--mix names dream but no dream dataset was given"):
        check_mix(parse_mix("real=1,dream=1"), {"real": 100, "dream": 0})
    with pytest.raises(PolicyError, match="gives no weight to the dream datasets"):
        check_mix(parse_mix("real=1"), {"real": 100, "dream": 40})
    for bad, why in (("real=1,sim=2", "KIND one of real, dream"), ("real=x", "must be a number"),
                     ("real=-1", "≥ 0"), ("real=1,real=2", "given twice"), ("real=0", "positive weight")):
        with pytest.raises(PolicyError, match=why):
            parse_mix(bad)
    assert check_mix(None, {"real": 10, "dream": 5}) == {"real": 1.0, "dream": 1.0}
    assert check_mix(None, {"real": 10, "dream": 0}) == {"real": 1.0}


def test_a_dataset_is_dream_by_provenance_or_task_and_may_not_mix_both() -> None:
    assert dataset_kind("d", [("<DREAM> push", {"origin": "dreamed"})]) == "dream"
    assert dataset_kind("d", [("push", {"origin": "real"})]) == "real"
    with pytest.raises(PolicyError, match="d: holds 1 dreamed and 1 real episodes"):
        dataset_kind("d", [("<DREAM> push", {"origin": "dreamed"}), ("push", {"origin": "real"})])


# --- config and text ------------------------------------------------------------------------------
def test_config_errors_name_file_key_and_value(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("head: flow\ntrain:\n  stepz: 3\n")
    with pytest.raises(ConfigError, match=r"p.yaml: train.stepz: 3: unknown key"):
        load_policy_config(path)
    path.write_text("encoder: vit9000\n")
    with pytest.raises(ConfigError, match=r"p.yaml: encoder: 'vit9000': unknown policy vision encoder; known: cnn, vit"):
        load_policy_config(path)
    path.write_text("image_size: 40\n")
    with pytest.raises(ConfigError, match=r"p.yaml: image_size: 40: must be a multiple of 16"):
        load_policy_config(path)
    path.write_text("text: {name: hf}\n")
    with pytest.raises(ConfigError, match="text.path: None: the hf text encoder needs a local model directory"):
        load_policy_config(path)
    path.write_text("head: regression\nflow_steps: 8\n")
    config = with_overrides(load_policy_config(path), {"train.steps": 5, "train.seed": None})
    assert (config.head, config.flow_steps, config.train.steps, config.train.seed) == ("regression", 8, 5, 0)
    with pytest.raises(ConfigError, match="train.steps: 0: must be at least 1"):
        with_overrides(config, {"train.steps": 0})


def test_hashed_text_is_deterministic_strips_the_dream_prefix_and_tells_tasks_apart() -> None:
    encoder = load_text_encoder(TextEncoderSpec("hashed", dim=64))
    red = "Use the right hand to push the red cube from the table onto the green target."
    blue = red.replace("red", "blue")
    a = encoder.embed(red)
    assert a.dtype == np.float32 and a.shape == (64,) and abs(np.linalg.norm(a) - 1) < 1e-5
    assert a.tobytes() == load_text_encoder(TextEncoderSpec("hashed", dim=64)).embed(red).tobytes()
    assert encoder.embed("<DREAM> " + red).tobytes() == a.tobytes()  # the robot is told the plain instruction
    assert instruction_of("<DREAM> " + red) == red
    assert float(a @ encoder.embed(blue)) < 0.99


def test_hf_text_encoder_mean_pools_a_local_model(tmp_path: Path) -> None:
    from transformers import BertConfig, BertModel, BertTokenizerFast

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "push", "the", "red", "blue", "cube", "onto", "green", "target"]
    BertTokenizerFast(vocab={w: i for i, w in enumerate(words)}).save_pretrained(tmp_path / "model")
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(words), hidden_size=24, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32)).save_pretrained(tmp_path / "model")
    encoder = load_text_encoder(TextEncoderSpec("hf", path=str(tmp_path / "model")))
    red = encoder.embed("push the red cube onto the green target")
    assert encoder.dim == 24 and red.shape == (24,) and red.dtype == np.float32
    assert red.tobytes() == encoder.embed("<DREAM> push the red cube onto the green target").tobytes()
    assert not np.allclose(red, encoder.embed("push the blue cube onto the green target"))
    with pytest.raises(PolicyError, match="no such directory"):
        load_text_encoder(TextEncoderSpec("hf", path=str(tmp_path / "absent")))


# --- network and checkpoint -----------------------------------------------------------------------
def inputs(batch: int, n: PolicyNorm, horizon: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    size = n.image_size
    return (torch.rand((batch, 1, 3, size, size), generator=g), torch.rand((batch, D), generator=g) * 2 - 1,
            torch.ones((batch, 1)), torch.rand((batch, 128), generator=g), torch.randn((batch, horizon, D), generator=g))


@pytest.mark.parametrize(("head", "encoder"), [("flow", "cnn"), ("regression", "cnn"), ("flow", "vit")])
def test_heads_output_normalized_chunks_and_use_the_noise_only_when_flow(head: str, encoder: str) -> None:
    torch.manual_seed(0)
    config = with_overrides(PolicyConfig(), {**TINY, "head": head, "encoder": encoder})
    n = norm(16)
    model = build_model(config, n, config.text).eval()
    image, state, mask, text, noise = inputs(3, n, 4)
    with torch.no_grad():
        out = model(image, state, mask, text, noise)
        other_noise = model(image, state, mask, text, torch.randn_like(noise))
        no_state = model(image, state, torch.zeros_like(mask), text, noise)
        zeros_masked = model(image, torch.zeros_like(state), torch.zeros_like(mask), text, noise)
    assert out.shape == (3, 4, D) and out.abs().max() <= 1
    assert torch.equal(out, other_noise) == (head == "regression")
    assert torch.equal(no_state, zeros_masked)  # a masked state is not seen at all
    loss = model.loss(image, state, mask, text, noise.clamp(-1, 1), torch.Generator().manual_seed(1))
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in model.parameters())


def test_checkpoint_round_trip_and_refusals(tmp_path: Path) -> None:
    torch.manual_seed(0)
    config = with_overrides(PolicyConfig(), TINY)
    n = norm(16)
    model = build_model(config, n, config.text).eval()
    layout = tuple(f"joint_{i}" for i in range(D))
    digest = save_policy(tmp_path, PolicyCheckpoint(model, config, n, "gr1", "abc123", layout, config.text, n.video_keys,
                                                    config.horizon, {"mix": {"real": 1.0}}))
    loaded = load_policy(tmp_path)
    assert loaded.weights_sha256 == digest and loaded.layout == layout and loaded.embodiment_hash == "abc123"
    assert loaded.norm.to_dict() == n.to_dict() and loaded.training == {"mix": {"real": 1.0}}
    batch = inputs(2, n, 4)
    with torch.no_grad():
        assert torch.equal(model(*batch), loaded.model(*batch))
    other = build_model(config, n, config.text)
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, tmp_path / MODEL_FILE)
    with pytest.raises(PolicyError, match="replaced or damaged"):
        load_policy(tmp_path)
    (tmp_path / CONFIG_FILE).unlink()
    with pytest.raises(PolicyError, match=f"{CONFIG_FILE}: missing"):
        load_policy(tmp_path)
