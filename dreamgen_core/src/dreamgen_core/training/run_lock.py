"""One trainer per run directory: a second one fails at once instead of interleaving checkpoints."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = ".train.lock"


@contextmanager
def run_lock(run: Path, take: bool, command: str, error: type[Exception]) -> Iterator[None]:
    """Hold RUN/.train.lock while training (`take`: the main process only); `error` names `command` if it is held."""
    if not take:
        yield
        return
    run.mkdir(parents=True, exist_ok=True)
    fd = os.open(run / LOCK_FILE, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise error(f"{run}: another `{command}` is training this run") from None
        yield
    finally:
        os.close(fd)
