"""DreamGen Bench (`dreamgen wm bench`) and measured quality (`dreamgen wm eval`).

The sim judge is checked against ground truth: real sim clips of successful expert episodes score 1
for their own instruction and 0 for every other task's; a still video scores 0; a cut video (a
teleporting cube) fails physics. The openai judge talks to a real HTTP server on 127.0.0.1 that
answers deterministically from what it was sent. Quality metrics are checked where the answer is
known: a perfect dream, the copy baseline, and a training set holding the held-out clip itself.
"""

from __future__ import annotations

import base64
import csv
import json
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from dreamgen_core.config import ConfigError
from dreamgen_core.sim.task import TASKS
from dreamgen_core.video import decode_video, encode_video
from dreamgen_core.worldmodel.bench.judge import Criterion, JudgeOptions, Video
from dreamgen_core.worldmodel.bench.openai_judge import OpenAIJudge
from dreamgen_core.worldmodel.bench.questions import parse_answer, question, sample_frames
from dreamgen_core.worldmodel.bench.runner import CSV_COLUMNS, SCORES, run_bench
from dreamgen_core.worldmodel.bench.sim_judge import SimJudge
from dreamgen_core.worldmodel.bench.vlm_judge import VlmJudge
from dreamgen_core.worldmodel.errors import WorldModelError
from dreamgen_core.worldmodel.naming import dream_stem
from dreamgen_core.worldmodel.quality import METHODS, PSNR_CAP, at_times, evaluate, frame_mse, psnr, read_clips, write_report
from dreamgen_core.worldmodel.sidecar import DreamMeta
from dreamgen_core.worldmodel.sim_clips import SimClipConfig, clip_name, make_sim_clips

CHOSEN = (TASKS[0], TASKS[3])  # red cube to green target, blue cube to yellow target
SEEDS = (2,)
FPS = 16.0
DREAM_FPS = 16 / 13   # the CPU recipe: 9 frames 0.8 s apart


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "clips"
    make_sim_clips(out, SimClipConfig(seeds=SEEDS, tasks=CHOSEN, size_hw=(64, 64), workers=2), progress=False)
    return out


def clip_frames(clips: Path, seed: int, task) -> np.ndarray:
    return decode_video(clips / "videos" / f"{clip_name(seed, task)}.mp4").frames


# --- the sim judge against ground truth ---------------------------------------------------------------
def test_sim_judge_agrees_with_the_expert_episodes(clips: Path) -> None:
    judge = SimJudge(JudgeOptions())
    for seed in SEEDS:
        for own in CHOSEN:
            video = Video(clip_frames(clips, seed, own), FPS)
            for task in TASKS:  # own task 1; the other cube, or the same cube onto the other target: 0
                got = judge.judge(video, task.instruction)
                assert got.scores[Criterion.INSTRUCTION_FOLLOWING] == float(task == own), (seed, own, task, got.notes)
                assert got.scores[Criterion.PHYSICS_ALIGNMENT] == 1.0, (seed, own, got.notes)


def test_sim_judge_fails_a_still_video_and_a_teleport(clips: Path) -> None:
    judge = SimJudge(JudgeOptions())
    frames = clip_frames(clips, SEEDS[0], CHOSEN[0])
    still = judge.judge(Video(np.repeat(frames[:1], len(frames), axis=0), FPS), CHOSEN[0].instruction)
    assert still.scores == {Criterion.INSTRUCTION_FOLLOWING: 0.0, Criterion.PHYSICS_ALIGNMENT: 1.0}
    assert "red cube was last seen" in still.notes
    # A teleport: from frame 8 on, the red cube's pixels (found with a plain threshold) sit 16 px to the left
    # and the table (the median colour of the cube's rows: mostly table) shows where it was.
    still_frames = np.repeat(frames[:1], 16, axis=0)
    first = frames[0].astype(int)
    ys, xs = np.nonzero((first[..., 0] > 150) & (first[..., 1] < 90) & (first[..., 2] < 90))
    y0, y1, x0, x1 = ys.min() - 2, ys.max() + 3, xs.min() - 2, xs.max() + 3  # with its blurred rim
    table = np.median(frames[0, y0:y1].reshape(-1, 3), axis=0).astype(np.uint8)
    teleported = still_frames.copy()
    teleported[8:, y0:y1, x0 - 16:x1 - 16] = frames[0, y0:y1, x0:x1]
    teleported[8:, y0:y1, x0:x1] = table
    jumped = judge.judge(Video(teleported, FPS), CHOSEN[0].instruction)
    assert jumped.scores[Criterion.PHYSICS_ALIGNMENT] == 0.0 and "the red cube jumped" in jumped.notes, jumped.notes
    # Vanished: the table shows where the cube was, to the end.
    vanished = still_frames.copy()
    vanished[8:, y0:y1, x0:x1] = table
    gone = judge.judge(Video(vanished, FPS), CHOSEN[0].instruction)
    assert gone.scores[Criterion.PHYSICS_ALIGNMENT] == 0.0 and "the red cube is gone at the end" in gone.notes
    # The same frames shown 0.8 s apart (a dream's spacing) are a plausible push.
    assert judge.judge(Video(frames[::13], DREAM_FPS), CHOSEN[0].instruction).scores[Criterion.PHYSICS_ALIGNMENT] == 1.0


