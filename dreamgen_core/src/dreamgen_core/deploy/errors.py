"""Errors of the deploy stage; each message says what to change."""

from __future__ import annotations


class DeployError(RuntimeError):
    """A policy cannot be deployed as asked (wrong shapes, a bad config value)."""


class PolicyMismatch(DeployError):
    """The policy was trained for another embodiment or calibration than the robot's: refused at configure."""
