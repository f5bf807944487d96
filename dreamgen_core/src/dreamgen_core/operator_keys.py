"""The operator's episode keys, shared by the keyboard node and its help text.

One key per action, chosen so a tired operator cannot end an episode as a success by accident:
success and failure are `y`/`n`, far from start `s`; discard is `d`.
"""

from __future__ import annotations

from enum import Enum


class EpisodeAction(Enum):
    START = "start"
    STOP_SUCCESS = "stop_success"
    STOP_FAILURE = "stop_failure"
    DISCARD = "discard"
    EDIT_INSTRUCTION = "edit_instruction"
    HELP = "help"
    QUIT = "quit"


KEYS: dict[str, tuple[EpisodeAction, str]] = {
    "s": (EpisodeAction.START, "start an episode"),
    "y": (EpisodeAction.STOP_SUCCESS, "stop: the task succeeded"),
    "n": (EpisodeAction.STOP_FAILURE, "stop: the task failed"),
    "d": (EpisodeAction.DISCARD, "discard the current episode"),
    "i": (EpisodeAction.EDIT_INSTRUCTION, "type a new instruction (Enter to finish)"),
    "?": (EpisodeAction.HELP, "show these keys"),
    "q": (EpisodeAction.QUIT, "quit this keyboard (recording continues)"),
}


def action_for(key: str) -> EpisodeAction | None:
    entry = KEYS.get(key.lower())
    return entry[0] if entry else None


def help_text() -> str:
    return "keys: " + "  ".join(f"[{k}] {text}" for k, (_, text) in KEYS.items())