def test_sim_judge_refuses_an_instruction_outside_the_family(clips: Path) -> None:
    with pytest.raises(ConfigError, match="not one of the family"):
        SimJudge(JudgeOptions()).judge(Video(clip_frames(clips, SEEDS[0], CHOSEN[0]), FPS), "Wave at the camera.")


# --- the bench runner: reference CSVs ----------------------------------------------------------------
def make_dreams(clips: Path, out: Path) -> dict[str, tuple[str, float]]:
    """Dreams named by the reference convention, no sidecars: two real clips (one with its own instruction,
    one with the other cube's) and a still. Returns file name → (instruction, expected instruction following)."""
    out.mkdir()
    real = clip_frames(clips, SEEDS[0], CHOSEN[0])[::13]
    cases = [(real, CHOSEN[0].instruction, 1.0), (real, CHOSEN[1].instruction, 0.0),
             (np.repeat(real[:1], len(real), axis=0), CHOSEN[0].instruction, 0.0)]
    expected = {}
    for index, (frames, instruction, follows) in enumerate(cases):
        name = f"{dream_stem(index, instruction)}.mp4"
        encode_video(out / name, frames, DREAM_FPS, frames.shape[1:3])
        expected[name] = (instruction.rstrip("."), follows)  # the file-name convention drops the full stop
    return expected


def test_bench_writes_the_reference_csvs_and_means(clips: Path, tmp_path: Path) -> None:
    expected = make_dreams(clips, tmp_path / "dreams")
    (tmp_path / "dreams" / "failures.json").write_text("[]")  # what `wm dream` may leave beside: not a dream
    scores = run_bench(tmp_path / "dreams", "sim", progress=False)
    out = tmp_path / "dreams" / "bench_sim"
    for criterion in Criterion:
        with open(out / f"{criterion.value}.csv", newline="") as f:
            rows = list(csv.reader(f))
        assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 1 + len(expected)
        for video_path, prompt, prediction in rows[1:]:
            instruction, follows = expected[video_path]
            assert prompt == instruction
            assert prediction == ("1" if criterion is Criterion.PHYSICS_ALIGNMENT or follows else "0")
    written = json.loads((out / SCORES).read_text())
    assert written["count"] == 3 and scores.count == 3
    assert written["means"] == {"instruction_following": pytest.approx(1 / 3), "physics_alignment": 1.0}


def sidecar(video: Path, instruction: str, fps: float, initial_frame_sha256: str = "") -> DreamMeta:
    """A sidecar as `wm dream` writes one (fields this test does not need are left blank)."""
    return DreamMeta(index=int(video.stem.split("_")[0]), stem=video.stem, instruction=instruction, prompt="",
                     negative_prompt="", seed=0, steps=1, guidance=1.0, initial_frame_sha256=initial_frame_sha256,
                     backend="pixel-wan", recipe="sim-tiny", recipe_sha256="", base=None, base_fingerprint="",
                     weights_sha256=None, mode="full", video=video.name, fps=fps)


def test_bench_takes_the_sidecars_exact_instruction(clips: Path, tmp_path: Path) -> None:
    make_dreams(clips, tmp_path / "dreams")
    first = sorted((tmp_path / "dreams").glob("*.mp4"))[1]  # named after the other cube's instruction
    sidecar(first, CHOSEN[0].instruction, DREAM_FPS).write(first.with_suffix(".json"))
    scores = run_bench(tmp_path / "dreams", "sim", out=tmp_path / "scores", progress=False)
    by_name = {v.video_path: v for v in scores.videos}
    assert by_name[first.name].instruction == CHOSEN[0].instruction  # the exact text, full stop included
    assert by_name[first.name].scores["instruction_following"] == 1.0


