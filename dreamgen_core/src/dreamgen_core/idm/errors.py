"""Errors of the IDM stage (train, load, label, eval); each message names the file, key or value to change."""

from __future__ import annotations


class IdmError(RuntimeError):
    """An IDM job cannot go on: a bad checkpoint or dataset, a run directory that does not match."""
