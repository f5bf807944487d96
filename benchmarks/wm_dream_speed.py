"""How fast does `dreamgen wm dream` dream with the CPU world model (recipe sim-tiny), serially and
with 2 Ray actors?

Side by side, in one process, on the same prompt file (N rows, 64x64 first frames, distinct seeds)
and the same run (sim-tiny's architecture with random weights: the sampler's cost does not depend
on what the weights learned):
  serial    `dream(..., workers=1)`: this process loads the run once and dreams every row, torch
            with its default intra-op threads (one per core)
  serial 1t the same with torch on 1 thread, as each Ray CPU actor runs (Ray sets OMP_NUM_THREADS=1)
  ray x2    `dream(..., workers=2)`: 2 CPU actors, each loading the run once; Ray itself is started
            before the clock (its ~10 s start-up is printed apart), actor start-up is inside it
and prints videos/min of each and the speed-up. The load average is printed too: on a shared
machine the other users' work is in every number.

    .venv/bin/python benchmarks/wm_dream_speed.py [--prompts 12]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

import dreamgen_core
from dreamgen_core import ray_local
from dreamgen_core.worldmodel.dream import DreamOptions, dream
from dreamgen_core.worldmodel.recipe import BACKENDS, RECIPES_DIR, load_recipe
from dreamgen_core.worldmodel.run import FULL_DIR, RECIPE_COPY, TINY_BASE, RunMeta, file_sha256, fingerprint


def random_weight_run(run: Path) -> None:
    """A finished full-mode run directory of sim-tiny's architecture (random weights, nothing trained)."""
    run.mkdir()
    (run / RECIPE_COPY).write_text((RECIPES_DIR / "sim-tiny.yaml").read_text())
    recipe = load_recipe(run / RECIPE_COPY)
    backend = BACKENDS.load(recipe.backend)(recipe, "cpu")
    backend.build(None)
    backend.save_base(run / TINY_BASE)
    backend.save_full(run / FULL_DIR)
    weights = next((run / FULL_DIR).glob("*.safetensors"))
    RunMeta(backend=recipe.backend, recipe="sim-tiny", recipe_sha256=file_sha256(run / RECIPE_COPY), base=None,
            base_fingerprint=fingerprint(run / TINY_BASE), clips="", clips_fingerprint="", mode="full",
            steps_total=0, steps_done=0, finished=True, weights_sha256=file_sha256(weights),
            dreamgen_version=dreamgen_core.__version__).write(run)


def prompt_file(root: Path, count: int) -> Path:
    rng = np.random.default_rng(0)
    cv2.imwrite(str(root / "frame.png"), rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    path = root / "prompts.jsonl"
    path.write_text("".join(json.dumps({"image": "frame.png", "instruction": "Use the right hand to push the red cube "
                                        "from the table onto the green target.", "seed": k}) + "\n"
                            for k in range(count)))
    return path


def timed(prompts: Path, run: Path, out: Path, workers: int) -> float:
    started = time.perf_counter()
    report = dream(prompts, run, out, DreamOptions(workers=workers, retries=0, progress=False))
    seconds = time.perf_counter() - started
    if report.failures:
        raise SystemExit(f"{len(report.failures)} dreams failed: {report.failures[0].error}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=12, help="dreams per side (default 12)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dream-speed-") as tmp:
        root = Path(tmp)
        random_weight_run(root / "run")
        prompts = prompt_file(root, args.prompts)
        threads = torch.get_num_threads()
        serial = timed(prompts, root / "run", root / "serial", 1)
        torch.set_num_threads(1)
        serial_1t = timed(prompts, root / "run", root / "serial_1t", 1)
        torch.set_num_threads(threads)
        started = time.perf_counter()
        ray = ray_local.start(num_cpus=2)
        ray_start = time.perf_counter() - started
        try:
            fanned = timed(prompts, root / "run", root / "ray", 2)
        finally:
            ray.shutdown()
    rate = {name: 60 * args.prompts / seconds
            for name, seconds in (("serial", serial), ("serial 1t", serial_1t), ("ray x2", fanned))}
    print(f"{args.prompts} dreams of sim-tiny (64x64, 9 frames, 16 sampler steps) on {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"serial    {serial:6.1f} s  {rate['serial']:5.1f} videos/min   (torch on {threads} threads)")
    print(f"serial 1t {serial_1t:6.1f} s  {rate['serial 1t']:5.1f} videos/min")
    print(f"ray x2    {fanned:6.1f} s  {rate['ray x2']:5.1f} videos/min   (+ {ray_start:.1f} s to start Ray, once)")
    print(f"speed-up ray x2 / serial: {serial / fanned:.2f}x, ray x2 / serial 1t: {serial_1t / fanned:.2f}x")


if __name__ == "__main__":
    main()
