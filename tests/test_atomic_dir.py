"""AtomicDir: a failed, invalid, concurrent or killed build never damages the target or leaves debris.

Concurrency and kills use real processes (the builder runs in a child Python that is SIGKILLed
mid-build), because flock and crash recovery are about what the kernel does to a dead process.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from dreamgen_core.atomic import AtomicDir, AtomicDirError


def tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def siblings(target: Path) -> list[str]:
    return sorted(p.name for p in target.parent.iterdir())


@pytest.fixture
def target(tmp_path: Path) -> Path:
    """An existing, non-empty output directory."""
    root = tmp_path / "out"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("old a")
    (root / "sub" / "b.txt").write_text("old b")
    return root


@contextmanager
def child_builder(target: Path, then: str) -> Iterator[subprocess.Popen]:
    """A real other process that opens an AtomicDir on `target`, writes a file into its build,
    says `ready` and then runs `then` (Python); killed at the end of the block if still alive."""
    code = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from dreamgen_core.atomic import AtomicDir
        atomic = AtomicDir(Path({str(target)!r}))
        build = atomic.open()
        (build / "half.txt").write_text("half written")
        print("ready", flush=True)
        {then}
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        yield child
    finally:
        child.kill()
        child.wait()


def test_swap_replaces_an_existing_non_empty_target(target: Path) -> None:
    with AtomicDir(target) as build:
        (build / "new.txt").write_text("new")
        assert tree(target) == {"a.txt": "old a", "sub/b.txt": "old b"}  # untouched until the swap
    assert tree(target) == {"new.txt": "new"}
    assert siblings(target) == ["out"]


def test_a_build_that_raises_leaves_the_target_and_nothing_else(target: Path) -> None:
    with pytest.raises(OSError, match="disk on fire"), AtomicDir(target) as build:
        (build / "a.txt").write_text("half")
        raise OSError("disk on fire")
    assert tree(target) == {"a.txt": "old a", "sub/b.txt": "old b"}
    assert siblings(target) == ["out"]


def test_a_failed_first_build_creates_no_target(tmp_path: Path) -> None:
    fresh = tmp_path / "deep" / "fresh"
    with pytest.raises(ValueError), AtomicDir(fresh) as build:
        (build / "x").write_text("x")
        raise ValueError("no")
    assert not fresh.exists() and siblings(fresh) == []


def test_validation_failure_keeps_the_old_target(target: Path) -> None:
    def check(build: Path) -> list[str]:
        return [f"{p.name}: empty" for p in sorted(build.iterdir()) if not p.read_text()]

    with pytest.raises(AtomicDirError, match=r"out: refusing to swap in an invalid build: e1: empty; e2: empty$"), \
            AtomicDir(target, validate=check) as build:
        for name in ("e1", "e2"):
            (build / name).write_text("")
    assert tree(target) == {"a.txt": "old a", "sub/b.txt": "old b"}
    assert siblings(target) == ["out"]

    with AtomicDir(target, validate=check) as build:  # the same validator passes a good build
        (build / "ok").write_text("fine")
    assert tree(target) == {"ok": "fine"}


def test_a_second_builder_is_refused_naming_the_holder(target: Path) -> None:
    with child_builder(target, "time.sleep(60)") as holder:
        with pytest.raises(AtomicDirError) as err:
            AtomicDir(target).open()
        message = str(err.value)
        assert message.startswith(f"{target}: another process is building it: pid {holder.pid} on "), message
        assert "-c" in message and message.endswith(f"lock {target.parent / '.out.lock'}"), message
        assert holder.poll() is None  # the refusal did not disturb the holder
    assert tree(target) == {"a.txt": "old a", "sub/b.txt": "old b"}


def test_a_killed_builder_is_cleaned_up_by_the_next_run(target: Path) -> None:
    with child_builder(target, "time.sleep(60)") as child:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert siblings(target) == [".out.build", ".out.lock", "out"]  # what the dead process left
    assert tree(target.parent / ".out.build") == {"half.txt": "half written"}

    with AtomicDir(target) as build:
        assert list(build.iterdir()) == []  # the leftover build was not reused
        (build / "new.txt").write_text("new")
    assert tree(target) == {"new.txt": "new"}
    assert siblings(target) == ["out"]


def test_a_builder_killed_between_the_two_renames_is_rolled_back(target: Path) -> None:
    # The child performs the swap's first rename by hand and is killed before the second.
    first_rename = "import os; os.rename(atomic.target, atomic.previous); print('renamed', flush=True); time.sleep(60)"
    with child_builder(target, first_rename) as child:
        assert child.stdout is not None and child.stdout.readline() == "renamed\n"
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert not target.exists() and siblings(target) == [".out.build", ".out.lock", ".out.previous"]

    atomic = AtomicDir(target)
    atomic.open()
    assert tree(target) == {"a.txt": "old a", "sub/b.txt": "old b"}  # the old target is back
    atomic.abort()
    assert siblings(target) == ["out"]


def test_a_builder_killed_after_the_swap_leaves_the_new_target(target: Path) -> None:
    swapped = ("import os; os.rename(atomic.target, atomic.previous); os.rename(atomic.build, atomic.target); "
               "print('renamed', flush=True); time.sleep(60)")
    with child_builder(target, swapped) as child:
        assert child.stdout is not None and child.stdout.readline() == "renamed\n"
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert siblings(target) == [".out.lock", ".out.previous", "out"]

    atomic = AtomicDir(target)
    atomic.open()
    assert tree(target) == {"half.txt": "half written"}  # the swapped-in build stays; the old one is gone
    atomic.abort()
    assert siblings(target) == ["out"]


def test_a_file_in_the_way_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "out"
    path.write_text("not a directory")
    with pytest.raises(AtomicDirError, match=r"out: exists and is not a directory; refusing to replace it"):
        AtomicDir(path).open()
    assert path.read_text() == "not a directory" and siblings(path) == ["out"]


def test_racing_builders_never_hold_the_lock_together(tmp_path: Path) -> None:
    # Each child tries to build many times; whoever holds the lock creates a marker exclusively.
    # A lock file unlinked between another builder's open and flock must not let two hold it.
    target, marker = tmp_path / "out", tmp_path / "holding"
    code = textwrap.dedent(f"""
        import os
        from pathlib import Path
        from dreamgen_core.atomic import AtomicDir, AtomicDirError
        held = 0
        for _ in range(300):
            atomic = AtomicDir(Path({str(target)!r}))
            try:
                atomic.open()
            except AtomicDirError:
                continue
            os.close(os.open({str(marker)!r}, os.O_CREAT | os.O_EXCL))  # fails if another holder made it
            os.unlink({str(marker)!r})
            atomic.abort()
            held += 1
        print(held)
    """)
    children = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for _ in range(4)]
    results = [child.communicate(timeout=120) for child in children]
    assert [child.returncode for child in children] == [0] * 4, [err for _, err in results]
    assert sum(int(out) for out, _ in results) > 0
    assert siblings(target) == []
