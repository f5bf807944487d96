"""One episode bag → one aligned dataset episode, or a one-line reason why not.

Alignment is `dreamgen_core.timeline`: frames at t_i = t0 + i/fps over the span every source
covers; per frame, the latest joint state, teleop command (the dataset action: what the operator
asked for) and camera frame captured at or before t_i (header stamps, never receive times), each
within its tolerance. Joints are placed into the layout by name. Anything that would silently
corrupt a dataset — a missing topic, a wrong type, unknown joint names, stamps going back, a clock
jump, a gap — rejects the episode with a `ConvertError` naming the bag and the cause.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.highlevel import AnyReader

from dreamgen_core.bag import header_stamp_ns, read_info
from dreamgen_core.dataset import EpisodeData
from dreamgen_core.embodiment import Embodiment
from dreamgen_core.recording import EpisodeMeta
from dreamgen_core.recording.provenance import software_version
from dreamgen_core.timeline import NS, Selection, frame_times, select_latest
from dreamgen_core.video import ModelViewTransform

JOINT_STATE, IMAGE = "sensor_msgs/msg/JointState", "sensor_msgs/msg/Image"


class ConvertError(ValueError):
    """An episode cannot be converted; the message is `<bag>: <cause>`."""


@dataclass(frozen=True)
class ConvertConfig:
    """Alignment settings. Tolerances: how old the chosen sample may be at a frame time; the
    defaults allow ~5 samples of 100 Hz joint states, ~3 frames of a 30 Hz camera, and for
    commands the embodiment's `safety.source_timeout_s`: up to then the robot still follows the
    last command, so it is still the action; past it the robot holds and the episode has a gap."""

    fps: float | None = None  # default: the embodiment's dataset_fps
    state_tolerance_s: float = 0.05
    action_tolerance_s: float | None = None  # default: the embodiment's safety.source_timeout_s
    image_tolerance_s: float = 0.1
    clock_jump_s: float = 1.0  # consecutive stamps further apart than this: the clock jumped
    include_flagged: bool = False


class Skipped(Exception):
    """The episode is readable but not converted (its QA verdict is not ok); the message says why."""


@dataclass(frozen=True)
class _Stream:
    topic: str
    stamps: np.ndarray  # header stamps, ns
    values: np.ndarray | None = None  # placed joint vectors [n, dim] for joint streams
    unused: tuple[str, ...] = field(default=())


def convert_bag(bag: Path, spec: Embodiment, cfg: ConvertConfig) -> EpisodeData:
    """Read, check and align one episode bag. Frames come back in the camera's model view."""
    try:
        return _convert(bag, spec, cfg)
    except (ConvertError, Skipped):
        raise
    except Exception as exc:  # rosbags/mcap raise many types for damaged files; name the bag
        raise ConvertError(f"{bag.name}: unreadable or corrupt bag: {type(exc).__name__}: {exc}") from exc


def _convert(bag: Path, spec: Embodiment, cfg: ConvertConfig) -> EpisodeData:
    if not (bag / "metadata.yaml").is_file():
        raise ConvertError(f"{bag.name}: not a rosbag2 episode (no metadata.yaml)")
    meta = EpisodeMeta.from_custom_data(read_info(bag).custom_data, bag.name).as_dict()
    _check_metadata(bag, meta, spec, cfg)
    fps = cfg.fps or spec.rates.dataset_fps
    camera_key, camera = next(iter(spec.cameras.items()))
    with AnyReader([bag]) as reader:
        conns = _connections(bag, reader, {spec.ros.joint_states.name: JOINT_STATE,
                                           spec.ros.teleop_command.name: JOINT_STATE, camera.topic: IMAGE})
        state, action, image = _streams(bag, reader, spec, conns, (spec.ros.joint_states.name,
                                                                   spec.ros.teleop_command.name, camera.topic))
        for stream in (state, action, image):
            _check_stamps(bag, stream, cfg.clock_jump_s)
        start = max(int(s.stamps[0]) for s in (state, action, image))
        end = min(int(s.stamps[-1]) for s in (state, action, image))
        times = frame_times(start, end, fps)
        if len(times) < 2:
            raise ConvertError(f"{bag.name}: sources overlap for {(end - start) / NS:.3f} s: too short for one "
                               f"frame pair at {fps:g} fps")
        picks = {s.topic: _select(bag, s, times, tol) for s, tol in (
            (state, cfg.state_tolerance_s), (action, cfg.action_tolerance_s or spec.safety.source_timeout_s),
            (image, cfg.image_tolerance_s))}
        view = ModelViewTransform.for_camera(camera)
        frames = [view(f) for f in _frames(bag, reader, conns[camera.topic], picks[camera.topic].index)]
    digest = _sha256(next(bag.glob("*.mcap")))
    return EpisodeData(
        state=state.values[picks[state.topic].index], action=action.values[picks[action.topic].index],
        frames={camera_key: frames}, frames_in_model_view=True, task=str(meta["instruction"]),
        source_key=digest, success=meta.get("outcome") == "success",
        validity="valid" if meta.get("qa_verdict") == "ok" else "needs_review",
        provenance=_provenance(bag, digest, meta, state, action),
        extra_columns=_extras(times, {"joint_states": (state, picks[state.topic]),
                                      "teleop_command": (action, picks[action.topic]),
                                      camera_key: (image, picks[camera.topic])}))


