"""The one place dreamgen starts or joins Ray (`convert --ray-address`, `wm dream`).

By default a private instance on this machine: its node advertises loopback only, no dashboard, no
usage statistics (RAY_USAGE_STATS_ENABLED=0 is set before Ray is imported). `--ray-address ADDR`
joins a cluster instead ("auto", "ray://head:10001", or a GCS address). A process that has already
joined Ray (a test module that starts it once, a notebook) is reused as it is and left running.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from dreamgen_core.config import NO_VALUE, ConfigError

LOCAL = "local"


def import_ray(command: str = "dreamgen") -> ModuleType:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # before Ray is imported: never phone home
    try:
        import ray
    except ImportError:
        raise ConfigError(command, "--ray-address", NO_VALUE, "needs Ray: pip install 'dreamgen_core[ray]'") from None
    return ray


def start(address: str | None = None, num_cpus: int | None = None, command: str = "dreamgen") -> ModuleType:
    """Join the cluster at `address`, or start a private local instance (None or "local"); returns `ray`.
    `num_cpus` sizes a local instance (default: every core)."""
    ray = import_ray(command)
    if ray.is_initialized():
        return ray
    if address in (None, LOCAL):
        ray.init(address=LOCAL, num_cpus=num_cpus, _node_ip_address="127.0.0.1", include_dashboard=False,
                 log_to_driver=False)
    else:
        ray.init(address=address, log_to_driver=False)
    return ray


@contextmanager
def session(address: str | None = None, num_cpus: int | None = None, command: str = "dreamgen") -> Iterator[ModuleType]:
    """`start` for the length of a block; shuts Ray down after it unless the process had joined before."""
    ray = import_ray(command)
    joined_before = ray.is_initialized()
    start(address, num_cpus, command)
    try:
        yield ray
    finally:
        if not joined_before:
            ray.shutdown()
