"""A policy observation assembled live by the converter's rules: latest sample at or before the
observation time, younger than its tolerance (`timeline.LatestBuffer`), frames mapped to the model
view by the converter's `ModelViewTransform`. What the policy sees on the robot is then what it
was trained on, pixel for pixel and stamp for stamp.

Joint states may arrive split over several messages; each message updates the joints it names
and the full vector is buffered at its stamp. The observation's stamp is the newest capture stamp
it uses (what the chunk's timing and the monitor's chunk-age check start from).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dreamgen_core.embodiment import Embodiment
from dreamgen_core.timeline import NS, LatestBuffer
from dreamgen_core.video import ModelViewTransform

JOINTS = "joints"


@dataclass(frozen=True)
class Observation:
    images: dict[str, np.ndarray]  # model-view uint8 [S, S, 3] by dataset video key
    state: np.ndarray  # float32 [D], the embodiment's layout
    stamp_ns: int


class ObservationAssembler:
    def __init__(self, spec: Embodiment, joint_tolerance_s: float, camera_tolerance_s: float) -> None:
        self.spec = spec
        self.state = np.full(spec.dim, np.nan)
        self.tolerance_ns = {JOINTS: int(joint_tolerance_s * NS)}
        self.transforms: dict[str, ModelViewTransform] = {}
        for camera in spec.cameras.values():
            key = camera.model_view.video_key
            self.tolerance_ns[key] = int(camera_tolerance_s * NS)
            self.transforms[key] = ModelViewTransform.for_camera(camera)
        self.buffers: dict[str, LatestBuffer[np.ndarray]] = {k: LatestBuffer(t) for k, t in self.tolerance_ns.items()}

    def add_joints(self, stamp_ns: int, names: Sequence[str], positions: Sequence[float]) -> None:
        placed = self.spec.place(names, positions)
        self.state = np.where(placed.filled, placed.vector, self.state)
        if not np.isnan(self.state).any():
            self._add(JOINTS, stamp_ns, self.state.astype(np.float32))

    def add_frame(self, video_key: str, stamp_ns: int, rgb: np.ndarray) -> None:
        """A raw camera frame (RGB uint8 [H, W, 3]); mapped to the model view only when used."""
        self._add(video_key, stamp_ns, rgb)

    def at(self, t_ns: int) -> Observation | str:
        """The observation at `t_ns`, or why there is none (which source is missing or stale)."""
        joints = self.buffers[JOINTS].at(t_ns)
        if joints is None:
            return "no joint state within tolerance (all joints, at or before the observation time)"
        images, stamp = {}, t_ns - joints[1]
        for key in self.transforms:
            frame = self.buffers[key].at(t_ns)
            if frame is None:
                return f"no {key} frame within tolerance"
            images[key] = self.transforms[key](frame[0])
            stamp = max(stamp, t_ns - frame[1])
        return Observation(images, joints[0], stamp)

    def _add(self, name: str, stamp_ns: int, value: np.ndarray) -> None:
        try:
            self.buffers[name].add(stamp_ns, value)
        except ValueError:
            # A stamp older than the last (a restarted publisher, sim time reset): start the buffer anew.
            self.buffers[name] = LatestBuffer(self.tolerance_ns[name])
            self.buffers[name].add(stamp_ns, value)
