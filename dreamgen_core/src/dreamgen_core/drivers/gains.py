"""A gains table for the GRX server's `control/gains`: kp and kd by joint name, in the server's units.

```yaml
kp: {left_hip_roll_joint: 251.6, ...}   # every body joint of the driver
kd: {left_hip_roll_joint: 14.7, ...}
```
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from dreamgen_core.config import ConfigError, read_yaml


@dataclass(frozen=True)
class Gains:
    kp: dict[str, float]
    kd: dict[str, float]


def load_gains(path: Path, joints: tuple[str, ...]) -> Gains:
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(path.name, "", data, "must be a mapping with kp and kd")
    tables = {}
    for key in ("kp", "kd"):
        table = data.get(key)
        if not isinstance(table, dict):
            raise ConfigError(path.name, key, table, "must map every body joint to a gain")
        missing = [n for n in joints if n not in table]
        unknown = sorted(set(table) - set(joints))
        if missing or unknown:
            raise ConfigError(path.name, key, sorted(table), f"missing joints {missing}, unknown joints {unknown}")
        for name, value in table.items():
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ConfigError(path.name, f"{key}.{name}", value, "must be a finite number >= 0")
        tables[key] = {name: float(value) for name, value in table.items()}
    return Gains(tables["kp"], tables["kd"])
