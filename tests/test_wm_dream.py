"""`dreamgen wm frames` and `dreamgen wm dream`: initial frames, prompt files, safe names, sidecars, the
serial path against Ray actors, retries and failure reports, resuming. A tiny random-weight pixel-wan run."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from dataclasses import asdict, fields
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from test_dataset_writer import RAW_VIDEO, TASKS, build_dataset

from dreamgen_core import ray_local
from dreamgen_core.atomic import AtomicDirError, exclusive
from dreamgen_core.config import ConfigError
from dreamgen_core.dataset import ClipConfig, DatasetError
from dreamgen_core.worldmodel.dream import FAILURES, DreamOptions, Outcome, dream
from dreamgen_core.worldmodel.errors import WorldModelError
from dreamgen_core.worldmodel.frames import extract_frames
from dreamgen_core.worldmodel.naming import MAX_INSTRUCTION_CHARS, dream_stem, instruction_of
from dreamgen_core.worldmodel.prompts import PromptError, read_prompts
from dreamgen_core.worldmodel.sidecar import DreamMeta, DreamRequest

RECIPE = """\
backend: pixel-wan
video: {height: 16, width: 24, num_frames: 3, fps: 8.0}
train: {mode: full, steps: 2, batch_size: 2, learning_rate: 0.05, checkpoint_every: 2, mixed_precision: "no",
        gradient_checkpointing: false}
sample: {steps: 2, guidance: 1.0}
tiny: {patch_size: [1, 8, 8], num_attention_heads: 2, attention_head_dim: 12, ffn_dim: 32, num_layers: 1,
       text_dim: 16, freq_dim: 16, vocab_size: 64, max_tokens: 8}
"""
PLAIN = "Use the left hand to push the red cube onto the green target"
HOSTILE = ("../../etc/passwd", "a/b\\c:d", "line one\nline two\r\tend\x00", "x" * 2000,
           "Pousser le cube rouge sur la cible verte — 机器人 ✓", "...")
NOT_COMPARED = {"seconds", "device"}  # what differs between two runs of the same item


def run_cli(*args: str | Path) -> subprocess.CompletedProcess:
    from conftest import VENV_BIN

    return subprocess.run([str(VENV_BIN / "dreamgen"), *map(str, args)], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def ray_instance():
    """Ray starts once for the module (about 10 s here); `dream` joins it and leaves it running."""
    ray = ray_local.start(num_cpus=2)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def model_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny pixel-wan trained for 2 steps by `wm train` on clips exported from a 3-episode dataset, at
    a learning rate that moves its output layer off zero (so dreams depend on their seed's noise
    instead of copying the first frame)."""
    from dreamgen_core.dataset import export_clips
    from dreamgen_core.worldmodel.train import train

    root = tmp_path_factory.mktemp("wm")
    clips = root / "clips"
    export_clips(build_dataset(root / "dataset"), clips, ClipConfig(size_hw=(16, 24), min_frames=16))
    (root / "tiny.yaml").write_text(RECIPE)
    train(clips, root / "tiny.yaml", root / "run", device="cpu")
    return root / "run"


