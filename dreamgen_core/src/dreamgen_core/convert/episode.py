"""One episode bag → one aligned dataset episode with its videos encoded, or a one-line reason why not.

Alignment is `dreamgen_core.timeline`: frames at t_i = t0 + i/fps over the span every source
covers; per frame, the latest joint state, teleop command (the dataset action: what the operator
asked for) and camera frame captured at or before t_i (header stamps, never receive times), each
within its tolerance. Joints are placed into the layout by name; a message naming only some joints
(a robot publishing body and hands separately) updates those, the others keep their last value.
Anything that would silently corrupt a dataset — a missing topic, a wrong type, unknown joint
names, non-finite positions, an image buffer shorter than its size, a compressed frame that does
not decode, a camera changing resolution, stamps going back, a clock jump, a gap, an episode
shorter than the models' horizon — rejects the episode with a `ConvertError` naming the bag and
the cause.

The camera is its raw `Image` topic or, in a bag without it, its `CompressedImage` topic
(`compressed_image`): decoded to the same RGB frames, it takes the same path from there on.

The MCAP file is read once (`McapFile`): one pass for stamps, joints and image headers, then only
the camera frames that are used are decoded, each once, and encoded straight into the dataset's
videos here (the converter's workers encode in parallel; the writer moves the files in).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dreamgen_core.bag import find_mcap, read_info
from dreamgen_core.bag.schema import COMPRESSED_IMAGE_TYPE, typestore
from dreamgen_core.convert.compressed_image import UndecodableImage, compressed_header, decode_rgb
from dreamgen_core.convert.joint_state_cdr import JOINT_STATE, JointStateDecoder
from dreamgen_core.convert.mcap_file import Channel, Locator, McapError, McapFile
from dreamgen_core.dataset import EpisodeData
from dreamgen_core.dataset.layout import DatasetError
from dreamgen_core.dataset.videos import RawSize, encode_incoming, video_features
from dreamgen_core.embodiment import Embodiment
from dreamgen_core.embodiment.spec import Camera
from dreamgen_core.recording import EpisodeMeta
from dreamgen_core.recording.provenance import software_version
from dreamgen_core.timeline import NS, Selection, frame_times, select_latest, timing_columns
from dreamgen_core.video import EncoderConfig

IMAGE = "sensor_msgs/msg/Image"
CHANNELS = {"rgb8": slice(None), "bgr8": slice(None, None, -1)}  # → RGB


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
    min_frames: int = 16  # the models' action horizon (GR00T, IDM): a shorter episode trains nothing
    raw_size: RawSize = "native"  # the raw camera video beside the model view (`dataset.videos`)
    encoder: EncoderConfig = EncoderConfig()


class Skipped(Exception):
    """The episode is readable but not converted (its QA verdict is not ok); the message says why."""


@dataclass(frozen=True)
class _Stream:
    topic: str
    stamps: np.ndarray  # header stamps, ns
    values: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))  # joint streams: [n, dim]
    unused: tuple[str, ...] = field(default=())
    where: tuple[Locator, ...] = ()  # camera streams: where each message is, for the frames used
    msgtype: str = ""  # camera streams: Image or CompressedImage


def prepare_decoders() -> None:
    """Build rosbags' type store and CDR decoders for the converter's types now (~0.3 s of CPU, once
    per process) rather than inside the first episode's timing."""
    for msgtype in (JOINT_STATE, IMAGE, COMPRESSED_IMAGE_TYPE):
        typestore().get_msgdef(msgtype)


def convert_bag(bag: Path, spec: Embodiment, cfg: ConvertConfig, incoming: Path) -> EpisodeData:
    """Read, check and align one episode bag; its videos are encoded into a new directory under
    `incoming` (the dataset writer's, which moves them in)."""
    try:
        return _convert(bag, spec, cfg, incoming)
    except (ConvertError, Skipped):
        raise
    except McapError as exc:
        raise ConvertError(f"{bag.name}: {exc}") from exc
    except Exception as exc:  # the CDR decoder raises many types for damaged messages; name the bag
        raise ConvertError(f"{bag.name}: unreadable or corrupt bag: {type(exc).__name__}: {exc}") from exc


