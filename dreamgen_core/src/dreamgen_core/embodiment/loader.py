"""Find, read and validate embodiment specs: packaged ones by name, others by path."""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

from dreamgen_core.config import ConfigError, build, read_yaml
from dreamgen_core.embodiment.spec import Embodiment
from dreamgen_core.embodiment.validate import validate

_PACKAGED = resources.files("dreamgen_core") / "embodiments"


def available() -> list[str]:
    """Names of the embodiment specs shipped with dreamgen_core."""
    return sorted(p.name[: -len(".yaml")] for p in _PACKAGED.iterdir() if p.name.endswith(".yaml"))


def resolve(name_or_path: str | Path) -> Path:
    """A packaged spec name (``gr1``) or a path to a YAML file → the file's path."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        if not candidate.is_file():
            raise FileNotFoundError(f"embodiment spec {candidate} does not exist")
        return candidate
    packaged = _PACKAGED / f"{name_or_path}.yaml"
    if not packaged.is_file():
        raise FileNotFoundError(f"no embodiment named {str(name_or_path)!r}; shipped: {', '.join(available())}; "
                                "or pass a path to a YAML file")
    return Path(str(packaged))


def content_hash(raw: object) -> str:
    """sha256 of the spec's content, independent of comments, key order and formatting."""
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def load_embodiment(name_or_path: str | Path) -> Embodiment:
    """Load and validate a spec; raises ConfigError naming file, key and value on any defect."""
    path = resolve(name_or_path)
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(path.name, "", raw, "an embodiment spec must be a YAML mapping")
    spec = build(Embodiment, raw, path.name)
    validate(spec, path.name)
    object.__setattr__(spec, "content_hash", content_hash(raw))
    return spec