def _check_metadata(bag: Path, meta: dict[str, Any], spec: Embodiment, cfg: ConvertConfig) -> None:
    if not str(meta.get("instruction", "")).strip():
        raise ConvertError(f"{bag.name}: no instruction in the episode metadata")
    recorded = meta.get("embodiment_hash")
    if recorded and recorded != spec.content_hash:
        raise ConvertError(f"{bag.name}: recorded with embodiment {meta.get('embodiment')!r} hash {recorded[:12]}, "
                           f"converting with {spec.name!r} hash {spec.content_hash[:12]}: the layouts may differ")
    verdict = meta.get("qa_verdict")
    if verdict != "ok" and not cfg.include_flagged:
        reasons = "; ".join(meta.get("qa_reasons") or []) or "no QA verdict"
        raise Skipped(f"QA verdict {verdict}: {reasons} (--include-flagged converts it)")


def _connections(bag: Path, reader: AnyReader, wanted: dict[str, str]) -> dict[str, Any]:
    found = {c.topic: c for c in reader.connections}
    conns = {}
    for topic, msgtype in wanted.items():
        if topic not in found:
            raise ConvertError(f"{bag.name}: missing topic {topic} (the bag has {sorted(found)})")
        if found[topic].msgtype != msgtype:
            raise ConvertError(f"{bag.name}: topic {topic} has type {found[topic].msgtype}, expected {msgtype}")
        conns[topic] = found[topic]
    return conns


def _stamp(msg: Any) -> int:
    return int(msg.header.stamp.sec) * NS + int(msg.header.stamp.nanosec)


def _streams(bag: Path, reader: AnyReader, spec: Embodiment, conns: dict[str, Any],
             topics: tuple[str, str, str]) -> tuple[_Stream, _Stream, _Stream]:
    """One pass over the bag: joint topics decoded and placed by name, the camera's stamps only
    (its pixels are read in a second pass, for the frames that are used)."""
    joints = {topic: ([], []) for topic in topics[:2]}
    camera_stamps: list[int] = []
    for conn, _, raw in reader.messages(connections=[conns[t] for t in topics]):
        if conn.topic == topics[2]:
            camera_stamps.append(header_stamp_ns(raw))
            continue
        msg = reader.deserialize(raw, conn.msgtype)
        placed = spec.place(list(msg.name), np.asarray(msg.position, dtype=np.float64))
        if placed.unknown:
            raise ConvertError(f"{bag.name}: unknown joint names on {conn.topic}: {sorted(placed.unknown)} "
                               f"(not in embodiment {spec.name!r})")
        joints[conn.topic][0].append(_stamp(msg))
        joints[conn.topic][1].append(placed)
    for topic, stamps in ((topics[0], joints[topics[0]][0]), (topics[1], joints[topics[1]][0]),
                          (topics[2], camera_stamps)):
        if not stamps:
            raise ConvertError(f"{bag.name}: no messages on {topic}")
    return (*(_joint_stream(topic, *joints[topic], spec) for topic in topics[:2]),
            _Stream(topics[2], np.asarray(camera_stamps, dtype=np.int64)))