def _convert(bag: Path, spec: Embodiment, cfg: ConvertConfig, incoming: Path) -> EpisodeData:
    if not (bag / "metadata.yaml").is_file():
        raise ConvertError(f"{bag.name}: not a rosbag2 episode (no metadata.yaml)")
    meta = EpisodeMeta.from_custom_data(read_info(bag).custom_data, bag.name).as_dict()
    _check_metadata(bag, meta, spec, cfg)
    fps = cfg.fps or spec.rates.dataset_fps
    camera_key, camera = next(iter(spec.cameras.items()))
    with McapFile(find_mcap(bag)) as mcap:
        state, action, image = _read(bag, mcap, spec, camera)
        for stream in (state, action, image):
            _check_stamps(bag, stream, cfg.clock_jump_s)
        start = max(int(s.stamps[0]) for s in (state, action, image))
        end = min(int(s.stamps[-1]) for s in (state, action, image))
        times = frame_times(start, end, fps)
        if len(times) < max(cfg.min_frames, 1):
            raise ConvertError(f"{bag.name}: too short: the sources overlap for {max(end - start, 0) / NS:.3f} s, "
                               f"{len(times)} frames at {fps:g} fps; the minimum is {cfg.min_frames} (--min-frames)")
        picks = {s.topic: _select(bag, s, times, tol) for s, tol in (
            (state, cfg.state_tolerance_s), (action, cfg.action_tolerance_s or spec.safety.source_timeout_s),
            (image, cfg.image_tolerance_s))}
        videos = _encode(bag, spec, cfg, incoming, {camera_key: _frames(bag, mcap, image, picks[image.topic].index)},
                         len(times))
        key = mcap.content_key
    return EpisodeData(
        state=state.values[picks[state.topic].index], action=action.values[picks[action.topic].index],
        frames={}, videos=videos, task=str(meta["instruction"]),
        source_key=key, success=meta.get("outcome") == "success",
        validity="valid" if meta.get("qa_verdict") == "ok" else "needs_review",
        provenance=_provenance(bag, meta, state, action),
        extra_columns=_extras(times, {"joint_states": (state, picks[state.topic]),
                                      "teleop_command": (action, picks[action.topic]),
                                      camera_key: (image, picks[image.topic])}))


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


def _stamp(msg: Any) -> int:
    return int(msg.header.stamp.sec) * NS + int(msg.header.stamp.nanosec)


def _read(bag: Path, mcap: McapFile, spec: Embodiment, camera: Camera) -> tuple[_Stream, _Stream, _Stream]:
    """The one pass over the bag: joint topics decoded and placed by name, the camera's stamps and
    image headers checked (its pixels are decoded later, only for the frames that are used).
    Returns the state, action and camera streams; the camera is its raw topic if the bag has it,
    else its compressed one."""
    store = typestore()
    state, action = spec.ros.joint_states.name, spec.ros.teleop_command.name
    joints = {topic: _JointTrack(topic, spec) for topic in (state, action)}
    images = {topic: _ImageTrack(topic, msgtype)
              for topic, msgtype in ((camera.topic, IMAGE), (camera.compressed_topic, COMPRESSED_IMAGE_TYPE))}
    types = {topic: JOINT_STATE for topic in joints} | {topic: track.msgtype for topic, track in images.items()}
    seen: dict[str, Channel] = {}
    for channel, data, where in mcap.scan(set(types)):
        if channel.topic not in seen:
            if channel.msgtype != types[channel.topic]:
                raise ConvertError(f"{bag.name}: topic {channel.topic} has type {channel.msgtype}, "
                                   f"expected {types[channel.topic]}")
            seen[channel.topic] = channel
        image = images.get(channel.topic)
        error = image.add(store.deserialize_cdr(data, image.msgtype), where) if image else \
            joints[channel.topic].add(data)
        if error:
            raise ConvertError(f"{bag.name}: {error}")
    source = camera.topic if camera.topic in seen or camera.compressed_topic not in seen else camera.compressed_topic
    missing = [t for t in (state, action, source) if t not in seen]
    if missing:
        found = sorted(c.topic for c in mcap.channels.values())
        also = f" (nor {camera.compressed_topic})" if missing[0] == camera.topic else ""
        raise ConvertError(f"{bag.name}: missing topic {missing[0]}{also} (the bag has {found})")
    return joints[state].stream(), joints[action].stream(), images[source].stream()


