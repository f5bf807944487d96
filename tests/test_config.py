"""The strict YAML → dataclass builder every configuration file goes through."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from dreamgen_core.config import ConfigError, build, read_yaml


@dataclass(frozen=True)
class Inner:
    rate: float
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outer:
    name: str
    inner: Inner
    extra: dict[str, int] | None = None


def test_builds_nested_dataclasses_and_converts_ints_to_floats() -> None:
    cfg = build(Outer, {"name": "x", "inner": {"rate": 20, "names": ["a", "b"]}, "extra": {"k": 1}}, "f.yaml")
    assert cfg == Outer("x", Inner(20.0, ("a", "b")), {"k": 1})
    assert isinstance(cfg.inner.rate, float)


@pytest.mark.parametrize(("data", "key", "problem"), [
    ({"name": "x", "inner": {"rate": 1, "rte": 2}}, "inner.rte", "unknown key"),
    ({"name": "x", "inner": {}}, "inner.rate", "missing required key"),
    ({"name": "x", "inner": {"rate": "fast"}}, "inner.rate", "must be float"),
    ({"name": "x", "inner": {"rate": True}}, "inner.rate", "must be float"),
    ({"name": "x", "inner": {"rate": 1, "names": ["a", 3]}}, "inner.names[1]", "must be str"),
    ({"name": "x", "inner": {"rate": 1}, "extra": {"k": 1.5}}, "extra.k", "must be int"),
    ({"name": "x", "inner": [1]}, "inner", "must be a mapping"),
])
def test_rejects_with_file_key_and_problem(data: dict, key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        build(Outer, data, "f.yaml")
    assert str(err.value).startswith(f"f.yaml: {key}:")
    assert problem in str(err.value)


def test_duplicate_yaml_keys_are_an_error_not_last_one_wins(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("a: 1\nb: 2\na: 3\n")
    with pytest.raises(ConfigError, match=r"dup.yaml: line 3: invalid YAML: duplicate key 'a' \(first on line 1\)"):
        read_yaml(path)


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("a: [1, 2\nb: 3\n")
    with pytest.raises(ConfigError, match=r"^bad.yaml: line \d+: invalid YAML"):
        read_yaml(path)
