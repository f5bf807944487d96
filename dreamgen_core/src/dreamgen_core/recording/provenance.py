"""What made an episode: calibration and software identity, recorded in every bag's metadata."""

from __future__ import annotations

import re
from pathlib import Path

from dreamgen_core import __version__
from dreamgen_core.calibration.hashing import calibration_hash

MISSING = "missing"


def episode_calibration_hash(directory: Path) -> str:
    """The calibration an episode was recorded with; "missing" keeps an uncalibrated one visible."""
    return calibration_hash(directory) if directory.is_dir() else MISSING


def software_version() -> str:
    return f"dreamgen_core {__version__}"


def slug(text: str, limit: int = 40) -> str:
    """A file-name-safe summary of an instruction: `pick_up_the_apple`."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:limit].rstrip("_") or "episode"
