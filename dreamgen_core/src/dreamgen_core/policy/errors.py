"""Errors of the policy stage (train, load, export, run); each message names the file, key or value to change."""

from __future__ import annotations


class PolicyError(RuntimeError):
    """A policy job cannot go on: a bad mix or dataset set, a checkpoint that does not load, a run that does not match."""


class ResumeMismatch(PolicyError):
    """A run directory holds a checkpoint trained with another configuration or on other datasets."""