class _JointTrack:
    """One joint topic's rows: each message updates the joints it names (placed by name, memoized
    per name list), the others keep their last value; joints never named stay 0 and are listed.
    The stream starts at the first message by which every joint it ever names has been named once
    (a robot publishing body and hands apart): earlier rows would hold a 0 for a joint not yet heard."""

    def __init__(self, topic: str, spec: Embodiment) -> None:
        self.topic, self.spec = topic, spec
        self.decoder = JointStateDecoder()
        self.stamps: list[int] = []
        self.rows: list[np.ndarray] = []
        self._current = np.zeros(spec.dim, dtype=np.float64)
        self._slots: dict[tuple[str, ...], np.ndarray] = {}
        self._seen: set[str] = set()
        self._known: list[int] = []  # per message: how many joints had been named up to it

    def add(self, data: memoryview) -> str:
        """Take one message (CDR bytes); returns why it is unusable ('' if it is fine)."""
        stamp, names, position = self.decoder.decode(data)
        slots = self._slots.get(names)
        if slots is None:
            unknown = [n for n in names if n not in self.spec.joint_names]
            if unknown:
                return f"unknown joint names on {self.topic}: {sorted(unknown)} (not in embodiment {self.spec.name!r})"
            slots = self._slots[names] = np.array([self.spec.slot(n) for n in names], dtype=np.int64)
            self._seen.update(names)
        if position.shape != slots.shape:
            return (f"{self.topic} message {len(self.stamps)}: {len(names)} joint names but "
                    f"{position.size} positions")
        finite = np.isfinite(position)
        if not finite.all():
            bad = np.flatnonzero(~finite)
            return (f"non-finite joint position on {self.topic}: message {len(self.stamps)}, "
                    f"{names[bad[0]]} = {position[bad[0]]} ({bad.size} joints affected)")
        self._current[slots] = position
        self.stamps.append(stamp)
        self.rows.append(self._current.astype(np.float32))
        self._known.append(len(self._seen))
        return ""

    def stream(self) -> _Stream:
        unused = tuple(n for n in self.spec.joint_names if n not in self._seen)
        first = self._known.index(len(self._seen)) if self._known else 0
        values = np.stack(self.rows[first:]) if self.rows else np.zeros((0, self.spec.dim), np.float32)
        return _Stream(self.topic, np.asarray(self.stamps[first:], dtype=np.int64), values, unused)


class _ImageTrack:
    """The camera's stamps and message locations; every header is checked, no pixel is touched."""

    def __init__(self, topic: str, msgtype: str) -> None:
        self.topic, self.msgtype = topic, msgtype
        self.stamps: list[int] = []
        self.where: list[Locator] = []
        self._size: tuple[int, int] | None = None

    def add(self, msg: Any, where: Locator) -> str:
        k = len(self.stamps)
        size, problem = _image_header(msg) if self.msgtype == IMAGE else compressed_header(msg)
        if size is None:
            return f"{self.topic} message {k}: {problem}"
        self._size = self._size or size
        if size != self._size:
            return (f"camera {self.topic} changes resolution mid-episode: message {k} is {size[0]}x{size[1]}, "
                    f"message 0 was {self._size[0]}x{self._size[1]}")
        if problem:
            return f"{self.topic} message {k}: {problem}"
        self.stamps.append(_stamp(msg))
        self.where.append(where)
        return ""

    def stream(self) -> _Stream:
        return _Stream(self.topic, np.asarray(self.stamps, dtype=np.int64), where=tuple(self.where),
                       msgtype=self.msgtype)