def write_png(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    image = (np.linspace(0, 200, 48 * 64).reshape(48, 64, 1) + rng.integers(0, 50, (48, 64, 3))).astype(np.uint8)
    cv2.imwrite(str(path), image)
    return path


@pytest.fixture(scope="module")
def prompt_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Rows: a plain instruction, the hostile ones, a row with its own sampler settings, and a corrupt PNG."""
    root = tmp_path_factory.mktemp("prompts")
    (root / "images").mkdir()
    write_png(root / "images" / "a.png", 0)
    write_png(root / "images" / "b.png", 1)
    corrupt = (root / "images" / "a.png").read_bytes()[:60]  # a PNG header, then nothing
    (root / "images" / "corrupt.png").write_bytes(corrupt)
    rows = [{"image": "images/a.png", "instruction": PLAIN, "seed": 0}]
    rows += [{"image": "images/b.png", "instruction": text, "seed": k} for k, text in enumerate(HOSTILE)]
    rows += [{"image": "images/a.png", "instruction": PLAIN, "seed": 5, "steps": 3, "guidance": 2.5,
              "negative_prompt": "blurry"},
             {"image": "images/corrupt.png", "instruction": "broken frame", "seed": 0}]
    path = root / "prompts.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def decoded(path: Path) -> tuple[np.ndarray, list[float]]:
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
        return np.stack([f.to_ndarray(format="rgb24") for f in frames]), [float(f.time) for f in frames]


def sidecar(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


# --- names and prompt files ---------------------------------------------------------------------

@pytest.mark.parametrize("instruction", [PLAIN, *HOSTILE])
def test_names_are_safe_and_plain_ones_round_trip(instruction: str) -> None:
    stem = dream_stem(7, instruction)
    name = stem + ".mp4"
    assert stem.startswith("00007_") and stem == dream_stem(7, instruction)
    assert name.isascii() and name.isprintable() and "/" not in name and "\\" not in name and ".." not in name
    assert len(stem.split("_", 1)[1]) <= MAX_INSTRUCTION_CHARS
    if instruction == PLAIN:
        assert instruction_of(stem) == PLAIN  # the reference convention recovers it


def test_every_bad_prompt_row_is_named(tmp_path: Path) -> None:
    write_png(tmp_path / "a.png", 0)
    path = tmp_path / "prompts.jsonl"
    path.write_text("\n".join([
        json.dumps({"image": "a.png", "instruction": "fine", "seed": 1}),
        json.dumps({"image": "missing.png", "instruction": "x", "seed": 1}),
        json.dumps({"image": "a.png", "instrucion": "typo", "seed": 1}),
        "{not json",
        json.dumps({"image": "a.png", "instruction": "x", "seed": -1, "steps": 0, "guidance": "high"}),
        json.dumps(["a list"])]) + "\n")
    with pytest.raises(PromptError) as error:
        read_prompts(path)
    message = str(error.value)
    for expected in (f"{path}:2: image: 'missing.png': no such file", f"{path}:3: instrucion: unknown field",
                     f"{path}:3: instruction: missing", f"{path}:4: not JSON", f"{path}:5: seed: -1: must be at least 0",
                     f"{path}:5: steps: 0: must be at least 1", f"{path}:5: guidance: 'high': must be a number",
                     f"{path}:6: a row is a JSON object, got list"):
        assert expected in message
    assert f"{path}:1:" not in message and "5 bad prompt rows (8 problems)" in message

    table = tmp_path / "prompts.csv"
    with open(table, "w", newline="") as f:
        csv.writer(f).writerows([["image", "instruction", "seed", "guidance"], ["a.png", "push, then stop", "3", ""],
                                 ["a.png", "x", "three", "1.5"], ["a.png", "", "1", ""]])
    with pytest.raises(PromptError, match=r"2 bad prompt rows \(2 problems\)") as error:
        read_prompts(table)
    assert f"{table}:3: seed: 'three': must be a whole number" in str(error.value)
    assert f"{table}:4: instruction: missing" in str(error.value)  # an empty cell is "not given"
    table.write_text("image,instruction,seed,guidance\na.png,\"push, then stop\",3,\n")
    (prompt,) = read_prompts(table)
    assert (prompt.image, prompt.instruction, prompt.seed, prompt.guidance) == (tmp_path / "a.png", "push, then stop", 3, None)


# --- wm frames ------------------------------------------------------------------------------------

def test_frames_are_first_raw_frames_framed_like_clips(tmp_path: Path) -> None:
    dataset = build_dataset(tmp_path / "dataset")
    out = tmp_path / "frames"
    result = run_cli("wm", "frames", dataset, "--out", out, "--episodes", "0", "2", "--size", "64x96")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        (f"framing: {RAW_VIDEO}: 320x200 cropped to rows [0, 200) cols [10, 310) = 300x200 (the clip's aspect ratio, "
         "no bars), resized to 96x64"),
        f"{out}/episode_000000.png: {TASKS[0]}", f"{out}/episode_000002.png: {TASKS[0]}",
        f"{out}/prompts.jsonl: 2 prompts (edit or extend it, then `dreamgen wm dream`)"]
    rows = [json.loads(line) for line in (out / "prompts.jsonl").read_text().splitlines()]
    assert rows == [{"image": f"episode_{k:06d}.png", "instruction": TASKS[0], "seed": k} for k in (0, 2)]
    assert sorted(p.name for p in out.iterdir()) == ["episode_000000.png", "episode_000002.png", "prompts.jsonl"]
    for k in (0, 2):
        raw, _ = decoded(dataset / f"videos/chunk-000/{RAW_VIDEO}/episode_{k:06d}.mp4")
        expected = cv2.resize(raw[0][:, 10:310], (96, 64), interpolation=cv2.INTER_AREA)
        png = cv2.cvtColor(cv2.imread(str(out / f"episode_{k:06d}.png")), cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(png, expected)
    assert [p.image for p in read_prompts(out / "prompts.jsonl")] == [out / "episode_000000.png", out / "episode_000002.png"]

    config = ClipConfig(size_hw=(64, 96))
    with pytest.raises(DatasetError, match=f"{out}: already exists"):
        extract_frames(dataset, out, config)
    with pytest.raises(DatasetError, match=r"--episodes \[9\]: no such episodes"):
        extract_frames(dataset, tmp_path / "other", config, [0, 9])
    with pytest.raises(DatasetError, match="refusing to upscale"):
        extract_frames(dataset, tmp_path / "other", ClipConfig())  # 432x768 from a 320x200 camera
    assert not (tmp_path / "other").exists()


# --- wm dream -------------------------------------------------------------------------------------

def test_ray_actors_write_what_the_serial_path_writes(ray_instance, model_run: Path, prompt_file: Path,
                                                      tmp_path: Path) -> None:
    """Acceptance: 2 Ray actors and the serial path give the same videos (decoded frames) and sidecars;
    hostile instructions get safe names inside DREAMS and exact sidecars; a corrupt first frame is
    retried, then reported."""
    prompts = [json.loads(line) for line in prompt_file.read_text().splitlines()]
    serial = dream(prompt_file, model_run, tmp_path / "serial", DreamOptions(retries=1, progress=False))
    fanned = dream(prompt_file, model_run, tmp_path / "ray", DreamOptions(workers=2, retries=1, progress=False))
    assert (serial.actors, fanned.actors) == (0, 2)
    stems = [dream_stem(k, row["instruction"]) for k, row in enumerate(prompts)]
    for report in (serial, fanned):
        assert report.outcomes == {stem: Outcome.DREAMED for stem in stems[:-1]} | {stems[-1]: Outcome.FAILED}
        assert sorted(p.name for p in report.out.iterdir()) == sorted(
            [FAILURES] + [stem + suffix for stem in stems[:-1] for suffix in (".mp4", ".json")])
        (failure,) = json.loads((report.out / FAILURES).read_text())
        assert failure["index"] == len(prompts) - 1 and failure["attempts"] == 2
        assert failure["error"].startswith(f"WorldModelError: {prompt_file.parent / 'images/corrupt.png'}: "
                                           "not a readable image")
    for k, (stem, row) in enumerate(zip(stems[:-1], prompts)):
        frames, times = decoded(tmp_path / "serial" / f"{stem}.mp4")
        assert frames.shape == (3, 16, 24, 3) and times == [0.0, 0.125, 0.25]
        assert np.abs(frames[2].astype(int) - frames[0]).mean() > 5  # the model moved pixels: no copy of frame 0
        np.testing.assert_array_equal(decoded(tmp_path / "ray" / f"{stem}.mp4")[0], frames)
        meta = sidecar(tmp_path / "serial" / f"{stem}.json")
        other = sidecar(tmp_path / "ray" / f"{stem}.json")
        assert {key: v for key, v in meta.items() if key not in NOT_COMPARED} == \
            {key: v for key, v in other.items() if key not in NOT_COMPARED}
        assert (meta["device"], meta["seconds"] > 0) == ("cpu", True)
        assert meta["instruction"] == row["instruction"] and meta["index"] == k and meta["seed"] == row["seed"]
        assert meta["prompt"] == "The robot arm is performing a task. " + row["instruction"]
        assert (meta["steps"], meta["guidance"], meta["negative_prompt"]) == \
            (row.get("steps", 2), row.get("guidance", 1.0), row.get("negative_prompt", ""))
        assert (meta["num_frames"], meta["fps"], meta["video"]) == (3, 8.0, f"{stem}.mp4")
        assert meta["initial_frame"] == str(prompt_file.parent / row["image"])
        image_bytes = (prompt_file.parent / row["image"]).read_bytes()
        assert meta["initial_frame_sha256"] == _sha256(image_bytes)
        assert meta["video_sha256"] == _sha256((tmp_path / "serial" / f"{stem}.mp4").read_bytes())
        run_meta = json.loads((model_run / "run.json").read_text())
        assert (meta["backend"], meta["recipe_sha256"], meta["weights_sha256"], meta["base_fingerprint"]) == (
            "pixel-wan", run_meta["recipe_sha256"], run_meta["weights_sha256"], run_meta["base_fingerprint"])
    # seeds and sampler settings matter: the same image and instruction with other settings is another video
    assert not np.array_equal(decoded(tmp_path / "serial" / f"{stems[0]}.mp4")[0],
                              decoded(tmp_path / "serial" / f"{stems[len(HOSTILE) + 1]}.mp4")[0])


def test_rerun_skips_finished_items_and_redoes_damaged_ones(model_run: Path, prompt_file: Path, tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.jsonl"
    shutil.copytree(prompt_file.parent / "images", tmp_path / "images")
    rows = [*[json.loads(line) for line in prompt_file.read_text().splitlines()][:4],
            {"image": "images/corrupt.png", "instruction": "broken frame", "seed": 0}]
    prompts.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "dreams"
    first = run_cli("wm", "dream", prompts, "--model", model_run, "--out", out, "--retries", "0")
    assert first.returncode == 1
    stems = [dream_stem(k, row["instruction"]) for k, row in enumerate(rows)]
    assert f"{out}: 4 dreamed (this process), 0 already finished, 1 failed" in first.stdout
    assert f"failed: {stems[4]} after 1 attempts: WorldModelError:" in first.stderr
    assert f"{out / FAILURES}: 1 failed items" in first.stderr
    before = {stem: (out / f"{stem}.mp4").read_bytes() for stem in stems[:4]}

    whole = before[stems[0]]
    (out / f"{stems[0]}.mp4").write_bytes(whole[: len(whole) // 2])  # killed mid-write by something else
    (out / f"{stems[1]}.json").unlink()                                 # killed between mp4 and sidecar
    rows[2] = {**rows[2], "seed": 42}                                   # an edited row
    rows[3] = {**rows[3], "instruction": "Push the blue cube"}          # a renamed row: its old files go
    rows[4] = {**rows[4], "image": "images/a.png"}                      # the broken row, fixed
    prompts.write_text("".join(json.dumps(row) + "\n" for row in rows))
    (out / f".{stems[0]}.mp4.x1y2.tmp").write_bytes(b"partial")        # write_bytes_atomic's temp of a killed run
    with exclusive(out), pytest.raises(AtomicDirError, match=f"{out}: another process is building it: pid "):
        dream(prompts, model_run, out, DreamOptions(retries=0, progress=False))  # one job at a time
    report = dream(prompts, model_run, out, DreamOptions(retries=0, progress=False))
    new_stems = [*stems[:3], dream_stem(3, "Push the blue cube"), dream_stem(4, "broken frame")]
    assert report.outcomes == {stem: Outcome.DREAMED for stem in new_stems}
    assert not report.failures and not (out / FAILURES).exists()
    assert sorted(p.name for p in out.iterdir()) == sorted(s + x for s in new_stems for x in (".mp4", ".json"))
    assert (out / f"{stems[0]}.mp4").read_bytes() == whole and (out / f"{stems[1]}.mp4").read_bytes() == before[stems[1]]
    assert sidecar(out / f"{stems[2]}.json")["seed"] == 42

    again = dream(prompts, model_run, out, DreamOptions(retries=0, progress=False))
    assert again.outcomes == {stem: Outcome.SKIPPED for stem in new_stems}


def test_sidecar_reads_back_as_written(tmp_path: Path) -> None:
    request = DreamRequest(index=1, stem="00001_x", instruction="x\n../y", prompt="p x", negative_prompt="", seed=3,
                           steps=2, guidance=1.0, initial_frame_sha256="0" * 64, backend="pixel-wan", recipe="r",
                           recipe_sha256="1" * 64, base=None, base_fingerprint="2" * 64, weights_sha256=None,
                           mode="lora", initial_frame="/a.png")
    meta = DreamMeta(**asdict(request), video="00001_x.mp4", judge_scores=(0.5, 1.0), device="cpu", seconds=1.5)
    meta.write(tmp_path / "m.json")
    assert DreamMeta.read(tmp_path / "m.json") == meta and meta.request() == request
    assert set(sidecar(tmp_path / "m.json")) == {f.name for f in fields(DreamMeta)}
    assert DreamMeta(**{**asdict(meta), "initial_frame": "/moved.png"}).request() == request  # the path is not the item
    (tmp_path / "bad.json").write_text(json.dumps({"index": 1}))
    with pytest.raises(ValueError, match="not a dream sidecar"):
        DreamMeta.read(tmp_path / "bad.json")


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_best_of_n_keeps_the_candidate_the_judge_ranks_highest(model_run: Path, prompt_file: Path, tmp_path: Path) -> None:
    from dreamgen_core.sim.task import TASKS as SIM_TASKS

    prompts = tmp_path / "prompts.jsonl"
    instruction = SIM_TASKS[0].instruction
    prompts.write_text(json.dumps({"image": str(prompt_file.parent / "images/a.png"), "instruction": instruction,
                                   "seed": 10}) + "\n")
    report = dream(prompts, model_run, tmp_path / "best", DreamOptions(best_of=3, judge="sim", retries=0, progress=False))
    assert not report.failures, report.failures
    stem = dream_stem(0, instruction)
    meta = sidecar(tmp_path / "best" / f"{stem}.json")
    assert (meta["best_of"], meta["judge"], len(meta["judge_scores"])) == (3, "sim", 3)
    ranks = [(s["instruction_following"], s["physics_alignment"]) for s in meta["judge_scores"]]
    assert meta["chosen_seed"] == 10 + ranks.index(max(ranks))
    # the kept video is the one that seed dreams alone
    prompts.write_text(json.dumps({"image": str(prompt_file.parent / "images/a.png"), "instruction": instruction,
                                   "seed": meta["chosen_seed"]}) + "\n")
    dream(prompts, model_run, tmp_path / "single", DreamOptions(retries=0, progress=False))
    np.testing.assert_array_equal(decoded(tmp_path / "best" / f"{stem}.mp4")[0],
                                  decoded(tmp_path / "single" / f"{stem}.mp4")[0])
    with pytest.raises(WorldModelError, match="--best-of 2 needs a --judge to pick the best"):
        dream(prompts, model_run, tmp_path / "x", DreamOptions(best_of=2))
    with pytest.raises(ConfigError, match="--judge: judge: 'oracle': unknown dream judge; known: openai, sim, vlm"):
        dream(prompts, model_run, tmp_path / "x", DreamOptions(best_of=2, judge="oracle"))
