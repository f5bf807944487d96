"""Locate the manufacturer's robot description named by a spec's `source` block."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from dreamgen_core.embodiment.spec import Embodiment


def urdf_path(spec: Embodiment) -> Path:
    """The installed URDF the spec's limits were taken from.

    Found through the package's import spec without importing it: fourier_robot_descriptions'
    __init__ pulls in loaders (pinocchio) that dreamgen installs without.
    """
    src = spec.source
    if not (src.package and src.urdf):
        raise FileNotFoundError(f"embodiment {spec.name!r} names no URDF (source.package / source.urdf)")
    found = importlib.util.find_spec(src.package)
    if found is None or not found.submodule_search_locations:
        raise FileNotFoundError(f"embodiment {spec.name!r}: package {src.package!r} is not installed "
                                "(tools/install.sh installs it from tools/requirements-data.txt)")
    path = Path(next(iter(found.submodule_search_locations))) / src.urdf
    if not path.is_file():
        raise FileNotFoundError(f"embodiment {spec.name!r}: {path} does not exist in {src.package} {src.version}")
    return path
