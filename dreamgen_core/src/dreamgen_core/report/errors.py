"""Errors of the report; each names the file at fault."""

from __future__ import annotations


class ReportError(RuntimeError):
    """A report cannot be written: an artefact it was told to show is missing or unreadable."""
