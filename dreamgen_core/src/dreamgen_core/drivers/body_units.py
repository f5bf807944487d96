"""The GR1 body as its driver sees it (one vector, driver order, degrees) ↔ joints by name in rad.

The order and units come from the embodiment spec's `drivers.body`; the calibration's joint offsets
apply on the way in (true angle = driver reading + offset) and come off on the way out, so a
command of angle q reaches the robot as the reading that means q.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from dreamgen_core.calibration.robot import JointOffsets
from dreamgen_core.embodiment.spec import Embodiment

BODY_DRIVER = "body"


class BodyUnits:
    def __init__(self, spec: Embodiment, offsets: JointOffsets, driver: str = BODY_DRIVER) -> None:
        if driver not in spec.drivers:
            raise KeyError(f"embodiment {spec.name!r} has no driver {driver!r}; it has {sorted(spec.drivers)}")
        self.spec = spec
        self.driver = driver
        self.joint_order = spec.drivers[driver].joint_order
        self._offsets = np.array([offsets.offset(n) for n in self.joint_order])

    def positions(self, reading: Sequence[float] | np.ndarray) -> dict[str, float]:
        """A driver position vector → rad by joint name, offsets added."""
        raw = self.spec.from_driver(self.driver, np.asarray(reading, dtype=np.float64).tolist())
        return {name: raw[name] + off for name, off in zip(self.joint_order, self._offsets)}

    def velocities(self, reading: Sequence[float] | np.ndarray) -> dict[str, float]:
        """A driver velocity vector (its units per second) → rad/s by joint name; offsets do not apply."""
        return self.spec.from_driver(self.driver, np.asarray(reading, dtype=np.float64).tolist())

    def command(self, targets: Mapping[str, float]) -> np.ndarray:
        """Targets in rad by name (every body joint) → the driver's vector, offsets taken off."""
        raw = {name: targets[name] - off for name, off in zip(self.joint_order, self._offsets) if name in targets}
        return self.spec.to_driver(self.driver, raw)
