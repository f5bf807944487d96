"""`dreamgen wm sim-clips`: the scripted expert filmed in the MuJoCo GR1 without ROS, written in the clip-set
layout of `dataset export-clips`, framed the same way, in worker processes; failed episodes left out and
listed; bad input refused."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

import dreamgen_core.sim  # noqa: F401  (headless MuJoCo before mujoco is imported)
from dreamgen_core.cli.main import main
from dreamgen_core.config import ConfigError
from dreamgen_core.dataset.clips import CAPTION_PREFIX, METADATA_COLUMNS, framing
from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.sim.episodes import parse_seeds
from dreamgen_core.sim.robot import SimRobot
from dreamgen_core.sim.task import TASKS, parse_tasks
from dreamgen_core.video import decode_video, probe_video, resize
from dreamgen_core.worldmodel.errors import WorldModelError
from dreamgen_core.worldmodel.prompts import read_prompts
from dreamgen_core.worldmodel.sim_clips import (
    SUPERSAMPLE,
    SimClipConfig,
    clip_name,
    make_sim_clips,
    render_framing,
)

SIZE = (64, 64)
CHOSEN = (TASKS[0], TASKS[3])  # red cube to green target, blue cube to yellow target
SEED = 1008  # in this layout the expert solves CHOSEN[0] and fails CHOSEN[1] (cause not investigated)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "clips"
    report = make_sim_clips(out, SimClipConfig(seeds=(SEED,), tasks=CHOSEN, size_hw=SIZE, workers=2), progress=False)
    assert [e.success for e in report.episodes] == [True, False]
    return out


def read_rows(clips: Path) -> list[dict[str, str]]:
    with open(clips / "metadata.csv", newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == METADATA_COLUMNS
        return list(reader)


def test_clip_set_layout_matches_export_clips(clips: Path) -> None:
    rows = read_rows(clips)
    provenance = json.loads((clips / "provenance.json").read_text())
    by_name = {c["name"]: c for c in provenance["clips"]}
    assert sorted(p.name for p in (clips / "videos").iterdir()) == sorted(Path(r["video_path"]).name for r in rows)
    assert [int(r["episode_index"]) for r in rows] == list(range(len(rows)))
    for row in rows:
        name = Path(row["video_path"]).stem
        meta = by_name[name]
        assert meta["success"] is True and name == clip_name(meta["seed"], next(t for t in TASKS if t.name == meta["task"]))
        caption = (clips / "metas" / f"{name}.txt").read_text()
        assert caption == CAPTION_PREFIX + meta["instruction"] + "\n" == row["caption"] + "\n"
        probe = probe_video(clips / row["video_path"])
        assert (probe.width, probe.height, float(probe.fps), float(row["fps"])) == (64, 64, 16.0, 16.0)
        assert len(probe.pts_s) == int(row["num_frames"])
        np.testing.assert_allclose(probe.pts_s, np.arange(len(probe.pts_s)) / 16.0)
        # The whole push: the expert's plan lasts 6-9 s, then half a second at rest.
        assert 6.5 * 16 <= int(row["num_frames"]) <= 10 * 16, row
    assert [(c["seed"], c["task"]) for c in provenance["clips"]] == [(SEED, CHOSEN[0].name)]
    assert [(c["seed"], c["task"], c["success"]) for c in provenance["failed"]] == [(SEED, CHOSEN[1].name, False)]
    assert provenance["seeds"] == f"{SEED}:{SEED + 1}" and len(rows) == 1  # the failed episode is left out
    assert provenance["fps_in"] == 20.0 and provenance["fps_out"] == 16.0 and provenance["size_hw"] == list(SIZE)


def test_first_frame_is_the_seeded_scene_framed_like_export_clips(clips: Path) -> None:
    """Frame 0 equals a fresh render of the seed's scene, centre-cropped and resized as export-clips does."""
    spec = load_embodiment("gr1")
    camera_spec = next(iter(spec.cameras.values()))
    frame = render_framing((camera_spec.height, camera_spec.width), SIZE)
    r0, r1, c0, c1 = frame.crop
    assert (r1 - r0, c1 - c0) == (SUPERSAMPLE * 64, SUPERSAMPLE * 64)
    assert frame.crop == framing(frame.source_hw, SIZE, 0.5).crop
    robot = SimRobot(spec, seed=SEED, task=CHOSEN[0])
    camera = robot.renderer(frame.source_hw[1], frame.source_hw[0])
    try:
        expected = resize(camera.render()[r0:r1, c0:c1], SIZE)
    finally:
        camera.close()
    name = clip_name(SEED, CHOSEN[0])
    got = decode_video(clips / "videos" / f"{name}.mp4").frames
    mse = np.mean((got[0].astype(float) - expected) ** 2)
    assert 10 * np.log10(255 ** 2 / mse) > 30  # equal up to h264
    assert np.abs(got[-1].astype(float) - got[0]).mean() > 2  # and the clip is not a still
    # The lossless first frame a dream starts from, and the prompt file naming it.
    png = clips / "first_frames" / f"{name}.png"
    np.testing.assert_array_equal(cv2.cvtColor(cv2.imread(str(png)), cv2.COLOR_BGR2RGB), expected)
    (prompt,) = read_prompts(clips / "prompts.jsonl")
    assert (prompt.image, prompt.instruction, prompt.seed) == (png.absolute(), CHOSEN[0].instruction, SEED)
    (meta,) = json.loads((clips / "provenance.json").read_text())["clips"]
    assert meta["first_frame_sha256"] == hashlib.sha256(png.read_bytes()).hexdigest()
    assert sorted(p.name for p in (clips / "first_frames").iterdir()) == [png.name]  # none of the failed episode


