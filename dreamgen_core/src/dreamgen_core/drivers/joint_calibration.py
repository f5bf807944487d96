"""Joint-zero offsets measured through the GRX client: the robot held at a known pose, readings averaged.

offset = known angle − mean driver reading (rad), per body joint: what
`calibration/gr1_joint_offsets.yaml` holds (true angle = driver reading + offset). The hands are
separate devices: their entries in an existing file are kept as they are.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from tqdm import tqdm

from dreamgen_core.atomic import write_text_atomic
from dreamgen_core.calibration.robot import JointOffsets, load_joint_offsets
from dreamgen_core.config import ConfigError, read_yaml
from dreamgen_core.drivers.body_units import BodyUnits
from dreamgen_core.drivers.grx_standin import NO_OFFSETS
from dreamgen_core.embodiment.spec import Embodiment


def load_pose(path: Path, spec: Embodiment) -> dict[str, float]:
    """A known pose, `{joint: rad}`; joints left out are at 0 (the URDF's zero pose)."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(path.name, "", data, "must map joint names to angles in rad")
    for name, value in data.items():
        if name not in spec.joints:
            raise ConfigError(path.name, str(name), value, f"no joint {name!r} in embodiment {spec.name!r}")
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(path.name, str(name), value, "must be a finite angle in rad")
    return {name: float(data.get(name, 0.0)) for name in spec.joints}


def measure_offsets(client: Any, spec: Embodiment, pose: Mapping[str, float], samples: int,
                    timeout_s: float = 10.0) -> dict[str, float]:
    """Average `samples` fresh joint/position samples of a connected client; offsets of the body joints."""
    raw = BodyUnits(spec, NO_OFFSETS)
    readings: list[list[float]] = []
    last = None
    deadline = time.monotonic() + timeout_s
    with tqdm(total=samples, desc="joint samples", unit="sample") as bar:
        while len(readings) < samples:
            position = client.states["joint"].get("position")
            if position is not None and position is not last:  # each sample is a new array
                last = position
                readings.append([raw.positions(position)[n] for n in raw.joint_order])
                bar.update()
            elif time.monotonic() > deadline:
                raise TimeoutError(f"only {len(readings)} of {samples} joint samples in {timeout_s:g} s")
            else:
                time.sleep(0.001)
    mean = np.mean(np.array(readings), axis=0)
    return {name: float(pose[name] - value) for name, value in zip(raw.joint_order, mean)}


def write_offsets(path: Path, spec: Embodiment, offsets: Mapping[str, float], method: str) -> JointOffsets:
    """Write the offsets file atomically (an existing file's other joints kept); returns it as loaded."""
    kept = load_joint_offsets(path, spec).offsets_rad if path.exists() else {}
    merged = {name: float(offsets.get(name, kept.get(name, 0.0))) for name in spec.joint_names}
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    document = {"embodiment": spec.name, "status": "measured", "method": f"{method} ({stamp})",
                "offsets_rad": {name: round(value, 6) for name, value in merged.items()}}
    header = "# Joint-zero offsets in rad, by joint name: true angle = driver reading + offset.\n"
    write_text_atomic(path, header + yaml.safe_dump(document, sort_keys=False))
    return load_joint_offsets(path, spec)
