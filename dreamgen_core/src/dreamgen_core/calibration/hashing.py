"""One hash for a robot's calibration directory, stamped into every episode.

An episode must say which intrinsics, extrinsics and joint offsets it was recorded with; a hash
over the files' bytes does that without copying them. Documentation (README*) and hidden files
(editor swap files, the temp files of atomic writes) are excluded: editing them changes nothing
a consumer reads.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def calibration_files(directory: Path) -> list[Path]:
    """The files that count, sorted by their path relative to `directory`."""
    if not directory.is_dir():
        raise FileNotFoundError(f"calibration directory {directory} does not exist")
    files = []
    for path in directory.rglob("*"):
        relative = path.relative_to(directory)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts) \
                and not path.name.upper().startswith("README"):
            files.append(path)
    return sorted(files, key=lambda p: p.relative_to(directory).as_posix())


def calibration_hash(directory: Path) -> str:
    """sha256 over each file's relative path and bytes, in sorted path order (hex digest)."""
    digest = hashlib.sha256()
    for path in calibration_files(directory):
        name = path.relative_to(directory).as_posix().encode()
        data = path.read_bytes()
        # Length prefixes keep (path, bytes) boundaries unambiguous.
        for chunk in (name, data):
            digest.update(len(chunk).to_bytes(8, "big"))
            digest.update(chunk)
    return digest.hexdigest()
