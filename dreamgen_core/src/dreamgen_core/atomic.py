"""Atomic outputs: a reader sees the old file or directory or the new one, never half of one.

Files: `write_bytes_atomic` / `write_text_atomic` write a temp file beside the target, fsync it and
rename it over the target.

Directories (datasets, world-model clips; later dreams, labels, checkpoints, engines): `AtomicDir`.

    with AtomicDir(target, validate=check) as build:   # build: an empty directory beside target
        ...write everything into build...
    # leaving the block validates build and swaps it in; an exception leaves target as it was

Beside `target` it keeps three hidden siblings, all gone after a finished run:
- `.<name>.lock`: an flock held for the whole build, so two builders never race. The holder writes
  who it is (pid, host, start time, command) into the file; a second builder fails at once with
  an error naming it.
- `.<name>.build`: the directory being built. Under the lock only one builder exists, so one fixed
  name suffices and anything found there is the leftover of a killed run: it is removed.
- `.<name>.previous`: the old target during the swap (two renames; Linux and macOS have no
  portable directory exchange). A run killed between the renames leaves only this; the next run
  puts it back. The interrupted run's output is discarded, as if it had died a moment earlier.

The episode recorder's `<name>.partial/` bag is deliberately not an AtomicDir: a live recording must
survive its own crash with everything flushed so far (`dreamgen bag recover` salvages it), whereas an
interrupted AtomicDir build is worthless by definition and is thrown away.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

# A validator returns every problem it finds in a finished build (empty: the build may be swapped in).
Validator = Callable[[Path], Sequence[str]]


class AtomicDirError(RuntimeError):
    """The target is locked by another builder, is not a directory, or the build did not validate."""


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write `data` to a temp file beside `path`, fsync it, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


class AtomicDir:
    """Build a directory beside `target` under a lock, validate it, swap it in whole.

    `open()` returns the empty build directory; `commit()` validates and swaps; `abort()` drops the
    build. Both release the lock. As a context manager: leaving the block commits, an exception aborts.
    """

    def __init__(self, target: Path, validate: Validator | None = None) -> None:
        self.target = Path(target)
        self.validate = validate
        name, parent = self.target.name, self.target.parent
        self.lock_path = parent / f".{name}.lock"
        self.build = parent / f".{name}.build"
        self.previous = parent / f".{name}.previous"
        self._lock: int | None = None

    def __enter__(self) -> Path:
        return self.open()

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    @property
    def is_open(self) -> bool:
        return self._lock is not None

    def open(self) -> Path:
        """Take the lock, clean up after a killed run, and return the fresh, empty build directory."""
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self._lock = _acquire(self.lock_path, self.target)
        try:
            self._recover()
            if self.target.exists() and not self.target.is_dir():
                raise AtomicDirError(f"{self.target}: exists and is not a directory; refusing to replace it")
            self.build.mkdir()
        except BaseException:
            self.abort()
            raise
        return self.build

    def commit(self) -> None:
        """Validate the build and swap it in place of the target; on any failure the target is untouched."""
        if not self.is_open:
            raise RuntimeError(f"{self.target}: AtomicDir is not open")
        try:
            problems = list(self.validate(self.build)) if self.validate else []
            if problems:
                shown = "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
                raise AtomicDirError(f"{self.target}: refusing to swap in an invalid build: {shown}")
            _fsync_tree(self.build)
            self._swap()
        finally:
            self.abort()

    def abort(self) -> None:
        """Drop the build (if any) and release the lock; the target is exactly as it was."""
        if self._lock is None:
            return
        shutil.rmtree(self.build, ignore_errors=True)
        # Unlink while still holding the lock: a builder that opened the old file fails its
        # non-blocking flock now, or finds the file gone and retries on a fresh one (`_acquire`).
        self.lock_path.unlink(missing_ok=True)
        os.close(self._lock)
        self._lock = None

    def _recover(self) -> None:
        """Undo what a killed run left (we hold the lock, so nobody else is building)."""
        if self.previous.exists():
            if self.target.exists():  # killed after the second rename: the new target is complete
                shutil.rmtree(self.previous)
            else:  # killed between the renames: put the old target back
                os.rename(self.previous, self.target)
        if self.build.exists():
            shutil.rmtree(self.build)

    def _swap(self) -> None:
        if self.target.exists():
            os.rename(self.target, self.previous)
            os.rename(self.build, self.target)
            _fsync_dir(self.target.parent)
            shutil.rmtree(self.previous)
        else:
            os.rename(self.build, self.target)
            _fsync_dir(self.target.parent)


@contextmanager
def exclusive(target: Path) -> Iterator[None]:
    """Hold the lock AtomicDir would hold on `target`, for a job that updates `target` in place (dreams,
    labels): a second job fails at once with an error naming the holder."""
    lock_path = target.parent / f".{target.name}.lock"
    fd = _acquire(lock_path, target)
    try:
        yield
    finally:
        lock_path.unlink(missing_ok=True)  # while still holding it, as AtomicDir.abort does
        os.close(fd)


def _holder() -> str:
    """Who we are, as a lock holder writes it into the lock file."""
    command = shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv and sys.argv[0] else sys.executable
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return f"pid {os.getpid()} on {socket.gethostname()} since {since} ({command})"


def _acquire(lock_path: Path, target: Path) -> int:
    while True:
        fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 4096).decode("utf-8", "replace").strip() or "a process that has not named itself yet"
            os.close(fd)
            raise AtomicDirError(f"{target}: another process is building it: {holder}; lock {lock_path}") from None
        try:
            if os.path.samestat(os.fstat(fd), os.stat(lock_path)):
                break
        except FileNotFoundError:
            pass
        os.close(fd)  # the previous holder unlinked this file before we locked it: lock the fresh one
    os.ftruncate(fd, 0)
    os.write(fd, (_holder() + "\n").encode())
    return fd


def _fsync_tree(root: Path) -> None:
    """Make the build durable before it becomes the target (a power cut must not leave it half written)."""
    for folder, _, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(folder))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
