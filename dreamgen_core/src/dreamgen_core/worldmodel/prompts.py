"""Prompt files for `wm dream`: one row per dream, JSONL or CSV.

    {"image": "episode_000000.png", "instruction": "Push the red cube onto the green target.", "seed": 0}

`image` is a path relative to the prompt file (or absolute); `instruction` and `seed` are required;
`negative_prompt`, `steps` and `guidance` override the recipe's sampler defaults for that row. In a
CSV file the first line names the columns and an empty cell means "not given". Every problem in
every row is reported at once, each naming the file, the line and the field.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dreamgen_core.atomic import write_text_atomic
from dreamgen_core.worldmodel.errors import WorldModelError

REQUIRED = ("image", "instruction", "seed")
OPTIONAL = ("negative_prompt", "steps", "guidance")
SUFFIXES = (".jsonl", ".csv")
PROMPTS_FILE = "prompts.jsonl"  # the name `wm frames` and `wm sim-clips` give the prompt file they write
_SHOWN_PROBLEMS = 20


class PromptError(WorldModelError):
    """A prompt file has bad rows; the message lists each as `file:line: field: problem`."""


@dataclass(frozen=True)
class Prompt:
    """One row: `image` resolved against the prompt file's directory; None where the recipe decides."""

    line: int
    image: Path
    instruction: str
    seed: int
    negative_prompt: str | None = None
    steps: int | None = None
    guidance: float | None = None


def read_prompts(path: Path) -> list[Prompt]:
    """Every row of a JSONL or CSV prompt file, or one PromptError listing every bad row."""
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise PromptError(f"{path}: a prompt file is {' or '.join(SUFFIXES)}, not {path.suffix or 'without suffix'!r}")
    if not path.is_file():
        raise FileNotFoundError(f"prompt file {path} does not exist")
    rows = _jsonl_rows(path) if path.suffix == ".jsonl" else _csv_rows(path)
    prompts: list[Prompt] = []
    problems: list[str] = []
    bad_lines: set[int] = set()
    for line, row in rows:
        found = [row] if isinstance(row, str) else [f"{field}: {problem}" for field, problem in _row_problems(row)]
        if not found and not isinstance(row, str):
            prompt = _prompt(path, line, row)
            if prompt.image.is_file():
                prompts.append(prompt)
                continue
            found = [f"image: {row['image']!r}: no such file ({prompt.image})"]
        problems.extend(f"{path}:{line}: {problem}" for problem in found)
        bad_lines.add(line)
    if problems:
        shown = "\n  ".join(problems[:_SHOWN_PROBLEMS])
        more = f"\n  (and {len(problems) - _SHOWN_PROBLEMS} more)" if len(problems) > _SHOWN_PROBLEMS else ""
        raise PromptError(f"{path}: {len(bad_lines)} bad prompt rows ({len(problems)} problems):\n  {shown}{more}")
    if not prompts:
        raise PromptError(f"{path}: no prompt rows")
    return prompts


def write_prompts(path: Path, prompts: list[Prompt]) -> None:
    """A JSONL prompt file (atomic); images below its directory are named relative to it."""
    lines = []
    for prompt in prompts:
        row = {k: v for k, v in asdict(prompt).items() if k != "line" and v is not None}
        image = prompt.image
        if image.is_absolute() and image.is_relative_to(path.parent.absolute()):
            image = image.relative_to(path.parent.absolute())
        row["image"] = image.as_posix()
        lines.append(json.dumps(row, ensure_ascii=False))
    write_text_atomic(path, "\n".join(lines) + "\n")


def _jsonl_rows(path: Path) -> Iterator[tuple[int, Mapping[str, Any] | str]]:
    """(line number, row) per non-blank line; a string in place of the row says why it is no row."""
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            yield number, f"not JSON ({exc.msg} at column {exc.colno})"
            continue
        yield number, row if isinstance(row, dict) else f"a row is a JSON object, got {type(row).__name__}"


def _csv_rows(path: Path) -> Iterator[tuple[int, Mapping[str, Any] | str]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        for row in reader:
            if None in row:
                yield reader.line_num, f"more cells than the {len(reader.fieldnames or [])} columns of the header"
                continue
            yield reader.line_num, {k: _csv_value(k, v) for k, v in row.items() if v not in ("", None)}


def _csv_value(field: str, text: str) -> Any:
    """CSV cells are text: numbers are parsed here so both formats share one validation."""
    parse = _CSV_NUMBERS.get(field)
    if parse is None:
        return text
    try:
        return parse(text)
    except ValueError:
        return text  # reported by the row's check, with the text as written


_CSV_NUMBERS: dict[str, Callable[[str], Any]] = {"seed": int, "steps": int, "guidance": float}


def _row_problems(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems = [(key, f"unknown field; known: {', '.join(REQUIRED + OPTIONAL)}")
                for key in row if key not in REQUIRED + OPTIONAL]
    problems += [(key, "missing") for key in REQUIRED if key not in row]
    for key, value in row.items():
        check = _CHECKS.get(key)
        problem = check(value) if check else None
        if problem:
            problems.append((key, f"{value!r}: {problem}"[:200]))
    return problems


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"must be text, got {type(value).__name__}"
    return None


def _nonblank(value: Any) -> str | None:
    return _text(value) or (None if value.strip() else "must not be blank")


def _whole(minimum: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be a whole number, got {type(value).__name__}"
        return None if value >= minimum else f"must be at least {minimum}"
    return check


def _guidance(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number, got {type(value).__name__}"
    return None if math.isfinite(value) and value >= 0 else "must be a finite number >= 0"


_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "image": _nonblank, "instruction": _nonblank, "seed": _whole(0), "negative_prompt": _text,
    "steps": _whole(1), "guidance": _guidance}


def _prompt(path: Path, line: int, row: Mapping[str, Any]) -> Prompt:
    guidance = row.get("guidance")
    return Prompt(line=line, image=(path.parent / row["image"]).absolute(), instruction=row["instruction"],
                  seed=row["seed"], negative_prompt=row.get("negative_prompt"), steps=row.get("steps"),
                  guidance=None if guidance is None else float(guidance))
