"""The TensorRT engine cache of an exported policy: one engine per key, refused under any other key.

A TensorRT engine is compiled for one ONNX graph, one TensorRT version, one GPU architecture and one
precision; loaded anywhere else it fails to deserialize at best and computes garbage at worst (the
complaint about engines "silently broken across GPUs and versions"). So every engine lives under
the key it was built for, and the key travels with it:

    POLICY_DIR/engines/<precision>-sm<cc>-trt<version>-<onnx sha256[:12]>/
        engine.plan     the serialized engine
        key.json        {"key": {onnx_sha256, tensorrt_version, compute_capability, precision},
                         "engine_sha256": ..., "verification": {...}, "built": ...}

`EngineCache.load(key)` returns the engine only when the entry's recorded key equals the key of
this machine and the file's sha256 equals the recorded one. An entry copied from another machine,
renamed, or built by another TensorRT is refused naming every field that differs, and a missing
entry lists the ones that exist. None of this imports TensorRT: `machine_key` (engine_build.py)
computes the key of the machine it runs on.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from dreamgen_core.atomic import AtomicDir
from dreamgen_core.policy.errors import EngineCacheError
from dreamgen_core.training.hashing import file_sha256

ENGINES_DIR = "engines"
ENGINE_FILE = "engine.plan"
KEY_FILE = "key.json"
PRECISIONS = ("fp32", "fp16", "bf16")


@dataclass(frozen=True)
class EngineKey:
    """What an engine is valid for. `compute_capability` as "major.minor" (an H100 is "9.0")."""

    onnx_sha256: str
    tensorrt_version: str
    compute_capability: str
    precision: str

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise EngineCacheError(f"engine precision {self.precision!r}: must be one of {', '.join(PRECISIONS)}")

    @property
    def entry_name(self) -> str:
        """The entry's directory name: readable, and distinct for distinct keys."""
        sm = self.compute_capability.replace(".", "")
        return f"{self.precision}-sm{sm}-trt{self.tensorrt_version}-{self.onnx_sha256[:12]}"

    def differences(self, other: EngineKey) -> list[str]:
        """`field: mine != other's` for every field that differs."""
        return [f"{f.name} {getattr(self, f.name)!r} (this machine: {getattr(other, f.name)!r})"
                for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)]

    @classmethod
    def from_dict(cls, data: Any, source: str) -> EngineKey:
        names = [f.name for f in fields(cls)]
        if not isinstance(data, dict) or sorted(data) != sorted(names):
            raise EngineCacheError(f"{source}: 'key' must hold exactly {', '.join(names)}; found {data!r}")
        return cls(**{name: str(data[name]) for name in names})


@dataclass(frozen=True)
class CachedEngine:
    path: Path
    key: EngineKey
    engine_sha256: str
    verification: dict[str, Any]


class EngineCache:
    """The engines of one exported policy directory."""

    def __init__(self, policy_dir: Path) -> None:
        self.root = Path(policy_dir) / ENGINES_DIR

    def entry(self, key: EngineKey) -> Path:
        return self.root / key.entry_name

    def store(self, key: EngineKey, engine: bytes, verification: dict[str, Any]) -> CachedEngine:
        """Write (or replace) the entry of `key` atomically: a reader never sees half an engine."""
        target = self.entry(key)
        with AtomicDir(target) as build:
            (build / ENGINE_FILE).write_bytes(engine)
            record = {"key": asdict(key), "engine_sha256": file_sha256(build / ENGINE_FILE),
                      "verification": verification, "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            (build / KEY_FILE).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        return self.read(target)

    def read(self, entry: Path) -> CachedEngine:
        """An entry's record, checked for form (not yet against any key)."""
        key_file = entry / KEY_FILE
        try:
            record = json.loads(key_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise EngineCacheError(f"{entry}: no {KEY_FILE}; an engine without its key is never loaded "
                                   "(rebuild it with `dreamgen policy build-engine`)") from None
        except json.JSONDecodeError as exc:
            raise EngineCacheError(f"{key_file}: not JSON ({exc})") from None
        if not isinstance(record, dict) or "engine_sha256" not in record:
            raise EngineCacheError(f"{key_file}: missing 'engine_sha256'")
        return CachedEngine(entry / ENGINE_FILE, EngineKey.from_dict(record.get("key"), str(key_file)),
                            str(record["engine_sha256"]), dict(record.get("verification") or {}))

    def entries(self) -> list[CachedEngine]:
        """Every readable entry (unreadable ones are reported when asked for by key)."""
        found = []
        for entry in sorted(self.root.iterdir()) if self.root.is_dir() else []:
            if entry.is_dir() and not entry.name.startswith("."):
                try:
                    found.append(self.read(entry))
                except EngineCacheError:
                    continue
        return found

    def load(self, key: EngineKey) -> CachedEngine:
        """The engine built for exactly `key`, its bytes checked; else EngineCacheError saying why and what to do."""
        entry = self.entry(key)
        if not entry.is_dir():
            others = "; ".join(f"{e.path.parent.name}" for e in self.entries()) or "none"
            raise EngineCacheError(f"{self.root}: no engine for this machine ({key.entry_name}); entries here: "
                                   f"{others}. Build one: dreamgen policy build-engine {self.root.parent} "
                                   f"--{key.precision}")
        return self.check(entry, key)

    def check(self, entry: Path, key: EngineKey) -> CachedEngine:
        """`entry`'s engine if it was built for `key` and its bytes are the ones recorded."""
        cached = self.read(entry)
        wrong = cached.key.differences(key)
        if wrong:
            raise EngineCacheError(f"{entry}: this engine was built for another key, refusing to load it: "
                                   f"{'; '.join(wrong)}. Engines do not carry across ONNX files, TensorRT "
                                   "versions, GPU architectures or precisions; build one here: "
                                   f"dreamgen policy build-engine {self.root.parent} --{key.precision}")
        if not cached.path.is_file():
            raise EngineCacheError(f"{entry}: {ENGINE_FILE} is missing")
        actual = file_sha256(cached.path)
        if actual != cached.engine_sha256:
            raise EngineCacheError(f"{cached.path}: sha256 {actual[:16]}… is not the recorded "
                                   f"{cached.engine_sha256[:16]}… (damaged or replaced); rebuild it")
        return cached
