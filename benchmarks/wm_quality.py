"""What does the CPU world model (recipe sim-tiny) learn with longer training? Dreams vs baselines.

The demo trains for a couple of minutes; this trains one run longer and measures it at several
points of the same run (`wm train` extends a finished run when asked for more steps), on the first
frames of held-out scenes, split into tasks the model saw and tasks it never saw:
  model                  the run's dreams from the held-out first frames
  copy_first_frame       the first frame held still
  mean_training_motion   the first frame plus the mean motion of the training clips
  nearest_training_clip  the training clip whose first frame is nearest
with PSNR against the real held-out videos, the named cube's final error and displacement (px) and
the sim judge's instruction-following rate. One run, one sample per held-out scene: no error bars.

    .venv/bin/python benchmarks/wm_quality.py [--seeds 64] [--heldout 10] [--steps 170,340,680]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from dreamgen_core.sim.task import TASKS, Task
from dreamgen_core.worldmodel.dream import DreamOptions, dream
from dreamgen_core.worldmodel.prompts import PROMPTS_FILE, read_prompts, write_prompts
from dreamgen_core.worldmodel.quality import evaluate
from dreamgen_core.worldmodel.recipe import load_recipe
from dreamgen_core.worldmodel.sim_clips import SimClipConfig, make_sim_clips
from dreamgen_core.worldmodel.train import train

RECIPE = "sim-tiny"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=64, help="training scenes, each filmed for the seen tasks")
    parser.add_argument("--heldout", type=int, default=10, help="held-out scenes, each dreamed for every task")
    parser.add_argument("--seen", type=int, default=3, help="tasks of the family in the training clips (the rest unseen)")
    parser.add_argument("--steps", default="170,340,680", help="measure after these many training steps")
    parser.add_argument("--work", type=Path, default=None, help="keep clips and run here (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        measure(args, args.work or Path(tmp))


def measure(args: argparse.Namespace, work: Path) -> None:
    recipe = load_recipe(RECIPE)
    size = (recipe.video.height, recipe.video.width)
    seen, unseen = TASKS[:args.seen], TASKS[args.seen:]
    train_clips, heldout = work / "train", work / "heldout"
    if not train_clips.exists():
        make_sim_clips(train_clips, SimClipConfig(tuple(range(args.seeds)), seen, size))
    if not heldout.exists():
        make_sim_clips(heldout, SimClipConfig(tuple(range(1000, 1000 + args.heldout)), TASKS, size))
    print(f"seen tasks: {', '.join(t.name for t in seen)}; unseen: {', '.join(t.name for t in unseen) or '-'}")
    started = time.monotonic()
    for steps in (int(s) for s in args.steps.split(",")):
        train(train_clips, RECIPE, work / "run", steps=steps, device="cpu")
        minutes = (time.monotonic() - started) / 60
        for label, tasks in (("seen", seen), ("unseen", unseen)):
            if tasks:
                report(label, tasks, steps, minutes, heldout, train_clips, work)


def report(label: str, tasks: tuple[Task, ...], steps: int, minutes: float, heldout: Path, train_clips: Path, work: Path) -> None:
    names = {t.instruction for t in tasks}
    prompts = work / f"{label}_{steps}.jsonl"
    write_prompts(prompts, [p for p in read_prompts(heldout / PROMPTS_FILE) if p.instruction in names])
    dreams = work / f"dreams_{label}_{steps}"
    dream(prompts, work / "run", dreams, DreamOptions(device="cpu", progress=False))
    quality = evaluate(dreams, heldout, train_clips, progress=False)
    print(f"\n{steps} steps (~{minutes:.1f} min incl. evaluation so far), {label} tasks, "
          f"{len(quality.matched)} held-out dreams:")
    print(quality.table())


if __name__ == "__main__":
    main()
