"""`dreamgen idm label` and `idm eval`: the temporal ensemble, frame order whatever the workers do, the scale
check, the labelled dataset read back by independent libraries, and replays in the sim (the recorded
expert's actions are the replay's own oracle)."""

from __future__ import annotations

import numpy as np
import pytest

from dreamgen_core.embodiment import load_embodiment
from dreamgen_core.idm.ensemble import temporal_ensemble
from dreamgen_core.idm.errors import IdmError
from dreamgen_core.idm.scale import check_scale, parse_range

SPEC = load_embodiment("gr1")


def test_ensemble_is_the_mean_of_every_chunk_covering_a_frame() -> None:
    rng = np.random.default_rng(0)
    chunks = rng.normal(size=(7, 4, 3)).astype(np.float32)
    got = temporal_ensemble(chunks)
    for s in range(7):  # brute force: chunk t covers frames t..t+3
        covering = [chunks[t, s - t] for t in range(7) if 0 <= s - t < 4]
        np.testing.assert_allclose(got[s], np.mean(covering, axis=0), rtol=1e-6)
    assert got.shape == (7, 3) and got.dtype == np.float32
    with pytest.raises(IdmError, match="expected"):
        temporal_ensemble(np.zeros((0, 4, 3)))


def test_scale_check_names_the_joints_past_the_threshold(caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(1)
    joints = ("a", "b", "c", "still")
    train_std = np.array([0.2, 0.2, 0.2, 0.0])
    labels = rng.normal(size=(500, 4)) * np.array([0.2, 0.05, 0.9, 0.0])  # b 4x too small, c 4.5x too large
    report = check_scale([labels[:200], labels[200:]], train_std, joints)
    assert report.flagged == ("b", "c") and not report.ok and report.frames == 500
    assert [j.joint for j in report.checked] == ["a", "b", "c"]  # a joint still in training is not judged
    assert "WARNING" in caplog.text and "b (0.2" in caplog.text and "c (4.5" in caplog.text
    assert check_scale([labels[:, :1]], train_std[:1], joints[:1]).ok
    assert parse_range("0.25,4") == (0.25, 4.0)
    with pytest.raises(IdmError):
        parse_range("2,0.5")
