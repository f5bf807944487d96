"""Identities of files and directories: exact sha256 of a file, a cheap fingerprint of a directory."""

from __future__ import annotations

import hashlib
from pathlib import Path

_SAMPLE_BYTES = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def verified_sha256(path: Path, recorded: str, recorded_in: str, error: type[Exception]) -> str:
    """The sha256 of `path`, which must be the one `recorded_in` (a file's name) records; else `error` naming both."""
    actual = file_sha256(path)
    if actual != recorded:
        raise error(f"{path}: sha256 {actual[:16]}… but {recorded_in} records {str(recorded)[:16]}…: "
                    "a file of another run, replaced or damaged")
    return actual


def fingerprint(directory: Path) -> str:
    """A cheap, stable identity of a model or clip directory: every file's path and size, the bytes of
    its small files (configs, captions) and the first and last MiB of its large ones (weights, videos).
    Hashing every byte of a 14B-parameter base would take minutes at every run; this catches a
    different checkpoint, a truncated file or an edited config."""
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} is not a directory")
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and not p.name.startswith(".")):
        size = path.stat().st_size
        digest.update(f"{path.relative_to(directory).as_posix()}\0{size}\0".encode())
        with open(path, "rb") as f:
            if size <= 2 * _SAMPLE_BYTES:
                digest.update(f.read())
            else:
                digest.update(f.read(_SAMPLE_BYTES))
                f.seek(size - _SAMPLE_BYTES)
                digest.update(f.read())
    return digest.hexdigest()