def _joint_stream(topic: str, stamps: list[int], placed: list, spec: Embodiment) -> _Stream:
    # A joint no message reported stays 0 in its slot and is declared in the provenance.
    never = set.intersection(*(set(p.missing) for p in placed))
    unused = tuple(n for n in spec.joint_names if n in never)
    return _Stream(topic, np.asarray(stamps, dtype=np.int64),
                   np.asarray([p.vector for p in placed], dtype=np.float32), unused)


def _check_stamps(bag: Path, stream: _Stream, clock_jump_s: float) -> None:
    steps = np.diff(stream.stamps)
    back = np.flatnonzero(steps < 0)
    if back.size:
        k = int(back[0]) + 1
        raise ConvertError(f"{bag.name}: non-monotonic header stamps on {stream.topic}: message {k} at "
                           f"{stream.stamps[k] / NS:.3f} s is before message {k - 1} at {stream.stamps[k - 1] / NS:.3f} s")
    jumps = np.flatnonzero(steps > clock_jump_s * NS)
    if jumps.size:
        k = int(jumps[0])
        raise ConvertError(f"{bag.name}: clock jump on {stream.topic}: {steps[k] / NS:.3f} s between messages "
                           f"{k} and {k + 1} (limit {clock_jump_s:g} s)")


def _select(bag: Path, stream: _Stream, times: np.ndarray, tolerance_s: float) -> Selection:
    picked = select_latest(stream.stamps, times, int(tolerance_s * NS))
    gap = picked.first_gap()
    if gap is not None:
        raise ConvertError(f"{bag.name}: gap: no {stream.topic} sample within {tolerance_s * 1000:g} ms before "
                           f"frame {gap} (t = {(times[gap] - times[0]) / NS:.3f} s)")
    return picked


def _frames(bag: Path, reader: AnyReader, conn: Any, picks: np.ndarray) -> Iterator[np.ndarray]:
    """The camera frames of `picks` (message indices, non-decreasing), decoded once each."""
    wanted = iter(picks.tolist())
    target = next(wanted, None)
    for k, (_, _, raw) in enumerate(reader.messages(connections=[conn])):
        if target is None:
            return
        if k < target:
            continue
        frame = _rgb(bag, reader.deserialize(raw, conn.msgtype))
        while target == k:
            yield frame
            target = next(wanted, None)


def _rgb(bag: Path, msg: Any) -> np.ndarray:
    if msg.encoding not in ("rgb8", "bgr8"):
        raise ConvertError(f"{bag.name}: image encoding {msg.encoding!r} is not supported (rgb8, bgr8)")
    rows = np.asarray(msg.data, dtype=np.uint8).reshape(msg.height, msg.step)
    frame = rows[:, : msg.width * 3].reshape(msg.height, msg.width, 3)
    return frame[:, :, ::-1] if msg.encoding == "bgr8" else frame


def _extras(times: np.ndarray, sources: dict[str, tuple[_Stream, Selection]]) -> dict[str, np.ndarray]:
    """Per frame and source: the real capture stamp used and its age — the data behind every row."""
    extras = {"observation.frame_time_ns": times}
    for name, (stream, picked) in sources.items():
        extras[f"observation.capture_stamp_ns.{name}"] = stream.stamps[picked.index]
        extras[f"observation.age_s.{name}"] = (picked.age_ns / NS).astype(np.float32)
    return extras


def _provenance(bag: Path, digest: str, meta: dict[str, Any], state: _Stream, action: _Stream) -> dict[str, Any]:
    return {"origin": "real", "source_bag": str(bag.resolve()), "source_sha256": digest,
            "embodiment": meta.get("embodiment"), "embodiment_hash": meta.get("embodiment_hash"),
            "calibration_hash": meta.get("calibration_hash"), "recorded_with": meta.get("software_version"),
            "converter": software_version(), "outcome": meta.get("outcome"), "qa_verdict": meta.get("qa_verdict"),
            "operator": meta.get("operator"), "start_time": meta.get("start_time"),
            "unused_state_slots": list(state.unused), "unused_action_slots": list(action.unused)}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
