"""The demo's IDM stage: train on the recorded demos → eval on held-out sim scenes → label dreams → replay them.

The IDM is trained on the demo's converted dataset (the episodes the collect stack recorded). It is
measured on held-out sim demos of the same tasks (seeds the recordings never used, `sim.dataset`,
at the demo camera's size): per-joint error of its labels beside hold-the-state and the mean action,
and sim replays of its labels and of the recorded actions (the replay's own oracle). It then labels
the world model's dreams of held-out scenes (their clip set records framing and scene), and the
labelled dreams are replayed from their scenes: how many solve their instruction. At this size (a
few demos, a tiny IDM, 64x64 dreams) expect the labels to beat the baselines but few dreams to be
solved: the stage checks the pipeline end to end.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from dreamgen_core.dataset import validate
from dreamgen_core.idm.eval import PLOT, REPORT, EvalOptions, EvalReport, evaluate
from dreamgen_core.idm.label import LabelOptions, label_dreams
from dreamgen_core.sim.dataset import record_sim_dataset
from dreamgen_core.sim.task import TASKS, task_for

HELDOUT_SEED0 = 1000  # as the world model's held-out scenes: seeds no recording used
STEPS = 120  # the demo's budget: far from converged (test_idm_model trains longer to beat the baselines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("inverse dynamics model")
    group.add_argument("--idm-steps", type=int, default=STEPS,
                       help=f"IDM training steps (default: {STEPS}; the IDM's own default is far longer)")
    group.add_argument("--idm-heldout", type=int, default=1,
                       help="held-out sim scenes per recorded task to measure the IDM on (default: 1)")
    group.add_argument("--idm-replay", type=int, default=6,
                       help="labelled dreams replayed in the sim (default: 6; each takes a few seconds)")


def run_idm(args: argparse.Namespace, dataset: Path, recorded: Sequence[str], step: Callable[[int, str], None]) -> bool:
    from dreamgen_core.idm.train import train

    root = (args.out / "idm").resolve()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    tasks = sorted({task_for(i) for i in recorded}, key=TASKS.index)

    step(7, "IDM: `idm train` on the recorded demos, `idm eval` on held-out sim scenes (labels vs recorded "
            "actions and baselines, sim replays through the safety monitor)")
    outcome = train([dataset], root / "ckpt", overrides={"train.steps": args.idm_steps}, device="cpu", progress=False)
    print("  " + outcome.describe().replace("\n", "\n  "))
    width, height = (int(v) for v in args.camera.lower().split("x"))
    heldout = root / "heldout"
    record_sim_dataset(heldout, [t.name for t in tasks], range(HELDOUT_SEED0, HELDOUT_SEED0 + args.idm_heldout),
                       camera_hw=(height, width), progress=False)
    _eval("held-out sim demos", heldout, root, root / "eval_heldout", EvalOptions(progress=False))

    step(8, "label the world model's held-out dreams with the IDM (`idm label`), then replay them in the sim")
    labelled = root / "labelled"
    for dreams in sorted((args.out / "world_model").resolve().glob("dreams_heldout_*")):
        report = label_dreams(dreams, root / "ckpt", labelled, LabelOptions(progress=False))
        print(f"  {dreams.name}: {len(report.labelled)} dreams labelled")
        if report.scale is not None and report.scale.ok:  # a failed check was logged as a WARNING already
            print("  " + report.scale.message())
    problems = validate(labelled)
    print(f"-> labelled dreams: {labelled}  validate: " + ("ok" if not problems else f"{problems[0]}"))
    if problems:
        return False
    _eval(f"labelled dreams ({args.idm_replay} replayed)", labelled, root, root / "eval_dreams",
          EvalOptions(replay=args.idm_replay, progress=False))
    return True


def _eval(label: str, dataset: Path, root: Path, out: Path, options: EvalOptions) -> None:
    report: EvalReport = evaluate(dataset, root / "ckpt", out, options)
    print(f"\n  {label}:")
    print("  " + report.table().replace("\n", "\n  "))
    print(f"-> {out / REPORT}   plot {out / PLOT}")
