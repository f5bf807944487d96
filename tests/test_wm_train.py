"""`dreamgen wm train` and the pixel-wan CPU model: real clip files (mp4 via PyAV), a tiny random-weight
WanTransformer3DModel built from a recipe, the real accelerate loop, checkpoints read back from disk."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

from dreamgen_core.cli.main import main
from dreamgen_core.training.checkpoints import CHECKPOINTS
from dreamgen_core.training.losslog import read_loss_csv
from dreamgen_core.training.seeds import batch_indices
from dreamgen_core.video import decode_video, encode_video
from dreamgen_core.worldmodel.backends.pixel_wan import PixelWan
from dreamgen_core.worldmodel.clipset import load_clip, read_clipset
from dreamgen_core.worldmodel.errors import ResumeMismatch, WorldModelError
from dreamgen_core.worldmodel.recipe import load_recipe
from dreamgen_core.worldmodel.run import FULL_DIR, LORA_FILE, RunMeta, load_run, weights_sha256
from dreamgen_core.worldmodel.train import train

PREFIX = "The robot arm is performing a task. "
TINY = {"patch_size": [1, 8, 8], "num_layers": 1, "num_attention_heads": 2, "attention_head_dim": 8, "ffn_dim": 16,
        "text_dim": 8, "freq_dim": 16, "vocab_size": 64, "max_tokens": 8}
CLIP_FRAMES = 12
WIDE_HW = (16, 24)  # clips wider than the recipe's square: the centre crop is taken


def make_clips(root: Path, lengths: list[int]) -> Path:
    """A clip set in export-clips' layout: a cube (red or blue by caption) sliding right over a grey table."""
    (root / "videos").mkdir(parents=True)
    (root / "metas").mkdir()
    rows = []
    for k, length in enumerate(lengths):
        colour, rgb = ("red", (200, 30, 30)) if k % 2 == 0 else ("blue", (30, 30, 200))
        frames = []
        for j in range(length):
            frame = np.full((*WIDE_HW, 3), 60, np.uint8)
            x = 4 + (j + k) % 12
            frame[6:10, x:x + 4] = rgb
            frames.append(frame)
        name = f"episode_{k:06d}"
        encode_video(root / "videos" / f"{name}.mp4", frames, 16, WIDE_HW)
        caption = f"{PREFIX}push the {colour} cube"
        (root / "metas" / f"{name}.txt").write_text(caption + "\n")
        rows.append((f"videos/{name}.mp4", caption, length, 16.0, k))
    with open(root / "metadata.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("video_path", "caption", "num_frames", "fps", "episode_index"))
        writer.writerows(rows)
    return root


def write_recipe(path: Path, **train: object) -> Path:
    recipe = {"backend": "pixel-wan", "caption_prefix": "A GR1 robot. ",
              "video": {"height": 16, "width": 16, "num_frames": 3, "frame_stride": 2},
              "train": {"mode": "full", "steps": 4, "batch_size": 2, "learning_rate": 1e-3, "checkpoint_every": 2,
                        "gradient_checkpointing": False, "mixed_precision": "no", **train},
              "sample": {"steps": 3, "guidance": 1.0}, "tiny": TINY}
    path.write_text(yaml.safe_dump(recipe))
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clips(tmp_path_factory.mktemp("clips") / "clips", [CLIP_FRAMES, CLIP_FRAMES, 4, CLIP_FRAMES, CLIP_FRAMES])


def full_weights(run: Path) -> dict[str, torch.Tensor]:
    weights = load_file(run / FULL_DIR / "diffusion_pytorch_model.safetensors")
    weights.update({f"text.{k}": v for k, v in load_file(run / FULL_DIR / "text_encoder" / "model.safetensors").items()})
    return weights


def test_clip_set_reads_strided_frames_centre_cropped_with_the_recipes_caption(clips: Path, tmp_path: Path) -> None:
    recipe = load_recipe(write_recipe(tmp_path / "r.yaml"))
    clip_set = read_clipset(clips, recipe)
    assert [e.name for e in clip_set.entries] == ["episode_000000", "episode_000001", "episode_000003", "episode_000004"]
    assert clip_set.skipped == [("episode_000002", "4 frames, fewer than the 5 that 3 frames 2 apart span")]
    entry = clip_set.entries[1]
    assert entry.instruction == "push the blue cube"
    clip = load_clip(entry, recipe.video)
    assert clip.caption == "A GR1 robot. push the blue cube"
    source = decode_video(entry.video).frames
    assert clip.frames.shape == (3, 16, 16, 3)
    for i, j in enumerate((0, 2, 4)):  # frames 0, stride, 2·stride; columns [4, 20) of the 24-wide frame
        assert np.array_equal(clip.frames[i], source[j][:, 4:20])


def test_batches_cover_every_clip_once_per_epoch_and_repeat_exactly() -> None:
    order = [i for step in range(5) for i in batch_indices(10, 2, seed=3, step=step)]
    assert sorted(order) == list(range(10))
    assert batch_indices(10, 2, 3, 7) == batch_indices(10, 2, 3, 7)
    assert [batch_indices(10, 2, s, 0) for s in range(4)] != [batch_indices(10, 2, 0, 0)] * 4


def test_untrained_pixel_wan_copies_the_first_frame(tmp_path: Path) -> None:
    backend = PixelWan(load_recipe(write_recipe(tmp_path / "r.yaml")))
    backend.build(None)
    image = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    video = backend.generate(image, "push the red cube", seed=1, steps=3, guidance=1.0)
    assert video.shape == (3, 16, 16, 3) and video.dtype == np.uint8
    assert all(np.array_equal(frame, image) for frame in video)


def test_kill_and_resume_ends_bit_identical_to_an_uninterrupted_run(clips: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    recipe = write_recipe(tmp_path / "r.yaml", steps=8, checkpoint_every=2)
    reference = tmp_path / "reference"
    # One thread in all three runs: a reduction split over another number of threads rounds differently,
    # and earlier tests in this process may have changed torch's thread count.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train(clips, recipe, reference, device="cpu")
        run = tmp_path / "killed"
        command = [str(Path(sys.executable).parent / "dreamgen"), "wm", "train", str(clips), "--recipe",
                   str(recipe), "--out", str(run), "--device", "cpu", "--threads", "1"]
        resume_after_kill(command, run, capsys, reference)
    finally:
        torch.set_num_threads(threads)


def resume_after_kill(command: list[str], run: Path, capsys: pytest.CaptureFixture[str], reference: Path) -> None:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (run / CHECKPOINTS / "step_000002").is_dir() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    killed = RunMeta.read(run)
    assert not killed.finished and killed.steps_done < 8, "the run finished before it could be killed"

    assert main(command[1:]) == 0  # the same command again (in this process: torch is imported already)
    printed = capsys.readouterr().out
    assert "skipped clip episode_000002: 4 frames, fewer than the 5 that 3 frames 2 apart span\n" in printed
    resumed_at = int(printed.split("resumed at step ")[1].split(",")[0])
    assert 2 <= resumed_at < 8
    expected, got = full_weights(reference), full_weights(run)
    assert expected.keys() == got.keys()
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    # the log was cut back to the checkpoint and redone: the same losses as the uninterrupted run's
    assert [r[:3] for r in read_loss_csv(run / "loss.csv")] == [r[:3] for r in read_loss_csv(reference / "loss.csv")]
    assert sorted(p.name for p in (run / CHECKPOINTS).iterdir()) == ["step_000006", "step_000008"]


def test_outputs_agree_on_the_step_count_and_a_longer_run_extends_it(clips: Path, tmp_path: Path) -> None:
    recipe, run = write_recipe(tmp_path / "r.yaml", steps=3, checkpoint_every=2), tmp_path / "run"
    outcome = train(clips, recipe, run, device="cpu")
    meta = RunMeta.read(run)
    assert meta == outcome.meta and meta.finished and meta.steps_done == 3 and meta.mode == "full"
    assert meta.weights_sha256 == weights_sha256(run / FULL_DIR)
    assert [r[0] for r in read_loss_csv(run / "loss.csv")] == [1, 2, 3]
    assert (run / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((run / CHECKPOINTS / "step_000003" / "state.json").read_text())["step"] == 3
    cached = sorted((run / "cache").iterdir())
    assert len(cached) == 4 and outcome.skipped[0][0] == "episode_000002"
    stamps = [p.stat().st_mtime_ns for p in cached]
    encoded = {k: v.clone() for k, v in load_file(cached[0]).items()}  # load_file maps the file: copy before damaging it
    cached[0].write_bytes(b"not safetensors")  # a damaged entry is encoded again, the others are read back

    again = train(clips, recipe, run, steps=5, device="cpu")  # extends from the step-3 checkpoint
    assert again.resumed_from == 3 and RunMeta.read(run).steps_done == 5
    assert [r[0] for r in read_loss_csv(run / "loss.csv")] == [1, 2, 3, 4, 5]
    assert [p.stat().st_mtime_ns for p in cached[1:]] == stamps[1:]
    reencoded = load_file(cached[0])
    assert encoded.keys() == reencoded.keys() and all(torch.equal(v, reencoded[k]) for k, v in encoded.items())
    with pytest.raises(ResumeMismatch, match="more than the 4 asked for"):
        train(clips, recipe, run, steps=4, device="cpu")

    loaded = load_run(run)
    image = decode_video(clips / "videos" / "episode_000000.mp4").frames[0][:, 4:20]
    video = loaded.backend.generate(image, "A GR1 robot. push the red cube", seed=0, steps=3, guidance=1.0)
    assert np.array_equal(video[0], image)
    assert not np.array_equal(video[2], image)  # trained: no longer the copy of the first frame
    assert np.array_equal(video, loaded.backend.generate(image, "A GR1 robot. push the red cube", seed=0, steps=3,
                                                         guidance=1.0))


def test_a_run_of_another_recipe_or_clip_set_is_refused(clips: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(clips, write_recipe(tmp_path / "a.yaml", steps=2), run, device="cpu")
    before = (run / "run.json").read_text()
    with pytest.raises(ResumeMismatch, match="another recipe"):
        train(clips, write_recipe(tmp_path / "b.yaml", steps=2, learning_rate=5e-4), run, device="cpu")
    other = make_clips(tmp_path / "other", [CLIP_FRAMES, CLIP_FRAMES + 1])
    with pytest.raises(ResumeMismatch, match="another clip set"):
        train(other, write_recipe(tmp_path / "a.yaml", steps=2), run, device="cpu")
    assert (run / "run.json").read_text() == before


def test_no_usable_clip_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipe = write_recipe(tmp_path / "r.yaml")
    short = make_clips(tmp_path / "short", [4, 3])
    with pytest.raises(WorldModelError, match=r"no usable clip for r\.yaml; skipped: episode_000000: 4 frames, "
                                              r"fewer than the 5 .* \(and 1 more\)"):
        train(short, recipe, tmp_path / "run", device="cpu")
    assert not (tmp_path / "run").exists()
    assert main(["wm", "train", str(tmp_path), "--recipe", str(recipe), "--out", str(tmp_path / "run2")]) == 2
    assert capsys.readouterr().err.strip() == (f"dreamgen: error: {tmp_path}: not a clip set (no metadata.csv); "
                                               "make one with `dreamgen dataset export-clips`")
    assert main(["wm", "train", str(short), "--recipe", str(recipe), "--out", str(tmp_path / "run2"), "--threads", "0"]) == 2
    assert capsys.readouterr().err.strip() == "dreamgen: error: --threads 0: must be at least 1"
    assert not (tmp_path / "run2").exists()


def test_lora_mode_trains_only_the_adapter_and_loads_back(clips: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(clips, write_recipe(tmp_path / "r.yaml", mode="lora", steps=2), run, device="cpu")
    lora = load_file(run / LORA_FILE)
    assert lora and all(k.startswith("transformer.") and "lora_" in k for k in lora)
    assert RunMeta.read(run).weights_sha256 == weights_sha256(run / LORA_FILE)
    assert any(v.abs().sum() > 0 for k, v in lora.items() if "lora_B" in k)  # B starts at zero: it trained
    loaded = load_run(run)
    base = load_file(run / "base" / "transformer" / "diffusion_pytorch_model.safetensors")
    state = {k.replace(".base_layer", ""): v for k, v in loaded.backend.denoiser().state_dict().items() if "lora_" not in k}
    assert state.keys() == base.keys() and all(torch.equal(state[k], base[k]) for k in base)
