"""Strict YAML → dataclass loading, shared by every configuration file of dreamgen.

Configuration is data: a frozen dataclass tree, built once at load and validated there, so no
code downstream re-checks a key. The builder rejects unknown keys (a typo must not silently fall
back to a default), missing keys and wrong types, and every message names the file, the key path
and the value, e.g. ``gr1.yaml: layout[1].end: 12: slices must tile ...``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


NO_VALUE = object()  # for errors about a place in a file rather than a value (YAML syntax)


class ConfigError(ValueError):
    """A configuration file is malformed; the message names file, key, value and problem."""

    def __init__(self, source: str, key: str, value: Any, problem: str) -> None:
        self.source, self.key, self.value, self.problem = source, key, value, problem
        shown = "" if value is NO_VALUE else f" {_short(value)}:"
        super().__init__(f"{source}: {key or '<root>'}:{shown} {problem}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (PyYAML keeps the last one silently)."""


def _mapping_no_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first on line {seen[key]})", key_node.start_mark)
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_no_duplicates)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file strictly, turning syntax errors and duplicate keys into a ConfigError."""
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.load(f, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        raise ConfigError(path.name, where, NO_VALUE, f"invalid YAML: {getattr(exc, 'problem', exc)}") from exc


def build(cls: type[T], data: Any, source: str, key: str = "") -> T:
    """Build dataclass ``cls`` from parsed YAML ``data``, checking keys and types recursively."""
    return _convert(cls, data, source, key)


def _convert(tp: Any, value: Any, source: str, key: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _build_dataclass(tp, value, source, key)
    if origin in (typing.Union, types.UnionType):
        return _convert_optional(tp, value, source, key)
    if origin is typing.Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(source, key, value, f"must be one of {list(typing.get_args(tp))}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise ConfigError(source, key, value, "must be a list")
        (item,) = typing.get_args(tp)[:1]
        items = [_convert(item, v, source, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(source, key, value, "must be a mapping")
        _, item = typing.get_args(tp)
        return {str(k): _convert(item, v, source, f"{key}.{k}" if key else str(k)) for k, v in value.items()}
    return _convert_scalar(tp, value, source, key)


def _convert_optional(tp: Any, value: Any, source: str, key: str) -> Any:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if value is None:
        return None
    if len(args) != 1:
        raise TypeError(f"unsupported union {tp} at {key}")
    return _convert(args[0], value, source, key)


def _convert_scalar(tp: Any, value: Any, source: str, key: str) -> Any:
    # bool is an int in Python; YAML `yes` must not become 1.0 nor 1 silently.
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp in (str, bool) and isinstance(value, tp):
        return value
    if tp is Any:
        return value
    raise ConfigError(source, key, value, f"must be {getattr(tp, '__name__', tp)}")


def _build_dataclass(cls: Any, value: Any, source: str, key: str) -> Any:
    if not isinstance(value, dict):
        raise ConfigError(source, key, value, f"must be a mapping ({cls.__name__})")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    for name in value:
        if name not in fields:
            raise ConfigError(source, _join(key, name), value[name],
                              f"unknown key; expected one of {sorted(fields)}")
    kwargs = {}
    for name, field in fields.items():
        sub = _join(key, name)
        if name in value:
            kwargs[name] = _convert(hints[name], value[name], source, sub)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(source, sub, None, "missing required key")
    return cls(**kwargs)


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name
