"""`dreamgen idm train` on the scripted expert's sim demos: the IDM beats both trivial baselines on
held-out seeds, a killed run resumes to the very weights of an uninterrupted one, and the
checkpoint carries the stats of the data it was trained on (read back with pyarrow)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
import yaml
from safetensors.numpy import load_file as load_numpy

from dreamgen_core.cli.main import main
from dreamgen_core.dataset.reader import DatasetReader
from dreamgen_core.idm.checkpoint import IDM_YAML, WEIGHTS, load_idm
from dreamgen_core.idm.errors import IdmError
from dreamgen_core.idm.metrics import compare_chunks
from dreamgen_core.idm.train import train
from dreamgen_core.training.checkpoints import CHECKPOINTS
from dreamgen_core.training.losslog import read_loss_csv

# The acceptance run: the CPU defaults with the regression head, 1000 steps of 32 samples (about 8 passes
# over the ~4000 samples of 24 demos). Measured on these demos (held-out seeds 1000-1002, chunk MAE over
# the 7 arm joints that move; holding the state 0.098 rad, the mean action 0.41), in runs that differ only
# in float rounding of the recorded demos (~1e-8 rad) or the train seed: 1000 steps 0.072, 0.074 and
# 0.085 rad (27 %, 24 % and 13 % below holding the state); 600 steps 0.075, 0.083, 0.089 (23 %, 15 %, 9 %).
# The IDM beats both baselines in every run, but its lead over holding the state is that unsteady in this
# CPU budget, so the margin is set below the whole measured spread (an earlier 15 % failed at 13 %).
ACCEPTANCE = {"head": "regression", "train.steps": 1000, "train.batch_size": 32}
MARGIN = 0.05  # the IDM's MAE must be at least 5 % below the better baseline's

TINY = """\
image_hw: [32, 32]
width: 16
readouts: 1
fusion_heads: 2
encoder_options: {stem: 4, channels: [8, 8]}
head_options: {hidden: 16, layers: 1}
train: {steps: 8, batch_size: 4, checkpoint_every: 2}
"""


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> None:
    torch.set_num_threads(1)  # a busy 2-core machine: one thread is faster, and results are the same every run


@pytest.mark.timeout(1800)  # recording the session's sim demos comes first (minutes on a busy machine)
def test_idm_beats_hold_state_and_mean_action_on_held_out_seeds(sim_demos: Path, sim_heldout: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    outcome = train([sim_demos], tmp_path / "idm", overrides=ACCEPTANCE, device="cpu", progress=False)
    idm = load_idm(tmp_path / "idm")
    reader = DatasetReader(sim_heldout)
    predicted, actions, states = [], [], []
    for episode in reader.episodes:
        arrays = reader.arrays(episode.index)
        predicted.append(idm.predict_episode(reader.frames(episode.index), seed=episode.index))
        actions.append(arrays.action)
        states.append(arrays.state)
    result = compare_chunks({"idm": predicted}, actions, states, idm.stats, idm.config.horizon)
    with capsys.disabled():
        print(f"\nIDM trained {outcome.steps_done} steps on {outcome.samples} samples; held-out chunks of "
              f"{len(reader.episodes)} episodes:\n{result.table(idm.layout)}")
    moving = [name for name, m in zip(idm.layout, result.moving) if m]
    assert moving == ["right_shoulder_pitch_joint", "right_shoulder_roll_joint", "right_shoulder_yaw_joint",
                      "right_elbow_pitch_joint", "right_wrist_yaw_joint", "right_wrist_roll_joint",
                      "right_wrist_pitch_joint"]
    best_baseline = min(result.mean_mae("hold_state"), result.mean_mae("mean_action"))
    assert result.mean_mae("idm") <= (1 - MARGIN) * best_baseline, result.table()


def test_killed_run_resumes_to_the_weights_of_an_uninterrupted_one(sim_heldout: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY)
    reference = tmp_path / "reference"
    assert main(["idm", "train", str(sim_heldout), "--out", str(reference), "--config", str(config), "--threads", "1"]) == 0

    run = tmp_path / "killed"
    command = [str(Path(sys.executable).parent / "dreamgen"), "idm", "train", str(sim_heldout), "--out", str(run),
               "--config", str(config), "--threads", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (run / CHECKPOINTS / "step_000002").is_dir() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not (run / WEIGHTS).exists(), "the run finished before it could be killed"
    capsys.readouterr()

    assert main(command[1:]) == 0  # the same command again
    printed = capsys.readouterr().out
    resumed_at = int(printed.split("resumed at step ")[1].split(",")[0])
    assert 2 <= resumed_at < 8
    expected, got = load_numpy(reference / WEIGHTS), load_numpy(run / WEIGHTS)
    assert expected.keys() == got.keys() and all(np.array_equal(expected[k], got[k]) for k in expected)
    assert [r[:3] for r in read_loss_csv(run / "loss.csv")] == [r[:3] for r in read_loss_csv(reference / "loss.csv")]
    assert (run / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert main(command[1:]) == 0
    assert "already finished (8 steps); nothing to do" in capsys.readouterr().out
    with pytest.raises(IdmError, match="other IDM config"):
        train([sim_heldout], run, config=config, overrides={"k": 4}, device="cpu", progress=False)
    other = tmp_path / "other.yaml"
    other.write_text(TINY.replace("steps: 8", "steps: 10"))
    assert main(["idm", "train", str(sim_heldout), "--out", str(run), "--config", str(other)]) == 0  # extends
    assert "resumed at step 8" in capsys.readouterr().out


def test_checkpoint_records_the_stats_of_its_own_training_data(sim_heldout: Path, tmp_path: Path) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY.replace("steps: 8", "steps: 1").replace("checkpoint_every: 2", "checkpoint_every: 1"))
    train([sim_heldout], tmp_path / "idm", config=config, device="cpu", progress=False)
    meta = yaml.safe_load((tmp_path / "idm" / IDM_YAML).read_text())
    # the actions of every episode as stored, read with pyarrow alone
    files = sorted((sim_heldout / "data").rglob("*.parquet"))
    actions = np.concatenate([np.stack(pq.read_table(f, columns=["action"]).column(0).to_pylist()) for f in files])
    assert np.allclose(meta["stats"]["min"], actions.min(0)) and np.allclose(meta["stats"]["max"], actions.max(0))
    assert np.allclose(meta["stats"]["mean"], actions.mean(0), atol=1e-6)
    reader = DatasetReader(sim_heldout)
    assert meta["embodiment_hash"] == reader.embodiment_hash and meta["video_key"] == reader.model_view_key
    assert meta["training"]["datasets"][0]["path"] == str(sim_heldout.resolve())
    assert meta["training"]["datasets"][0]["frames"] == len(actions)
    assert meta["config"]["k"] == 8 and meta["config"]["horizon"] == 16


def test_refuses_an_output_that_is_not_an_idm_run(sim_heldout: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("mine")
    assert main(["idm", "train", str(sim_heldout), "--out", str(tmp_path / "x"), "--steps", "1"]) == 2
    assert "is not an IDM run" in capsys.readouterr().err