def _image_header(msg: Any) -> tuple[tuple[int, int], str]:
    """An Image message's (width, height), and why its pixels cannot be read as its header says
    ('' if they can)."""
    size = (int(msg.width), int(msg.height))
    if msg.encoding not in CHANNELS:
        return size, f"image encoding {msg.encoding!r} is not supported ({', '.join(CHANNELS)})"
    expected = int(msg.step) * int(msg.height)
    if msg.step < msg.width * 3 or len(msg.data) < expected:
        return size, (f"short image buffer: {msg.width}x{msg.height} {msg.encoding} with step {msg.step} needs "
                      f"{expected} bytes (step >= {msg.width * 3}), found {len(msg.data)}")
    return size, ""


def _check_stamps(bag: Path, stream: _Stream, clock_jump_s: float) -> None:
    if not len(stream.stamps):
        raise ConvertError(f"{bag.name}: no messages on {stream.topic}")
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


def _frames(bag: Path, mcap: McapFile, image: _Stream, picks: np.ndarray) -> Iterator[np.ndarray]:
    """The camera frames of `picks` (message indices) as RGB, each decoded once: a frame used for
    several dataset frames is yielded again as the same object (so it is also transformed once)."""
    store, previous, frame = typestore(), -1, np.zeros(0, np.uint8)
    for k in picks.tolist():
        if k != previous:
            msg: Any = store.deserialize_cdr(mcap.message(image.where[k]), image.msgtype)
            try:
                frame, previous = _raw_rgb(msg) if image.msgtype == IMAGE else decode_rgb(msg), k
            except UndecodableImage as exc:
                raise ConvertError(f"{bag.name}: {image.topic} message {k}: {exc}") from exc
        yield frame


def _raw_rgb(msg: Any) -> np.ndarray:
    width, height, step = int(msg.width), int(msg.height), int(msg.step)
    rows = np.asarray(msg.data, dtype=np.uint8)[: step * height].reshape(height, step)
    return rows[:, : width * 3].reshape(height, width, 3)[:, :, CHANNELS[msg.encoding]]


def _encode(bag: Path, spec: Embodiment, cfg: ConvertConfig, incoming: Path, frames: dict[str, Iterator[np.ndarray]],
            length: int) -> dict[str, Path]:
    try:
        return encode_incoming(spec, video_features(spec, cfg.raw_size), frames, length, incoming, bag.name,
                               cfg.encoder)
    except DatasetError as exc:
        raise ConvertError(f"{bag.name}: {exc}") from exc


def _extras(times: np.ndarray, sources: dict[str, tuple[_Stream, Selection]]) -> dict[str, np.ndarray]:
    """Per frame and source: the real capture stamp used and its age — the data behind every row."""
    return timing_columns(times, {name: (stream.stamps, picked) for name, (stream, picked) in sources.items()})


def _provenance(bag: Path, meta: dict[str, Any], state: _Stream, action: _Stream) -> dict[str, Any]:
    # The writer adds `source_key`: the MCAP's content key (`McapFile.content_key`).
    return {"origin": "real", "source_bag": str(bag.resolve()),
            "embodiment": meta.get("embodiment"), "embodiment_hash": meta.get("embodiment_hash"),
            "calibration_hash": meta.get("calibration_hash"), "recorded_with": meta.get("software_version"),
            "converter": software_version(), "outcome": meta.get("outcome"), "qa_verdict": meta.get("qa_verdict"),
            "operator": meta.get("operator"), "start_time": meta.get("start_time"),
            "unused_state_slots": list(state.unused), "unused_action_slots": list(action.unused)}
