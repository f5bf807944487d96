"""World-model recipes: every shipped recipe loads, names a known backend, and checks its limits."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dreamgen_core.config import ConfigError
from dreamgen_core.worldmodel.recipe import BACKENDS, RECIPES_DIR, for_tiny_model, load_recipe, recipe_names


@pytest.mark.parametrize("name", recipe_names())
def test_every_shipped_recipe_loads_and_its_tiny_geometry_is_valid(name: str) -> None:
    recipe = load_recipe(name)
    assert recipe.backend in BACKENDS and recipe.source == f"{name}.yaml"
    tiny = for_tiny_model(recipe)
    if "video" in recipe.tiny:
        assert (tiny.video.height, tiny.video.width, tiny.video.num_frames) == tuple(
            recipe.tiny["video"][k] for k in ("height", "width", "num_frames"))
    else:
        assert tiny == recipe


def test_a_random_weight_real_architecture_trains_at_its_tiny_geometry_not_at_480p() -> None:
    recipe = load_recipe("wan2.1-i2v")
    assert (recipe.video.height, recipe.video.width, recipe.video.num_frames) == (480, 832, 81)
    tiny = for_tiny_model(recipe)
    assert tiny.video.height * tiny.video.width * tiny.video.num_frames < 480 * 832 * 81 / 1000
    assert tiny.lora == recipe.lora and tiny.train == recipe.train


def test_unknown_recipe_and_backend_and_crossed_limits_name_file_key_and_values(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such recipe; shipped: .*sim-tiny"):
        load_recipe("wan9")
    data = yaml.safe_load((RECIPES_DIR / "sim-tiny.yaml").read_text())
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**data, "backend": "sora"}))
    with pytest.raises(ConfigError, match=r"bad.yaml: backend: 'sora': unknown world-model backend; known: .*wan2.1-i2v"):
        load_recipe(bad)
    bad.write_text(yaml.safe_dump({**data, "train": {**data["train"], "steps": 10, "checkpoint_every": 50}}))
    with pytest.raises(ConfigError, match=r"train.checkpoint_every: 50: is more than train.steps 10"):
        load_recipe(bad)
    bad.write_text(yaml.safe_dump({**data, "tiny": {**data["tiny"], "video": {"height": "big"}}}))
    with pytest.raises(ConfigError, match=r"tiny.video.height: 'big': must be int"):
        for_tiny_model(load_recipe(bad))
