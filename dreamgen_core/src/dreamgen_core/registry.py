"""Config picks the implementation: a name in a recipe selects a class from its family's registry.

Each family (world-model backends, dream judges, IDM encoders, policy models, runtimes) declares
one `Registry` mapping names to "package.module:Class" strings. Nothing is imported until a name is
chosen, so a CPU laptop never imports a GPU-only backend, and an unknown name fails with the list
of known ones, naming the file and key it came from.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from dreamgen_core.config import ConfigError


class Registry:
    """Names → lazily imported classes of one family, e.g. Registry("world-model backend", {...})."""

    def __init__(self, family: str, entries: Mapping[str, str]) -> None:
        for name, target in entries.items():
            if target.count(":") != 1:
                raise ValueError(f"{family} registry: {name!r} -> {target!r} is not 'package.module:Class'")
        self.family = family
        self._entries = dict(entries)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def check(self, name: str, source: str = "<arguments>", key: str = "name") -> None:
        """Raise a ConfigError listing the known names unless `name` is one of them."""
        if name not in self._entries:
            raise ConfigError(source, key, name, f"unknown {self.family}; known: {', '.join(self.names())}")

    def load(self, name: str, source: str = "<arguments>", key: str = "name") -> Any:
        """The class registered as `name`, imported now."""
        self.check(name, source, key)
        module, attr = self._entries[name].split(":")
        return getattr(importlib.import_module(module), attr)
