"""The frame clock and sample selection shared by the converter and live nodes."""

from __future__ import annotations

import numpy as np
import pytest

from dreamgen_core.timeline import NS, LatestBuffer, frame_times, select_latest


def test_frame_times_are_start_plus_i_over_fps() -> None:
    t = frame_times(1_000, 1_000 + NS, 20.0)
    assert len(t) == 21 and t[0] == 1_000 and t[-1] == 1_000 + NS
    np.testing.assert_array_equal(np.diff(t), np.full(20, NS // 20))
    assert len(frame_times(0, NS - 1, 20.0)) == 20
    assert len(frame_times(5, 4, 20.0)) == 0


def test_latest_at_or_before_within_tolerance() -> None:
    stamps = np.array([100, 200, 300, 700])
    sel = select_latest(stamps, np.array([50, 100, 250, 300, 650, 800]), tolerance_ns=100)
    np.testing.assert_array_equal(sel.index, [-1, 0, 1, 2, 2, 3])
    np.testing.assert_array_equal(sel.age_ns, [-1, 0, 50, 0, 350, 100])
    np.testing.assert_array_equal(sel.valid, [False, True, True, True, False, True])
    assert sel.first_gap() == 0


def test_never_picks_a_future_sample() -> None:
    rng = np.random.default_rng(0)
    stamps = np.sort(rng.integers(0, 10 * NS, 500))
    queries = np.sort(rng.integers(0, 10 * NS, 200))
    sel = select_latest(stamps, queries, tolerance_ns=NS)
    picked = sel.index >= 0
    assert np.all(stamps[sel.index[picked]] <= queries[picked])
    # and it is the latest such sample
    nxt = sel.index[picked] + 1
    inside = nxt < len(stamps)
    assert np.all(stamps[nxt[inside]] > queries[picked][inside])


def test_live_buffer_matches_the_offline_selection() -> None:
    """Parity: a live node asking LatestBuffer at t gets what the converter picks for t."""
    rng = np.random.default_rng(1)
    stamps = np.cumsum(rng.integers(1, NS // 50, 400))
    queries = frame_times(int(stamps[0]), int(stamps[-1]), 20.0)
    offline = select_latest(stamps, queries, tolerance_ns=NS // 40)
    live = LatestBuffer[int](tolerance_ns=NS // 40)
    k = 0
    for q, idx, ok in zip(queries, offline.index, offline.valid):
        while k < len(stamps) and stamps[k] <= q:
            live.add(int(stamps[k]), k)
            k += 1
        answer = live.at(int(q))
        assert (answer is not None) == bool(ok)
        if answer is not None:
            assert answer[0] == idx


def test_live_buffer_rejects_stamps_going_back() -> None:
    buf = LatestBuffer[str](tolerance_ns=10)
    buf.add(100, "a")
    with pytest.raises(ValueError, match="older than the previous one"):
        buf.add(99, "b")
