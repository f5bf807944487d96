"""Refuse a policy made for another robot: the embodiment hash (joint layout, limits, cameras) and,
when the policy records one, the calibration hash (joint offsets, camera intrinsics) must be the
robot's. Checked at configure, before anything moves."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dreamgen_core.deploy.errors import PolicyMismatch
from dreamgen_core.embodiment import Embodiment


def check_policy_fits(manifest: Mapping[str, Any], spec: Embodiment, calibration_hash: str | None,
                      source: str) -> None:
    """`manifest`: the policy's policy.yaml (or checkpoint config) as read; PolicyMismatch naming the key."""
    embodiment = manifest.get("embodiment") or {}
    theirs = str(embodiment.get("content_hash", ""))
    if theirs != spec.content_hash:
        raise PolicyMismatch(
            f"{source}: embodiment.content_hash {theirs[:16] or '<missing>'}… is not the robot's "
            f"{spec.name} spec {spec.content_hash[:16]}…: the policy was trained or exported for another "
            f"embodiment ({embodiment.get('name', '?')}); joint layout, limits or cameras may differ. "
            "Refusing to deploy it: re-export or retrain against this robot's spec")
    recorded = (manifest.get("calibration") or {}).get("content_hash")
    if recorded and calibration_hash and recorded != calibration_hash:
        raise PolicyMismatch(f"{source}: calibration.content_hash {recorded[:16]}… is not this robot's calibration "
                             f"{calibration_hash[:16]}…: its data came from a robot calibrated differently. "
                             "Refusing to deploy it: recalibrate or retrain")