def test_one_worker_writes_the_same_clip_as_two(clips: Path, tmp_path: Path) -> None:
    make_sim_clips(tmp_path / "one", SimClipConfig(seeds=(SEED,), tasks=CHOSEN[:1], size_hw=SIZE, workers=1),
                   progress=False)
    name = f"{clip_name(SEED, CHOSEN[0])}.mp4"
    np.testing.assert_array_equal(decode_video(tmp_path / "one" / "videos" / name).frames,
                                  decode_video(clips / "videos" / name).frames)


def test_an_existing_output_is_refused_and_kept(clips: Path) -> None:
    before = sorted(p.name for p in (clips / "videos").iterdir())
    with pytest.raises(WorldModelError, match="already exists"):
        make_sim_clips(clips, SimClipConfig(seeds=(5,), tasks=CHOSEN[:1], size_hw=SIZE, workers=1), progress=False)
    assert sorted(p.name for p in (clips / "videos").iterdir()) == before


def test_bad_seeds_tasks_and_sizes_name_the_value(tmp_path: Path) -> None:
    assert parse_seeds("3:6") == (3, 4, 5) and parse_seeds("7") == (7,)
    for text in ("a:b", "5:5", "-2:3", "1:x"):
        with pytest.raises(ConfigError, match="--seeds"):
            parse_seeds(text)
    assert parse_tasks("all") == TASKS
    assert parse_tasks(f"{TASKS[2].name}, {TASKS[2].name}") == (TASKS[2],)
    with pytest.raises(ConfigError, match=r"purple_cube.*known: all, red_cube_to_green_target"):
        parse_tasks("purple_cube")
    with pytest.raises(ConfigError, match="even"):
        make_sim_clips(tmp_path / "odd", SimClipConfig(seeds=(0,), size_hw=(63, 64), workers=1), progress=False)
    assert not (tmp_path / "odd").exists()


def test_cli_help_and_a_bad_argument(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as shown:
        main(["wm", "sim-clips", "--help"])
    assert shown.value.code == 0 and "--seeds 1000:1020" in capsys.readouterr().out
    assert main(["wm", "sim-clips", "--out", str(tmp_path / "x"), "--seeds", "0:2", "--tasks", "nope"]) == 2
    error = capsys.readouterr().err
    assert "nope" in error and "known: all" in error
    assert not (tmp_path / "x").exists()
