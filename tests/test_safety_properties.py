"""Property tests of the full safety monitor: random command sequences across both sources, e-stops,
enables, source switches, silences, stale inputs and foreign publishers -> nothing the monitor
emits ever leaves the envelope.

Hypothesis draws the ingredients (seed, mix of event kinds, how wild commands are); each example
then plays SEQUENCES_PER_EXAMPLE sequences of 2-8 events from a numpy generator seeded by it, so
10^5 sequences run in seconds (hypothesis alone draws ~1 example per ms). The monitor is reset
between sequences (its `reset`, the one a new session uses). The envelope has 3 joints with GR1's
structure (margins, velocity, step delta and acceleration bounds of its own scale).
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dreamgen_core.safety import POLICY, TELEOP, Envelope, JointBounds, SafetyMonitor
from dreamgen_core.safety.monitor import PASSING

PERIOD = 0.05
ENVELOPE = Envelope({"a": JointBounds(-1.0, 1.0, 2.0, 40.0, 0.08), "b": JointBounds(0.0, 2.0, 1.0, 30.0, 0.2),
                     "c": JointBounds(-0.5, 0.5, 4.0, 60.0, 0.15)}, ("a", "b", "c"), PERIOD)
NAMES = ENVELOPE.joint_names
LOWER = np.array([ENVELOPE.joints[n].lower for n in NAMES])
UPPER = np.array([ENVELOPE.joints[n].upper for n in NAMES])
VMAX = np.array([ENVELOPE.joints[n].max_velocity for n in NAMES])
AMAX = np.array([ENVELOPE.joints[n].max_acceleration for n in NAMES])
DMAX = np.array([ENVELOPE.joints[n].max_step_delta for n in NAMES])
TIMEOUT, STALE_JS, STALE_CAM, CHUNK_AGE, RAMP = 0.25, 0.2, 0.3, 0.5, 0.2
KINDS = ["teleop", "policy", "tick", "estop", "release", "reset", "enable", "disable", "select", "joints",
         "camera", "publishers"]
SEQUENCES_PER_EXAMPLE = 500
EXAMPLES = 200  # x 500 = 10^5 sequences
TOL = 1e-7
MAX_EVENTS = 8


def new_monitor() -> SafetyMonitor:
    return SafetyMonitor(ENVELOPE, TIMEOUT, None, STALE_JS, stale_camera_s=STALE_CAM, ramp_in_s=RAMP,
                         chunk_max_age_s=CHUNK_AGE)


LIMITS = [(ENVELOPE.joints[n].lower, ENVELOPE.joints[n].upper, ENVELOPE.joints[n].max_velocity,
           ENVELOPE.joints[n].max_acceleration, ENVELOPE.joints[n].max_step_delta) for n in NAMES]
DTS = [0.0, 0.01, PERIOD, PERIOD, PERIOD, 0.12, 0.3]
AGES = [0.0, 0.1, 0.4, 0.8]


class Model:
    """What the envelope promises, checked against every emitted command of one sequence (plain
    Python on 3 joints: numpy's per-call overhead would dominate)."""

    def __init__(self) -> None:
        self.latched = False
        self.pressed = False
        self.latched_pose: list[float] | None = None
        self.prev: list[float] | None = None  # last emitted command
        self.prev_s = 0.0
        self.prev_velocity: list[float] | None = None  # of the last emitted command, when it passed
        self.emitted = 0

    def check(self, command: dict[str, float] | None, monitor: SafetyMonitor, now_s: float, source: str | None,
              stamp_s: float | None, camera_s: float | None) -> None:
        if command is None:
            return
        self.emitted += 1
        assert tuple(command) == NAMES
        x = list(command.values())
        for value, (lo, hi, *_) in zip(x, LIMITS):
            assert math.isfinite(value) and lo - TOL <= value <= hi + TOL, command
        passing = monitor.state == PASSING
        if self.latched:
            assert not passing, "a command passed while the e-stop was latched"
            if self.latched_pose is None:
                self.latched_pose = x
            assert x == self.latched_pose, "the e-stop hold moved"
        velocity = None
        if passing:
            assert source == monitor.sources.selected, "a command of the unselected source passed"
            if source == POLICY:
                assert monitor.operator.enabled, "a policy command passed without operator enable"
                assert camera_s is None or now_s - camera_s < STALE_CAM + TOL, "passed on a stale camera"
                assert stamp_s is None or now_s - stamp_s <= CHUNK_AGE + TOL, "passed a stale chunk"
            if self.prev is not None:
                step = min(max(now_s - self.prev_s, 0.0), TIMEOUT)
                velocity = [] if step > 0 else None
                for j, (value, prev, (lo, hi, vmax, amax, dmax)) in enumerate(zip(x, self.prev, LIMITS)):
                    delta, reach = value - prev, min(vmax * step, dmax)
                    assert abs(delta) <= reach + TOL, (command, self.prev, reach)
                    if velocity is None:
                        continue
                    velocity.append(delta / step)
                    if self.prev_velocity is not None and lo + TOL < value < hi - TOL:  # position wins at a limit
                        carried = min(max(self.prev_velocity[j] * step, -reach), reach)
                        assert abs(delta - carried) <= amax * step ** 2 + TOL, (command, self.prev, carried)
        self.prev, self.prev_s, self.prev_velocity = x, now_s, velocity


def play(draws: dict[str, list], i: int, monitor: SafetyMonitor) -> int:
    """Sequence `i` of a batch of pre-drawn randomness, from a reset monitor; returns commands emitted."""
    monitor.reset()
    monitor.joint_states.last_s = monitor.camera.last_s = None  # type: ignore[union-attr]
    model = Model()
    now = draws["start"][i]
    measured = dict(zip(NAMES, draws["pose"][i]))  # may start outside the envelope
    camera_s: float | None = None
    for k in range(draws["length"][i]):
        now += DTS[draws["dt"][i][k]]
        kind = KINDS[draws["kind"][i][k]]
        u = draws["u"][i][k]  # uniform draws for this event's choices
        source: str | None = None
        stamp: float | None = None
        verdict = None
        if kind in ("teleop", "policy"):
            source = TELEOP if kind == "teleop" else POLICY
            values = [measured[n] + e for n, e in zip(NAMES, draws["noise"][i][k])]
            values = [math.nan if r < 0.03 else math.inf if r < 0.05 else v for v, r in zip(values, u[:3])]
            command = {n: v for n, v, r in zip(NAMES, values, u[3:6]) if r < 0.9}
            if u[6] < 0.05:
                command["zz"] = 1.0
            stamp = now - AGES[int(u[7] * 4)] if source == POLICY else None
            verdict = monitor.step(command, measured, now, source, stamp)
        elif kind == "tick":
            verdict = monitor.tick(measured, now)
        elif kind == "estop":
            verdict = monitor.estop(True, measured, now)
            model.pressed = model.latched = True
        elif kind == "release":
            monitor.estop(False, measured, now)
            model.pressed = False
        elif kind == "reset":
            ok = monitor.reset_estop(now).ok
            assert ok == (not model.pressed)
            if ok:
                model.latched, model.latched_pose = False, None
        elif kind in ("enable", "disable"):
            outcome = monitor.enable(kind == "enable", measured, now)
            assert not (outcome.ok and kind == "enable" and model.latched)
        elif kind == "select":
            assert monitor.select(TELEOP if u[0] < 0.5 else POLICY, now).ok
        elif kind == "joints":
            # The robot moves toward the last command, imperfectly; now and then an encoder NaN.
            target = model.prev if model.prev is not None else list(measured.values())
            pose = [t + 0.02 * (2 * r - 1) for t, r in zip(target, u[:3])]
            if u[3] < 0.05:
                pose[int(u[4] * 3)] = math.nan
            measured = dict(zip(NAMES, pose))
            monitor.observe(now)
        elif kind == "camera":
            monitor.observe_camera(now)
            camera_s = now
        elif kind == "publishers":
            count = 2 if u[0] < 0.33 else 1
            verdict = monitor.publishers_seen(count, measured, now)
            if count > 1 and verdict is not None:
                model.latched = True
        model.check(None if verdict is None else verdict.command, monitor, now, source, stamp, camera_s)
    return model.emitted


def draw(rng: np.random.Generator, n: int, weights: np.ndarray, wild: float) -> dict[str, list]:
    """All randomness of n sequences in a few vectorised calls."""
    return {"start": rng.uniform(0, 100, n).tolist(), "pose": rng.uniform(LOWER - 0.2, UPPER + 0.2, (n, 3)).tolist(),
            "length": rng.integers(2, MAX_EVENTS + 1, n).tolist(),
            "dt": rng.integers(0, len(DTS), (n, MAX_EVENTS)).tolist(),
            "kind": rng.choice(len(KINDS), (n, MAX_EVENTS), p=weights).tolist(),
            "noise": rng.normal(0, wild, (n, MAX_EVENTS, 3)).tolist(),
            "u": rng.random((n, MAX_EVENTS, 8)).tolist()}


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1),
       mix=st.lists(st.floats(0.05, 1.0), min_size=len(KINDS), max_size=len(KINDS)),
       wild=st.sampled_from([0.01, 0.1, 1.0, 10.0]))
def test_no_emitted_command_leaves_the_envelope(seed: int, mix: list[float], wild: float) -> None:
    weights = np.array(mix)
    weights[:3] *= 4  # commands and ticks are most of what a monitor sees
    weights /= weights.sum()
    draws = draw(np.random.default_rng(seed), SEQUENCES_PER_EXAMPLE, weights, wild)
    monitor = new_monitor()
    emitted = sum(play(draws, i, monitor) for i in range(SEQUENCES_PER_EXAMPLE))
    assert emitted > 0
    test_no_emitted_command_leaves_the_envelope.sequences += SEQUENCES_PER_EXAMPLE  # type: ignore[attr-defined]


test_no_emitted_command_leaves_the_envelope.sequences = 0  # type: ignore[attr-defined]


def test_the_property_run_covered_enough_sequences() -> None:
    """Runs after the property test in file order: it saw >= 10^5 sequences (no silent shrinking of the run)."""
    assert test_no_emitted_command_leaves_the_envelope.sequences >= 100_000  # type: ignore[attr-defined]
