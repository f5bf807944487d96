"""Errors of the world-model stage; each message says what to change."""

from __future__ import annotations


class WorldModelError(RuntimeError):
    """A world-model job cannot go on: bad clips, a run directory that does not match, a failed dream."""


class ResumeMismatch(WorldModelError):
    """A run directory holds a checkpoint of another recipe, base model or clip set than the one given."""
