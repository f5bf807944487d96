"""The source timeout is one fact, the spec's `safety.source_timeout_s`: the safety monitor holds
after it and the converter takes it as the action's default max age (the robot follows the last
command until then). Read back through the real converter on a sim-recorded bag."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_convert_broken import rewrite, teleop_silent

from dreamgen_core.convert import ConvertConfig, convert_bags
from dreamgen_core.embodiment import load_embodiment

pytestmark = pytest.mark.ros  # the source bag is recorded by the collect stack


def test_converter_default_action_tolerance_is_the_spec_source_timeout(sim_episodes, tmp_path: Path) -> None:
    spec = load_embodiment("gr1")
    episodes, _ = sim_episodes
    good = min(p for p in episodes.iterdir() if (p / "metadata.yaml").is_file())
    silent = rewrite(good, tmp_path / "teleop_silent", teleop_silent(good))  # 0.7 s without commands
    results = convert_bags([silent], tmp_path / "ds", spec, ConvertConfig(include_flagged=True), progress=False)
    assert [r.status for r in results] == ["rejected"]
    expected = f"gap: no /teleop/joint_command sample within {spec.safety.source_timeout_s * 1000:g} ms"
    assert expected in results[0].message, results[0].message
