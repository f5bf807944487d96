"""Do dreams help? The DreamGen experiment, closed loop in the simulated GR1, from the project's own functions.

For the same real demos (N per seen task, seeds 0..N-1), three kinds of policy are trained and
rolled out in closed loop on held-out scenes (seeds 1000..), several training seeds each:
  (a) real           the real demos only
  (b) real+dreams    the real demos + M IDM-labelled dreams per task, tasks without demos included
  (c) real+extra     the real demos + M more real demos per task (seeds N..N+M-1): the upper bound
The dreams: the world model (sim-tiny, trained on sim clips of the seen tasks only, or a run given
by --wm-run) dreams every task from the first frames of M scenes no demo or evaluation uses (seeds
500..), the IDM (trained on the real demos) labels them. The unseen task's instruction combines a
cube and a target each seen in other demos, never together: outside the demos' support, as the
paper's "novel behaviour" setting. Every stage is a real dreamgen function (record_sim_dataset,
make_sim_clips, wm train/dream/bench, idm train, label_dreams, train_policy, export_policy, policy
eval); nothing is re-implemented. Success: the sim's own check, held 1 s (`policy.eval`).

What to expect at --budget cpu: a from-scratch 64x64 world model on 2 cores (design/CPU_WORLD_MODEL.md:
retrieval beats it on every metric) and tiny policies; the experiment runs whole and reports what
comes out, effect or none. The DreamGen effect comes from a pretrained world model's priors: the
gpu budget (larger models, more dreams and scenes) is the size at which it could show. Evaluation
settings are fixed up front by the budget and never chosen after seeing a result.

Stages are cached in WORK (resumable: each stage's function skips what it finished); a WORK made
with other sizes is refused. Output: WORK/results.json, WORK/results.png, the table on stdout.

    .venv/bin/python benchmarks/dreamgen_effect.py --budget cpu --work /tmp/effect_cpu
    .venv/bin/python benchmarks/dreamgen_effect.py --budget gpu --work /data/effect_gpu --wm-run runs/wan
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dreamgen_core.atomic import write_bytes_atomic, write_text_atomic
from dreamgen_core.idm.label import LabelOptions, label_dreams
from dreamgen_core.idm.train import train as train_idm
from dreamgen_core.policy.config import PolicyConfig, with_overrides
from dreamgen_core.policy.eval import REPORT_FILE, EvalConfig, evaluate
from dreamgen_core.policy.export import export_policy
from dreamgen_core.policy.manifest import MANIFEST_FILE
from dreamgen_core.policy.train import train_policy
from dreamgen_core.sim.dataset import record_sim_dataset
from dreamgen_core.sim.task import TASKS, Task, task_for
from dreamgen_core.worldmodel.bench.runner import run_bench
from dreamgen_core.worldmodel.dream import DreamOptions, dream
from dreamgen_core.worldmodel.prompts import PROMPTS_FILE
from dreamgen_core.worldmodel.recipe import load_recipe
from dreamgen_core.worldmodel.sim_clips import SimClipConfig, make_sim_clips
from dreamgen_core.worldmodel.train import train as train_wm

RECIPE = "sim-tiny"
DREAM_SEED0 = 500    # the dreamed scenes: no demo (0..) and no evaluation (1000..) uses these layouts
EVAL_SEED0 = 1000
ARMS = {"real": "(a) real", "real+dreams": "(b) real+dreams", "real+extra": "(c) real+extra"}  # (c): the upper bound


@dataclass(frozen=True)
class Budget:
    demos: int                      # N real demos per seen task
    per_task: int                   # M: dreams per task (every task), and extra real demos per task for (c)
    wm_seeds: int                   # world-model training scenes x seen tasks
    wm_steps: int | None            # None: the recipe's
    idm_steps: int
    policy: dict[str, Any]          # PolicyConfig overrides
    train_seeds: tuple[int, ...]    # policy training seeds per arm
    eval_episodes: int              # held-out scenes per task per policy
    seen: int = 3                   # the first `seen` tasks of the family have demos; the rest only dreams
    device: str = "cpu"
    workers: int = 2


BUDGETS = {
    # 12.5 min on 2 quiet cores (~300 sim episodes, 64 dreams, 6 small policies): the whole experiment, small
    "cpu": Budget(demos=16, per_task=16, wm_seeds=16, wm_steps=None, idm_steps=300,
                  policy={"image_size": 32, "hidden": 128, "text.dim": 64, "train.steps": 5000, "train.batch_size": 16,
                          "train.checkpoint_every": 1000},
                  train_seeds=(0, 1), eval_episodes=5),
    # one GPU: the default model sizes, more demos, dreams and scenes; --wm-run for a real world model
    "gpu": Budget(demos=10, per_task=20, wm_seeds=200, wm_steps=2000, idm_steps=1500,
                  policy={"train.steps": 2000}, train_seeds=(0, 1, 2), eval_episodes=10, device="cuda", workers=8),
}


@dataclass
class Stages:
    """Where each stage took its time (s), for the results file."""

    seconds: dict[str, float] = field(default_factory=dict)

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        print(f"\n== {name}", flush=True)
        started = time.monotonic()
        result = fn()
        self.seconds[name] = self.seconds.get(name, 0.0) + time.monotonic() - started
        print(f"   {name}: {time.monotonic() - started:.0f} s", flush=True)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="cpu")
    parser.add_argument("--work", type=Path, default=None, help="stage cache (default: a temp dir, removed)")
    parser.add_argument("--wm-run", type=Path, default=None, help="use this world-model run instead of training one")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is fastest on a busy machine)")
    parser.add_argument("--size", default="", help="override budget sizes, e.g. demos=2,per_task=2,eval_episodes=1,"
                                                   "policy_steps=100,train_seeds=0:1 (a reduced run; results.json records it)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    budget = _sized(BUDGETS[args.budget], args.size)
    if budget.device == "cuda" and not torch.cuda.is_available():
        print("NOTE: --budget gpu asks for CUDA and this machine has none; its sizes run on the CPU (slowly).")
        budget = replace(budget, device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        results = run_experiment(budget, work.resolve(), args.wm_run, args.budget)
        print("\n" + format_table(results))
        print(f"\nresults: {work / 'results.json'}  plot: {work / 'results.png'}")


def _sized(budget: Budget, text: str) -> Budget:
    """The budget with some sizes replaced (`demos=2,per_task=2,policy_steps=100,...`)."""
    changes: dict[str, Any] = {}
    for part in filter(None, text.split(",")):
        key, _, value = part.partition("=")
        if key == "policy_steps":
            changes["policy"] = {**budget.policy, "train.steps": int(value),
                                 "train.checkpoint_every": min(int(value), budget.policy.get("train.checkpoint_every", 250))}
        elif key == "train_seeds":
            changes[key] = tuple(int(s) for s in value.split(":"))
        elif key in {"demos", "per_task", "wm_seeds", "wm_steps", "idm_steps", "eval_episodes", "seen", "workers"}:
            changes[key] = int(value)
        else:
            raise SystemExit(f"--size {text!r}: {key!r} is not a size of the budget")
    return replace(budget, **changes)


def run_experiment(budget: Budget, work: Path, wm_run: Path | None, name: str) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    _claim(work, budget, wm_run)
    seen, unseen = TASKS[:budget.seen], TASKS[budget.seen:]
    stages = Stages()
    n, m = budget.demos, budget.per_task
    demos, extra = work / "demos", work / "extra"
    stages.run(f"real demos: {n} per seen task ({', '.join(t.name for t in seen)})", lambda: record_sim_dataset(
        demos, [t.name for t in seen], range(n), workers=budget.workers, progress=False))
    stages.run(f"extra real demos for (c): {m} per task, every task", lambda: record_sim_dataset(
        extra, [t.name for t in TASKS], range(n, n + m), workers=budget.workers, progress=False))
    run = wm_run or work / "wm_run"
    if wm_run is None:
        stages.run(f"world model: {budget.wm_seeds} scenes x seen tasks, wm train --recipe {RECIPE}",
                   lambda: _world_model(work, budget, seen))
    dreams = work / "dreams"
    bench = stages.run(f"dreams: {m} held-out scenes (seeds {DREAM_SEED0}..) x every task, sim judge",
                       lambda: _dreams(work, run, dreams, budget, m))
    idm = work / "idm"
    stages.run(f"IDM: idm train on the real demos ({budget.idm_steps} steps)", lambda: train_idm(
        [demos], idm, overrides={"train.steps": budget.idm_steps}, device=budget.device, progress=False))
    labelled = work / "labelled"
    stages.run("idm label the dreams", lambda: label_dreams(dreams, idm, labelled, LabelOptions(
        device=budget.device, progress=False)))
    tasks, seeds = TASKS, tuple(range(EVAL_SEED0, EVAL_SEED0 + budget.eval_episodes))
    evals: dict[str, list[dict[str, Any]]] = {}
    arms = {"real": ([demos], None), "real+dreams": ([demos, labelled], {"real": 1.0, "dream": 1.0}),
            "real+extra": ([demos, extra], None)}
    for arm, (datasets, mix) in arms.items():
        for seed in budget.train_seeds:
            job = partial(_policy, work / f"{arm}_seed{seed}", datasets, mix, seed, budget, seeds)
            evals.setdefault(arm, []).append(stages.run(
                f"{ARMS[arm]}, training seed {seed}: policy train, export, eval on {len(seeds)} held-out scenes x "
                f"{len(tasks)} tasks", job))
    expert = stages.run("the scripted expert on the same scenes (the evaluator's ceiling)", lambda: _eval(
        work / "eval_expert", None, budget, seeds, ("expert",)))
    results = summarize(budget, name, evals, expert, bench, seen, unseen, stages)
    write_text_atomic(work / "results.json", json.dumps(results, indent=1) + "\n")
    plot(results, work / "results.png")
    return results


def _claim(work: Path, budget: Budget, wm_run: Path | None) -> None:
    """A work dir holds one experiment: refuse one made with other sizes (its caches would mix)."""
    config = {"budget": asdict(budget), "wm_run": str(wm_run) if wm_run else None}
    path = work / "config.json"
    if path.is_file() and json.loads(path.read_text()) != json.loads(json.dumps(config)):
        raise SystemExit(f"{path}: this work dir was made with other sizes; choose a new --work")
    write_text_atomic(path, json.dumps(config, indent=1) + "\n")


def _world_model(work: Path, budget: Budget, seen: Sequence[Task]) -> None:
    recipe = load_recipe(RECIPE)
    clips = work / "wm_clips"
    if not clips.exists():
        make_sim_clips(clips, SimClipConfig(tuple(range(budget.wm_seeds)), tuple(seen),
                                            (recipe.video.height, recipe.video.width), workers=budget.workers),
                       progress=False)
    train_wm(clips, RECIPE, work / "wm_run", steps=budget.wm_steps, device=budget.device)


def _dreams(work: Path, run: Path, out: Path, budget: Budget, m: int) -> dict[str, Any]:
    """Dream every task from the first frames of m scenes no demo used; score them with the sim judge."""
    recipe = load_recipe(RECIPE)
    scenes = work / "dream_scenes"  # a clip set: it records the framing and scene the labeller needs
    if not scenes.exists():
        make_sim_clips(scenes, SimClipConfig(tuple(range(DREAM_SEED0, DREAM_SEED0 + m)), TASKS,
                                             (recipe.video.height, recipe.video.width), workers=budget.workers),
                       progress=False)
    report = dream(scenes / PROMPTS_FILE, run, out, DreamOptions(device=budget.device, progress=False))
    if report.failures:
        raise SystemExit(f"{len(report.failures)} dreams failed; see {out / 'failures.json'}")
    scores = run_bench(out, "sim", progress=False)
    per_task: dict[str, list[float]] = {}
    for video in scores.videos:
        per_task.setdefault(task_for(video.instruction).name, []).append(video.scores["instruction_following"])
    return {"count": scores.count, "means": scores.means,
            "instruction_following": {t: float(np.mean(v)) for t, v in per_task.items()}}


def _policy(root: Path, datasets: list[Path], mix: dict[str, float] | None, seed: int, budget: Budget,
            seeds: tuple[int, ...]) -> dict[str, Any]:
    config = with_overrides(PolicyConfig(), {**budget.policy, "train.seed": seed})
    train_policy(datasets, root / "ckpt", config, mix, device=budget.device)
    if not (root / "policy" / MANIFEST_FILE).is_file():
        export_policy(root / "ckpt", root / "policy")
    return _eval(root / "eval", root / "policy", budget, seeds, ("policy",))


def _eval(out: Path, policy: Path | None, budget: Budget, seeds: tuple[int, ...],
          controllers: tuple[str, ...]) -> dict[str, Any]:
    if not (out / REPORT_FILE).is_file():
        evaluate(out, EvalConfig(TASKS, seeds, controllers, workers=budget.workers), policy_dir=policy, progress=False)
    report = json.loads((out / REPORT_FILE).read_text())
    return {t: cell["rate"] for t, cell in report["success"][controllers[0]].items()}


def summarize(budget: Budget, name: str, evals: dict[str, list[dict[str, Any]]], expert: dict[str, float],
              bench: dict[str, Any], seen: Sequence[Task], unseen: Sequence[Task], stages: Stages) -> dict[str, Any]:
    """Success per task and arm: mean and std over training seeds; groups (seen, unseen, all); ratio (b)/(a)."""
    groups = {**{t.name: [t.name] for t in TASKS}, "seen tasks": [t.name for t in seen],
              "unseen tasks": [t.name for t in unseen], "all tasks": [t.name for t in TASKS]}
    table: dict[str, dict[str, dict[str, float]]] = {}
    for row, names in groups.items():
        if not names:
            continue
        table[row] = {"expert": {"mean": float(np.mean([expert[t] for t in names])), "std": 0.0}}
        for arm, runs in evals.items():
            per_seed = [float(np.mean([r[t] for t in names])) for r in runs]  # each seed: mean over the row's tasks
            table[row][arm] = {"mean": float(np.mean(per_seed)), "std": float(np.std(per_seed)), "per_seed": per_seed}
    ratios = {row: _ratio(cells["real+dreams"]["mean"], cells["real"]["mean"]) for row, cells in table.items()}
    return {"budget": name, "sizes": asdict(budget), "seen": [t.name for t in seen], "unseen": [t.name for t in unseen],
            "eval_seeds": [EVAL_SEED0, EVAL_SEED0 + budget.eval_episodes - 1], "table": table,
            "ratio_b_over_a": ratios, "dreams": bench, "stage_seconds": stages.seconds,
            "threads": torch.get_num_threads(), "load_average": list(os.getloadavg())}


def _ratio(b: float, a: float) -> float | None:
    """(b)/(a); None where (a) is 0 (undefined: the ratio would be infinite or 0/0)."""
    return b / a if a > 0 else None


def format_table(results: dict[str, Any]) -> str:
    table, sizes = results["table"], results["sizes"]
    columns = ["expert", *ARMS]
    lines = [(f"DreamGen effect, budget {results['budget']}: N={sizes['demos']} real demos per seen task, "
              f"M={sizes['per_task']} dreams (b) / extra real demos (c) per task, {len(sizes['train_seeds'])} training "
              f"seeds per arm, {sizes['eval_episodes']} held-out scenes per task (seeds {results['eval_seeds'][0]}.."
              f"{results['eval_seeds'][1]}); success rate, mean ± std over training seeds"),
             "(c) adds M real demos per task where (b) adds M dreams: the upper bound",
             f"{'':28s}" + "".join(f"{ARMS.get(c, c):>18s}" for c in columns) + f"{'(b)/(a)':>10s}"]
    for row, cells in table.items():
        ratio = results["ratio_b_over_a"][row]
        lines.append(f"{row:28s}" + "".join(f"{cells[c]['mean']:>11.2f} ± {cells[c]['std']:.2f}" for c in columns)
                     + (f"{ratio:>10.2f}" if ratio is not None else f"{'n/a':>10s}"))
    follow = results["dreams"]["instruction_following"]
    lines.append("dreams judged to follow their instruction (sim judge): "
                 + ", ".join(f"{t} {v:.2f}" for t, v in follow.items()))
    lines.append("stage times (s): " + ", ".join(f"{k.split(':')[0]} {v:.0f}" for k, v in results["stage_seconds"].items()))
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    """Grouped bars with error bars (std over training seeds): success per task row, one bar per arm."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    rows = list(results["table"])
    columns = ["expert", *ARMS]
    figure = Figure(figsize=(max(7.0, 1.6 * len(rows)), 4.4), dpi=100)
    axes = figure.subplots()
    width = 0.8 / len(columns)
    for i, column in enumerate(columns):
        xs = np.arange(len(rows)) + (i - (len(columns) - 1) / 2) * width
        cells = [results["table"][r][column] for r in rows]
        axes.bar(xs, [c["mean"] for c in cells], width, yerr=[c["std"] for c in cells], capsize=3,
                 label=ARMS.get(column, column))
    axes.set_xticks(np.arange(len(rows)), [r.replace("_", " ").replace(" to ", "\nto ") for r in rows], fontsize=7)
    axes.set_ylim(0, 1.1)
    axes.set_ylabel("closed-loop success rate")
    axes.set_title(f"DreamGen effect ({results['budget']} budget), mean ± std over training seeds", fontsize=9)
    axes.legend(fontsize=7)
    axes.grid(True, axis="y", alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    write_bytes_atomic(path, buffer.getvalue())


if __name__ == "__main__":
    main()