def test_bench_errors_name_the_video_and_the_judge(clips: Path, tmp_path: Path) -> None:
    dreams = tmp_path / "dreams"
    make_dreams(clips, dreams)
    odd = dreams / f"{dream_stem(7, 'Wave at the camera')}.mp4"
    shutil.copy(next(dreams.glob("00000_*.mp4")), odd)
    with pytest.raises(WorldModelError, match=rf"{odd.name}: the sim judge cannot score it"):
        run_bench(dreams, "sim", progress=False)
    assert not (dreams / "bench_sim").exists()  # nothing half written
    with pytest.raises(ConfigError, match="unknown dream judge; known: openai, sim, vlm"):
        run_bench(dreams, "gpt")
    with pytest.raises(WorldModelError, match="no dream videos"):
        run_bench(tmp_path, "sim")


# --- model judges: frames, questions, answers ---------------------------------------------------------
def test_frames_questions_and_answers() -> None:
    frames = np.arange(20)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)
    assert sample_frames(frames, 5)[:, 0, 0, 0].tolist() == [0, 5, 10, 14, 19]
    assert len(sample_frames(frames[:3], 8)) == 3
    assert '"Push it."' in question(Criterion.INSTRUCTION_FOLLOWING, "Push it.", 8)
    assert [parse_answer(a) for a in ("Yes.", "no", "NO, it does not", "The answer is yes", "Either yes or no", "maybe")] \
        == [1.0, 0.0, 0.0, 1.0, None, None]


def test_vlm_judge_needs_a_local_model_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--model"):
        VlmJudge(JudgeOptions())
    with pytest.raises(FileNotFoundError, match="no config.json"):
        VlmJudge(JudgeOptions(model=str(tmp_path)))


def save_tiny_vlm(out: Path) -> None:
    """A random-weight LLaVA (CLIP vision tower, Llama text model) with a byte-level tokenizer and a chat
    template, saved as a local model directory. Qwen2.5-VL's processor needs torchvision (its video
    processor), which cannot be installed beside torch CPU here; the judge's path is the same for both."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import (
        CLIPImageProcessorPil,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        PreTrainedTokenizerFast,
    )

    specials = ["<pad>", "<s>", "</s>", "<image>"]
    vocab = {t: i for i, t in enumerate(specials + sorted(pre_tokenizers.ByteLevel.alphabet()))}
    bpe = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                        additional_special_tokens=["<image>"])
    template = ("{% for m in messages %}{{ m['role'] }}: {% for c in m['content'] %}"
                "{% if c['type'] == 'image' %}<image>{% else %}{{ c['text'] }}{% endif %}{% endfor %}\n{% endfor %}"
                "{% if add_generation_prompt %}assistant: {% endif %}")
    processor = LlavaProcessor(image_processor=CLIPImageProcessorPil(size={"shortest_edge": 28},
                                                                      crop_size={"height": 28, "width": 28}),
                               tokenizer=tokenizer, patch_size=14, chat_template=template,
                               vision_feature_select_strategy="default", num_additional_image_tokens=1)
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                                       image_size=28, patch_size=14, projection_dim=32),
        text_config=LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=256,
                                pad_token_id=0, bos_token_id=1, eos_token_id=2),
        image_token_id=vocab["<image>"], vision_feature_layer=-1, vision_feature_select_strategy="default")
    torch.manual_seed(0)
    LlavaForConditionalGeneration(config).save_pretrained(out, safe_serialization=True)
    processor.save_pretrained(out)


def test_vlm_judge_runs_a_local_model(tmp_path: Path) -> None:
    """A tiny random model answers gibberish: the judge scores it 0 and says so, per question (the two
    questions get different answers); decoding is greedy (the same video gives the same answers). Whether
    the frames sway this tiny model's answer is not checked: at width 32 they barely do."""
    save_tiny_vlm(tmp_path / "vlm")
    judge = VlmJudge(JudgeOptions(model=str(tmp_path / "vlm"), num_frames=3))
    rng = np.random.default_rng(0)
    video = Video(rng.integers(0, 255, (6, 40, 56, 3), dtype=np.uint8), FPS)
    first = judge.judge(video, "Use the right hand to push the red cube.")
    assert first.scores == {Criterion.INSTRUCTION_FOLLOWING: 0.0, Criterion.PHYSICS_ALIGNMENT: 0.0}
    following, physics = first.notes.split("; ")
    assert following.startswith("instruction_following: unreadable answer")
    assert physics.startswith("physics_alignment: unreadable answer")
    assert following.split(":", 1)[1] != physics.split(":", 1)[1]
    assert judge.judge(video, "Use the right hand to push the red cube.") == first


