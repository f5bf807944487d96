"""ChunkExecutor: latency compensation, request timing, blending without backward jumps, freshness."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamgen_core.deploy import ChunkConfig, ChunkExecutor
from dreamgen_core.deploy.errors import DeployError
from dreamgen_core.embodiment import load_embodiment

STEP = 0.05  # 20 fps actions, ticked at 20 Hz as on GR1
H = 16


def executor(blend: str = "crossfade", **kw: float) -> ChunkExecutor:
    cfg = {"step_s": STEP, "max_age_s": 1.0, "request_ahead_s": 0.4, "crossfade_s": 0.2, **kw}
    return ChunkExecutor(ChunkConfig(blend=blend, **cfg))  # type: ignore[arg-type]


def ramp(stamp_s: float, slope: float = 1.0, offset: float = 0.0, width: int = 3) -> np.ndarray:
    """Actions that say 'be at slope * t + offset at time t': a chunk from the observation at stamp_s."""
    t = stamp_s + STEP * np.arange(H)
    return np.repeat((slope * t + offset)[:, None], width, axis=1)


def test_from_spec_takes_rates_and_age_from_the_embodiment() -> None:
    spec = load_embodiment("gr1")
    cfg = ChunkConfig.from_spec(spec, horizon=16, blend="ensemble")
    assert cfg.step_s == pytest.approx(1 / spec.rates.dataset_fps) and cfg.max_age_s == spec.safety.chunk_max_age_s
    assert cfg.request_ahead_s == pytest.approx(0.4) and cfg.blend == "ensemble"


def test_latency_compensation_is_exact_on_a_ramp() -> None:
    ex = executor()
    latency = 0.137  # inference took 2.74 steps: the first 3 actions elapsed
    result = ex.submit(ramp(10.0), 10.0, 10.0 + latency)
    assert result.accepted and result.dropped_steps == 3
    for k in range(10):
        now = 10.0 + latency + k * STEP
        assert ex.act(now) == pytest.approx(np.full(3, now), abs=1e-12)
    assert ex.queue_depth(10.0 + latency) == H - 3
    assert ex.staleness(10.5) == pytest.approx(0.5)


def test_next_chunk_is_requested_before_the_queue_runs_dry_and_only_once() -> None:
    ex = executor()
    assert ex.request(0.0) and not ex.request(0.01)  # nothing yet: ask; one request at a time
    ex.submit(ramp(0.0), 0.0, 0.1)
    ticks = np.arange(0.1, 0.75, STEP)
    asked = [t for t in ticks if ex.request(float(t))]
    end = (H - 1) * STEP
    assert len(asked) == 1 and asked[0] >= end - 0.4 - 1e-9 and asked[0] < end - 0.4 + STEP
    ex.cancel()  # inference failed: a new request may go out
    assert ex.request(float(asked[0]) + STEP)


def test_queue_runs_dry_after_the_last_action_and_reports_it() -> None:
    ex = executor()
    ex.submit(ramp(0.0), 0.0, 0.0)
    assert ex.act((H - 1) * STEP) is not None
    assert ex.act((H - 1) * STEP + 0.01) is None and ex.dry_ticks == 1 and ex.queue_depth(1.0) == 0


def test_stale_and_fully_elapsed_chunks_are_refused() -> None:
    ex = executor(max_age_s=0.5)
    stale = ex.submit(ramp(0.0), 0.0, 0.6)
    assert not stale.accepted and "0.600 s old > max_age_s 0.5" in stale.reason
    ex = executor(max_age_s=5.0)
    gone = ex.submit(ramp(0.0), 0.0, 1.0)
    assert not gone.accepted and "elapsed" in gone.reason and ex.refused == 1 and ex.act(1.0) is None


def test_wrong_shapes_are_errors() -> None:
    ex = executor()
    ex.submit(ramp(0.0), 0.0, 0.0)
    with pytest.raises(DeployError, match=r"\(16, 5\)"):
        ex.submit(ramp(0.1, width=5), 0.1, 0.1)
    with pytest.raises(DeployError):
        ex.submit(np.zeros(4), 0.1, 0.1)


def test_reset_forgets_everything() -> None:
    ex = executor()
    ex.submit(ramp(0.0), 0.0, 0.0)
    ex.request(0.5)
    ex.reset()
    assert ex.act(0.1) is None and ex.accepted == 0 and ex.request(0.1)


@pytest.mark.parametrize("blend", ["crossfade", "ensemble"])
def test_no_backward_jump_when_a_disagreeing_chunk_arrives(blend: str) -> None:
    """The robot moves forward at 1 rad/s; the next chunk (from an observation 0.3 s later) says it
    should be 0.1 rad behind. Switching at once would step back 0.1 - 0.05 = 0.05 rad in one tick.

    Bound (crossfade): each tick moves slope*STEP plus at most D*STEP/crossfade_s = 0.025 rad of the
    disagreement, so it never goes backward. Ensemble (decay 0.01, two voters): the newcomer takes
    at most 1/(1+e^-0.01) ~ 0.5 of D = 0.05 at once, so a tick moves >= 0.05 - 0.05 = 0: no backward step.
    """
    ex = executor(blend)
    ex.submit(ramp(0.0), 0.0, 0.05)
    targets = []
    for k in range(2, 14):
        now = k * STEP
        if k == 7:
            assert ex.submit(ramp(0.3, offset=-0.1), 0.3, now - 0.001).accepted
        target = ex.act(now)
        assert target is not None
        targets.append(target[0])
    steps = np.diff(targets)
    assert steps.min() >= -1e-12, steps
    if blend == "crossfade":
        assert np.all(np.abs(steps - STEP) <= 0.1 * STEP / 0.2 + 1e-9)
        assert targets[-1] == pytest.approx(13 * STEP - 0.1)  # faded in completely


def test_unknown_blend_names_the_known_ones() -> None:
    with pytest.raises(Exception, match="crossfade, ensemble"):
        executor("average")


@settings(max_examples=150, deadline=None)
@given(stamps=st.lists(st.floats(0.0, 0.3), min_size=1, max_size=6),
       latencies=st.lists(st.floats(0.0, 0.6), min_size=6, max_size=6),
       offsets=st.lists(st.floats(-0.5, 0.5), min_size=6, max_size=6),
       blend=st.sampled_from(["crossfade", "ensemble"]))
def test_targets_stay_within_the_chunks_and_follow_a_shared_ramp(stamps: list[float], latencies: list[float],
                                                                  offsets: list[float], blend: str) -> None:
    """Any arrival pattern: (1) every chunk on the same ramp -> every target is exactly the ramp at
    the tick (latency compensation survives blending) while the blended chunks cover it; (2) chunks
    that disagree -> every target lies between the lowest and highest chunk value at that tick (blending never extrapolates)."""
    same, mixed = executor(blend, max_age_s=2.0), executor(blend, max_age_s=2.0)
    t_obs, arrivals = 0.0, []
    for i, gap in enumerate(stamps):
        t_obs += gap
        arrivals.append((t_obs + latencies[i], t_obs, offsets[i]))
    arrivals.sort()
    chunks_seen: list[tuple[float, float]] = []
    for now in np.arange(0.0, 2.0, STEP):
        while arrivals and arrivals[0][0] <= now:
            arrive, stamp, offset = arrivals.pop(0)
            same.submit(ramp(stamp), stamp, arrive)
            if mixed.submit(ramp(stamp, offset=offset), stamp, arrive).accepted:
                chunks_seen.append((stamp, offset))
        a, b = same.act(float(now)), mixed.act(float(now))
        # A crossfade out of a chunk that ended before its successor came fades from the ended
        # chunk's last target (where the robot was told to stay), not from the ramp: exact only
        # while every chunk still blended covers the tick.
        if a is not None and all(c.covers(float(now)) for c in same.chunks):
            assert a == pytest.approx(np.full(3, now), abs=1e-9)
        if b is not None:
            # A chunk past its end holds its last action: that is its value here.
            values = [min(now, s + (H - 1) * STEP) + o for s, o in chunks_seen]
            assert min(values) - 1e-9 <= b[0] <= max(values) + 1e-9
