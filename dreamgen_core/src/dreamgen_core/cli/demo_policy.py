"""The demo's last stages: train the policy on real demos + labelled dreams → ONNX → closed loop → ROS → report.

The policy is co-trained (`policy train --mix real=1,dream=1`) on the demo's converted dataset (the
episodes the collect stack recorded) and the IDM-labelled dreams, exported to ONNX (verified against
torch), and rolled out in the MuJoCo GR1 on held-out scenes of every task of the family, beside the
scripted expert on the same scenes (`policy eval --sim`, through ONNX Runtime and the robot's safety
monitor). Then `dreamgen deploy --sim` runs it through the real ROS nodes (sim_robot, safety_monitor,
policy_node). The report page gathers every stage's numbers and plots. At the demo's size (a few
demos, a minute of training) expect the expert to succeed and the policy to fail: the stages check
the loop end to end; benchmarks/dreamgen_effect.py measures what dreams do.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from dreamgen_core.policy.config import PolicyConfig, with_overrides
from dreamgen_core.policy.eval import PLOT_FILE, REPORT_FILE, EvalConfig, evaluate, format_table
from dreamgen_core.policy.export import export_policy
from dreamgen_core.policy.train import LOSS_PNG, train_policy
from dreamgen_core.report import demo_report
from dreamgen_core.sim.task import TASKS, Task, task_for

HELDOUT_SEED0 = 1000  # as every stage's held-out scenes: seeds no recording used
# A small policy: the demo's budget is minutes on 2 cores (the defaults are for real training).
DEMO_POLICY = {"image_size": 32, "hidden": 64, "text.dim": 32, "train.batch_size": 16}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("policy and deploy")
    group.add_argument("--policy-steps", type=int, default=1000, help="policy training steps (default: 1000)")
    group.add_argument("--policy-episodes", type=int, default=1,
                       help="held-out scenes per task for the closed-loop eval and the deploy run (default: 1)")
    group.add_argument("--no-deploy", action="store_true", help="skip `dreamgen deploy --sim` (the ROS graph run)")


def run_policy(args: argparse.Namespace, dataset: Path, recorded: Sequence[str], step: Callable[[int, str], None]) -> bool:
    root = (args.out / "policy").resolve()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    labelled = (args.out / "idm" / "labelled").resolve()
    datasets, mix = ([dataset, labelled], {"real": 1.0, "dream": 1.0}) if labelled.is_dir() else ([dataset], None)

    step(9, f"policy: `policy train --mix real=1,dream=1` on the recorded demos + the labelled dreams "
            f"({args.policy_steps} steps), `policy export` to ONNX")
    if mix is None:
        print(f"  no labelled dreams at {labelled}: training on the recorded demos only")
    config = with_overrides(PolicyConfig(), {**DEMO_POLICY, "train.steps": args.policy_steps,
                                             "train.checkpoint_every": args.policy_steps})
    outcome = train_policy(datasets, root / "ckpt", config, mix, device="cpu")
    print(f"  trained on {', '.join(f'{n} {k} samples' for k, n in outcome.sizes.items())} at mix {outcome.weights}")
    manifest = export_policy(root / "ckpt", root / "export")
    check = f"{manifest.export.max_abs_diff:.1e}" if manifest.export else "n/a"
    print(f"-> checkpoint {root / 'ckpt'} (loss plot {root / 'ckpt' / LOSS_PNG}); ONNX policy {root / 'export'} "
          f"(max |ONNX - torch| {check})")

    seeds = tuple(range(HELDOUT_SEED0, HELDOUT_SEED0 + args.policy_episodes))
    step(10, f"closed loop: the ONNX policy in the sim on held-out scenes (seeds {seeds[0]}..{seeds[-1]}) of every "
             "task, beside the scripted expert, through the safety monitor (`policy eval --sim`)")
    report = evaluate(root / "eval", EvalConfig(TASKS, seeds, ("policy", "expert")), policy_dir=root / "export",
                      progress=False)
    print("  " + format_table(report).replace("\n", "\n  "))
    latency = report.latency
    print(f"  policy latency: p50 {latency.get('p50_ms', float('nan')):.1f} ms, p99 {latency.get('p99_ms', float('nan')):.1f} "
          f"ms over {latency.get('calls', 0)} calls ({report.backend})")
    print(f"-> {root / 'eval' / REPORT_FILE}   plot {root / 'eval' / PLOT_FILE}")

    # Through ROS, one task with demos and one without: the graph's start-up and real-time episodes cost minutes.
    with_demos = sorted({task_for(i) for i in recorded}, key=TASKS.index)
    shown = [*with_demos[:1], *[t for t in TASKS if t not in with_demos][:1]]
    step(11, f"deploy: `dreamgen deploy --sim` through the ROS graph (sim_robot, safety_monitor, policy_node), "
             f"{args.policy_episodes} episode(s) of {', '.join(t.name for t in shown)}")
    deployed = _deploy(args, root, shown)

    step(12, "report")
    index = demo_report(args.out)
    print(f"-> {index.resolve()}")
    return deployed


def _deploy(args: argparse.Namespace, root: Path, tasks: Sequence[Task]) -> bool:
    if args.no_deploy:
        print("  skipped (--no-deploy)")
        return True
    from dreamgen_core.cli.main import main

    code = main(["deploy", str(root / "export"), "--sim", "--episodes", str(args.policy_episodes),
                 "--tasks", ",".join(t.name for t in tasks), "--out", str(root / "deploy")])
    if code != 0:
        print(f"  deploy failed (exit {code}); see {root / 'deploy' / 'logs'}")
    return code == 0
