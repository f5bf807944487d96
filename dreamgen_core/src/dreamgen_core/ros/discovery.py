"""The network policy every ROS process started by dreamgen runs under.

Default Fast DDS discovery multicasts to the whole subnet; here that is forbidden, and on a shared
lab network it lets two people's robots hear each other. So every process our tooling starts gets
``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` and a ROS_DOMAIN_ID claimed for its session: parallel
test runs on one machine never cross-talk. Humble robots use ``ROS_LOCALHOST_ONLY=1`` instead (Jazzy
still honours it but warns at every start, so we drop it here).

The same environment carries the Fast DDS transport profile (`dreamgen_core.ros.transport`: a
shared-memory segment large enough for raw camera images, UDP on loopback only), so every process
we start moves 2.6 MB images without fragmenting them over UDP. A profile the user already set wins.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from dreamgen_core.ros.transport import LOCALHOST, RANGE_VAR, with_transport

DOMAIN_VAR, LEGACY_VAR = "ROS_DOMAIN_ID", "ROS_LOCALHOST_ONLY"
# Domains handed out to sessions. 0 (everyone's default) is avoided; ids above 101 can collide with
# Linux ephemeral ports on Fast DDS's port formula.
SESSION_DOMAINS = range(30, 100)


def localhost_env(domain_id: int, base: Mapping[str, str]) -> dict[str, str]:
    """`base` with loopback-only discovery on `domain_id` (and the deprecated Humble knob removed), and
    dreamgen's transport profile unless `base` names one."""
    env = dict(base)
    env[RANGE_VAR] = LOCALHOST
    env[DOMAIN_VAR] = str(domain_id)
    env.pop(LEGACY_VAR, None)
    return with_transport(env)


def problems(env: Mapping[str, str]) -> list[str]:
    """What is unsafe about starting ROS with `env`; empty when it is loopback-only on a set domain."""
    found = []
    if env.get(RANGE_VAR) != LOCALHOST:
        found.append(f"{RANGE_VAR} is {env.get(RANGE_VAR)!r}, must be {LOCALHOST!r}: "
                     "default discovery multicasts off this machine")
    domain = env.get(DOMAIN_VAR, "")
    if not domain.isdigit() or not 0 <= int(domain) <= 232:
        found.append(f"{DOMAIN_VAR} is {domain or 'unset'!r}, must be a private id in 0..232 "
                     "so parallel sessions do not cross-talk")
    return found


def require_safe(env: Mapping[str, str], what: str) -> None:
    """Raise with every problem listed if `env` is not loopback-only on a set domain."""
    found = problems(env)
    if found:
        raise RuntimeError(f"refusing to start {what}: " + "; ".join(found) +
                           " (run through `make` or `dreamgen-ros-env -- COMMAND`)")


class DomainClaim:
    """Holds an exclusive lock on one ROS_DOMAIN_ID for as long as the claim (or an exec'd child) lives.

    The lock is a flock on a file per domain: it is released by the kernel when the last process
    holding the file descriptor exits, so a crashed session never leaks its domain.
    """

    def __init__(self, lock_dir: Path | None = None) -> None:
        self.lock_dir = lock_dir or Path(tempfile.gettempdir())
        self.domain_id: int | None = None
        self.fd: int | None = None

    def claim(self) -> int:
        start = os.getpid() % len(SESSION_DOMAINS)
        for k in range(len(SESSION_DOMAINS)):
            domain = SESSION_DOMAINS[(start + k) % len(SESSION_DOMAINS)]
            fd = os.open(self.lock_dir / f"dreamgen-ros-domain-{domain}.lock", os.O_CREAT | os.O_RDWR, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self.domain_id, self.fd = domain, fd
            return domain
        raise RuntimeError(f"all ROS domains {SESSION_DOMAINS.start}..{SESSION_DOMAINS.stop - 1} are claimed "
                           f"by other sessions (locks in {self.lock_dir})")

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = self.domain_id = None

    def __enter__(self) -> int:
        return self.claim()

    def __exit__(self, *exc: object) -> None:
        self.release()