class Endpoint(BaseHTTPRequestHandler):
    """An OpenAI-compatible chat endpoint: "No." to instruction following, "Yes." to physics; or an HTTP
    error / a slow reply / a babble as the test sets on the server."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((self.path, dict(self.headers), body))  # type: ignore[attr-defined]
        mode = self.server.mode  # type: ignore[attr-defined]
        if mode == "error":
            self.send_error(503, "overloaded")
            return
        if mode == "slow":
            time.sleep(1.5)
        text = body["messages"][0]["content"][0]["text"]
        answer = "I cannot tell" if mode == "babble" else ("Yes." if "physically plausible" in text else "No.")
        reply = json.dumps({"choices": [{"message": {"role": "assistant", "content": answer}}]}).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
        except BrokenPipeError:  # the slow case: the client gave up, as it should
            pass

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    server.requests, server.mode = [], "answer"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_openai_judge_over_real_http(endpoint: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_JUDGE_KEY", "sk-local")
    url = f"http://127.0.0.1:{endpoint.server_port}/v1"
    options = JudgeOptions(model="judge-model", base_url=url, api_key_env="TEST_JUDGE_KEY", timeout_s=5, num_frames=4)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (10, 32, 48, 3), dtype=np.uint8)
    got = OpenAIJudge(options).judge(Video(frames, FPS), "Use the right hand to push the red cube.")
    assert got.scores == {Criterion.INSTRUCTION_FOLLOWING: 0.0, Criterion.PHYSICS_ALIGNMENT: 1.0} and got.notes == ""
    assert len(endpoint.requests) == 2  # type: ignore[attr-defined]
    for path, headers, body in endpoint.requests:  # type: ignore[attr-defined]
        assert path == "/v1/chat/completions" and headers["Authorization"] == "Bearer sk-local"
        assert body["model"] == "judge-model" and body["temperature"] == 0
        images = [part["image_url"]["url"] for part in body["messages"][0]["content"][1:]]
        assert len(images) == 4 and all(u.startswith("data:image/jpeg;base64,") for u in images)
        first = cv2.imdecode(np.frombuffer(base64.b64decode(images[0].split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
        assert first.shape == (32, 48, 3)
        assert np.abs(first[..., ::-1].astype(int) - frames[0]).mean() < np.abs(first[..., ::-1].astype(int) - frames[9]).mean()
    assert "push the red cube" in endpoint.requests[0][2]["messages"][0]["content"][0]["text"]  # type: ignore[attr-defined]


def test_openai_judge_failures_are_clear(endpoint: ThreadingHTTPServer) -> None:
    url = f"http://127.0.0.1:{endpoint.server_port}/v1"
    options = JudgeOptions(model="m", base_url=url, timeout_s=0.5, num_frames=2)
    video = Video(np.zeros((4, 16, 16, 3), np.uint8), FPS)
    endpoint.mode = "babble"  # type: ignore[attr-defined]
    babbled = OpenAIJudge(options).judge(video, "x")
    assert babbled.scores[Criterion.INSTRUCTION_FOLLOWING] == 0.0 and "unreadable answer 'I cannot tell'" in babbled.notes
    endpoint.mode = "error"  # type: ignore[attr-defined]
    with pytest.raises(WorldModelError, match=r"/v1/chat/completions: HTTP 503"):
        OpenAIJudge(options).judge(video, "x")
    endpoint.mode = "slow"  # type: ignore[attr-defined]
    with pytest.raises(WorldModelError, match=r"no reply within 0.5 s"):
        OpenAIJudge(options).judge(video, "x")
    with pytest.raises(WorldModelError, match="cannot reach"):
        OpenAIJudge(replace(options, base_url="http://127.0.0.1:9/v1")).judge(video, "x")
    with pytest.raises(ConfigError, match="--base-url"):
        OpenAIJudge(JudgeOptions(model="m"))


# --- measured quality ----------------------------------------------------------------------------------
def test_psnr_and_mse_on_known_inputs() -> None:
    a = np.full((3, 4, 4, 3), 100, np.uint8)
    b = a.copy()
    b[1] += 51  # 0.2 on [0, 1]
    assert frame_mse(a, a).tolist() == [0, 0, 0] and psnr(0.0) == PSNR_CAP
    np.testing.assert_allclose(frame_mse(a, b), [0, 0.04, 0])
    assert psnr(0.01) == pytest.approx(20.0)


def test_eval_against_known_answers(clips: Path, tmp_path: Path) -> None:
    """A perfect dream (the held-out clip itself at the dream's times) against copy, mean-motion and
    nearest-neighbour baselines, with the training set holding the held-out clips themselves."""
    real = read_clips(clips, (64, 64))
    fps = 16.0 * 8 / (max(len(c.frames) for c in real) - 1)  # 9 frames over the longest clip: every push ends
    dreams = tmp_path / "dreams"
    dreams.mkdir()
    for index, clip in enumerate(real):
        frames = at_times(clip, 9, fps)
        assert len(np.unique(np.round(np.arange(9) / fps * 16).clip(max=len(clip.frames) - 1))) >= 8
        encode_video(dreams / f"{dream_stem(index, clip.instruction)}.mp4", frames, fps, (64, 64))
    # Dream 0 says which first frame it started from (the sidecar's hash of sim-clips' PNG); the others
    # are matched by their first frame's pixels.
    sha = json.loads((clips / "provenance.json").read_text())["clips"][0]["first_frame_sha256"]
    stem = dream_stem(0, real[0].instruction)
    sidecar(dreams / f"{stem}.mp4", real[0].instruction, fps, initial_frame_sha256=sha).write(dreams / f"{stem}.json")
    report = evaluate(dreams, clips, clips, progress=False)
    assert (report.matched[0].dream, report.matched[0].by_hash) == (f"{stem}.mp4", True)
    assert not any(m.by_hash for m in report.matched[1:]) and min(m.first_frame_psnr for m in report.matched) > 35
    write_report(report, tmp_path / "quality.json")
    methods = {m["method"]: m for m in json.loads((tmp_path / "quality.json").read_text())["methods"]}
    assert list(methods) == list(METHODS) and report.unmatched == []
    assert sorted(m.clip for m in report.matched) == sorted(c.name for c in real)
    model, copy, nearest = methods["model"], methods["copy_first_frame"], methods["nearest_training_clip"]
    assert nearest["psnr"] == PSNR_CAP and nearest["cube_final_error_px"] == 0  # its own clip: identical
    assert model["psnr"] > 35 and model["cube_final_error_px"] < 1 and model["instruction_following"] == 1.0
    assert copy["cube_displacement_px"] == 0 and copy["instruction_following"] == 0.0 and copy["psnr"] < model["psnr"]
    assert copy["cube_final_error_px"] > 5 and model["cube_displacement_px"] > 5
    assert len(model["mse_per_frame"]) == 8
    # The copy baseline is the first frame repeated: its error grows as the real video moves away from it.
    truth = at_times(real[0], 9, fps)
    np.testing.assert_allclose(copy["mse_per_frame"][-1],
                               np.mean([frame_mse(at_times(c, 9, fps)[-1:], at_times(c, 9, fps)[:1])[0] for c in real]),
                               rtol=1e-9)
    assert frame_mse(truth[-1:], truth[:1])[0] > frame_mse(truth[1:2], truth[:1])[0]
    assert "nearest_training_clip" in report.table()


def test_eval_leaves_a_dream_of_another_scene_unmatched(clips: Path, tmp_path: Path) -> None:
    dreams = tmp_path / "dreams"
    dreams.mkdir()
    frames = clip_frames(clips, SEEDS[0], CHOSEN[0])[::13]
    encode_video(dreams / f"{dream_stem(0, CHOSEN[0].instruction)}.mp4", frames, DREAM_FPS, (64, 64))
    encode_video(dreams / f"{dream_stem(1, CHOSEN[0].instruction)}.mp4", 255 - frames, DREAM_FPS, (64, 64))
    report = evaluate(dreams, clips, clips, progress=False)
    assert [m.dream for m in report.matched] == [f"{dream_stem(0, CHOSEN[0].instruction)}.mp4"]
    assert report.unmatched == [f"{dream_stem(1, CHOSEN[0].instruction)}.mp4"]
    (dreams / f"{dream_stem(0, CHOSEN[0].instruction)}.mp4").unlink()
    with pytest.raises(WorldModelError, match="no dream starts from the first frame of a clip"):
        evaluate(dreams, clips, clips, progress=False)
