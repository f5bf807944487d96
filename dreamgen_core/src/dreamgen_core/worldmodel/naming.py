"""Dream file names: `<idx>_<Instruction_underscored>`, safe whatever the instruction says.

The reference pipeline names a dream after its instruction and recovers the instruction as
`stem.split("_", 1)[1].replace("_", " ")`. Instructions come from users' prompt files, so the name
keeps only what is safe on every filesystem and in every shell script that globs the directory:
ASCII letters, digits and `.,'-` (accents are folded to their base letter, other characters become
`_`), no path separators, no `..`, no control characters, at most `MAX_INSTRUCTION_CHARS` characters
of instruction. A plain ASCII instruction of words still round-trips; the exact text is kept in the
dream's sidecar either way.
"""

from __future__ import annotations

import re
import unicodedata

MAX_INSTRUCTION_CHARS = 120
INDEX_DIGITS = 5                     # zero-padded, so names sort in prompt order
EMPTY_NAME = "dream"                 # an instruction with nothing safe in it (e.g. only CJK characters)
_UNSAFE = re.compile(r"[^A-Za-z0-9.,'-]+")
_DOTS = re.compile(r"\.{2,}")


def safe_instruction(instruction: str) -> str:
    """The instruction part of a dream's file name (deterministic, never empty, at most 120 characters)."""
    ascii_text = unicodedata.normalize("NFKD", instruction).encode("ascii", "ignore").decode("ascii")
    name = _DOTS.sub(".", _UNSAFE.sub("_", ascii_text))
    name = name[:MAX_INSTRUCTION_CHARS].strip("_.")
    return name or EMPTY_NAME


def dream_stem(index: int, instruction: str) -> str:
    """`<idx>_<Instruction_underscored>` for the dream of prompt row `index` (0-based)."""
    if index < 0:
        raise ValueError(f"dream index must be >= 0, got {index}")
    return f"{index:0{INDEX_DIGITS}d}_{safe_instruction(instruction)}"


def instruction_of(stem: str) -> str:
    """The reference convention's reading of a dream name (exact for plain ASCII instructions of words)."""
    return stem.split("_", 1)[1].replace("_", " ")
