"""The demo's report: every stage's numbers and plots on one page, read from what the stages wrote.

    demo_report(Path("demo_output"))      # → demo_output/report/index.html (+ img/)

Sources (relative to the demo's output directory; a missing one is named on the page, not fatal):
  world_model/run/loss.png                      world-model loss curve
  world_model/dreams/bench_sim/scores.json      DreamGen Bench means of the dreams (sim judge)
  world_model/dreams_heldout_*/quality.json     held-out dreams beside the retrieval baselines
  idm/ckpt/loss.png, idm/eval_*/report.json     IDM loss, label errors vs baselines, sim replays
  policy/ckpt/loss.png                          policy loss curve
  policy/eval/report.json                       closed-loop success per task beside the expert; latency
  policy/deploy/deploy.json                     success per task through the ROS graph (dreamgen deploy --sim)
The latency histogram is drawn here (`latency_plot`) from the policy runtime's per-call numbers.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from dreamgen_core.report.errors import ReportError
from dreamgen_core.report.latency_plot import plot_latency
from dreamgen_core.report.page import Image, Page, Section, Table, Text

REPORT_DIR = "report"
LATENCY_PNG = "latency.png"
LOSSES = (("world model (sim-tiny)", "world_model/run/loss.png"), ("IDM", "idm/ckpt/loss.png"),
          ("policy", "policy/ckpt/loss.png"))
POLICY_EVAL = "policy/eval/report.json"
DEPLOY = "policy/deploy/deploy.json"


def demo_report(demo: Path, out: Path | None = None) -> Path:
    """Build the report of the demo output `demo` into `out` (default demo/report); returns index.html."""
    demo = Path(demo)
    out = Path(out) if out is not None else demo / REPORT_DIR
    page = Page("dreamgen demo: the DreamGen loop on the simulated GR1",
                f"Artefacts read from {demo.resolve()}. At the demo's size every model is tiny: the page checks "
                "the loop end to end, not what it can reach (benchmarks/dreamgen_effect.py measures that).")
    page.add(Section("Training losses", [Image(demo / path, name) for name, path in LOSSES]))
    page.add(_dreams(demo))
    page.add(_idm(demo))
    page.add(_policy(demo))
    with tempfile.TemporaryDirectory() as tmp:  # drawn here; the page copies it next to itself
        page.add(_latency(demo, Path(tmp) / LATENCY_PNG))
        return page.write(out)


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise ReportError(f"{path}: not JSON ({exc})") from exc


def _missing(path: Path, what: str) -> Text:
    return Text(f"{what}: not produced ({path} is missing)", missing=True)


def _dreams(demo: Path) -> Section:
    section = Section("Dreams: DreamGen Bench (sim judge) and held-out quality beside retrieval baselines")
    scores = demo / "world_model/dreams/bench_sim/scores.json"
    if scores.is_file():
        data = _read(scores)
        section.blocks.append(Table(["dreams", *data["means"]], [[data["count"], *data["means"].values()]]))
    else:
        section.blocks.append(_missing(scores, "bench scores"))
    for quality in sorted(demo.glob("world_model/dreams_heldout_*/quality.json")):
        group = quality.parent.name.removeprefix("dreams_heldout_").replace("_", " ")
        section.blocks.append(Text(f"held-out scenes, {group} (model vs baselines):"))
        section.blocks.append(Table(
            ["method", "PSNR (dB)", "cube final error (px)", "cube displacement (px)", "instruction following", "videos"],
            [[m["method"], m["psnr"], m["cube_final_error_px"], m["cube_displacement_px"], m["instruction_following"],
              m["videos"]] for m in _read(quality)["methods"]]))
    return section


def _idm(demo: Path) -> Section:
    section = Section("IDM: labels vs recorded actions (beside hold-the-state and the mean action), sim replays")
    reports = sorted(demo.glob("idm/eval_*/report.json"))
    if not reports:
        section.blocks.append(_missing(demo / "idm/eval_*/report.json", "IDM eval"))
    for path in reports:
        data = _read(path)
        section.blocks.append(Text(f"{path.parent.name.removeprefix('eval_')}: {len(data['real_episodes'])} real "
                                   f"episodes, mean over {len(data['moving'])} moving joints (rad)"))
        if data["methods"]:
            section.blocks.append(Table(["method", "MAE", "RMSE"], [[m["method"], m["mae"], m["rmse"]]
                                                                    for m in data["methods"]]))
        replays = [[actions, c["solved"], c["replayed"]] for actions, c in data["success"].items() if c["replayed"]]
        if replays:
            section.blocks.append(Table(["replayed actions", "solved", "replayed"], replays))
        section.blocks.append(Image(path.parent / "eval.png", f"IDM eval ({path.parent.name})"))
    return section


def _policy(demo: Path) -> Section:
    section = Section("Policy: closed-loop success per task beside the scripted expert")
    path = demo / POLICY_EVAL
    if not path.is_file():
        section.blocks.append(_missing(path, "policy eval"))
        return section
    data = _read(path)
    success = data["success"]
    controllers = list(success)
    tasks = sorted({t for c in success.values() for t in c})
    rows: list[list[object]] = [[t, *(_rate(success[c].get(t)) for c in controllers)] for t in tasks]
    deploy = demo / DEPLOY
    header = ["task", *controllers]
    if deploy.is_file():
        header.append("policy via ROS (deploy)")
        by_task: dict[str, list[bool]] = {}
        episodes = _read(deploy)
        section.blocks.append(Text("deploy: through the ROS graph (sim_robot, safety_monitor, policy_node), on the "
                                   f"scenes deploy_director chose (seeds {sorted({e.get('seed') for e in episodes})})"))
        for episode in episodes:
            by_task.setdefault(str(episode.get("task") or episode.get("instruction")), []).append(bool(episode["success"]))
        for row in rows:
            wins = _deploy_cell(by_task, str(row[0]))
            row.append(wins)
    section.blocks.append(Text(f"held-out seeds {data['config']['seeds']}, runtime {data['runtime']}; "
                               f"cells: successes/episodes"))
    section.blocks.append(Table(header, rows))
    if not deploy.is_file():
        section.blocks.append(_missing(deploy, "deploy through the ROS graph"))
    section.blocks.append(Image(path.parent / "success.png", "success per task and controller"))
    return section


def _rate(cell: dict[str, Any] | None) -> str:
    return "n/a" if cell is None else f"{cell['successes']}/{cell['episodes']}"


def _deploy_cell(by_task: dict[str, list[bool]], task: str) -> str:
    """The deploy director names episodes by instruction; match them to the eval's task names."""
    from dreamgen_core.sim.task import TASKS

    names = {t.name: t.instruction for t in TASKS}
    wins = by_task.get(task) or by_task.get(names.get(task, ""), [])
    return f"{sum(wins)}/{len(wins)}" if wins else "n/a"


def _latency(demo: Path, png: Path) -> Section:
    section = Section("Control loop: policy latency per call (runtime act: preprocessing + inference)")
    path = demo / POLICY_EVAL
    latency = _read(path).get("policy_latency") if path.is_file() else None
    if not latency or not latency.get("calls"):
        section.blocks.append(_missing(path, "policy latency"))
        return section
    section.blocks.append(Table(["calls", "p50 (ms)", "p90 (ms)", "p99 (ms)", "max (ms)"],
                                [[latency["calls"], latency["p50_ms"], latency["p90_ms"], latency["p99_ms"],
                                  latency["max_ms"]]]))
    plot_latency(latency["histogram"]["counts"], latency["histogram"]["edges_ms"], png)
    section.blocks.append(Image(png, "latency histogram (log-spaced bins)"))
    return section
