"""The demo's report: an HTML page built from tiny artefacts written by the stages' own writers.

The page is parsed with html.parser (stdlib, independent of the writer): every image it references
exists and decodes (OpenCV), the numbers of each stage appear in its tables, and a stage that did not
run is named as missing instead of a broken image.
"""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import cv2
import pytest

from dreamgen_core.idm.eval import EvalReport as IdmReport
from dreamgen_core.idm.eval import MethodErrors
from dreamgen_core.policy.eval import EvalConfig, EvalReport, plot_success
from dreamgen_core.policy.latency import LatencyStats
from dreamgen_core.policy.rollout import EpisodeResult
from dreamgen_core.report import demo_report
from dreamgen_core.sim.task import TASKS
from dreamgen_core.training.losslog import LossLog


class PageParser(HTMLParser):
    """Image sources and table cells, as a browser would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.cells: list[str] = []
        self.missing: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(str(dict(attrs)["src"]))
        self._in = "missing" if ("class", "missing") in attrs else tag

    def handle_data(self, data: str) -> None:
        if self._in in ("td", "th"):
            self.cells.append(data)
        elif self._in == "missing":
            self.missing.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in = None


def loss_png(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    log = LossLog(path.with_name("loss.csv"), 0)
    for step in range(1, 6):
        log.append(step, 1.0 / step, 1e-3, 0.1 * step)
    log.plot(path)


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo output with every stage's artefacts but the deploy run's (as when `dreamgen deploy` failed)."""
    root = tmp_path_factory.mktemp("artefacts") / "demo"
    for stage in ("world_model/run", "idm/ckpt", "policy/ckpt"):
        loss_png(root / stage / "loss.png")
    bench = root / "world_model/dreams/bench_sim"
    bench.mkdir(parents=True)
    (bench / "scores.json").write_text(json.dumps({"count": 8, "means": {"instruction_following": 0.375,
                                                                         "physics_alignment": 0.5}}))
    held = root / "world_model/dreams_heldout_tasks_without_demos"
    held.mkdir(parents=True)
    (held / "quality.json").write_text(json.dumps({"methods": [
        {"method": "model", "psnr": 21.5, "cube_final_error_px": 3.25, "cube_displacement_px": 7.0,
         "instruction_following": 0.5, "videos": 2},
        {"method": "nearest_training_clip", "psnr": 24.75, "cube_final_error_px": float("nan"),
         "cube_displacement_px": 9.0, "instruction_following": 1.0, "videos": 2}]}))
    idm = root / "idm/eval_heldout"
    idm.mkdir(parents=True)
    report = IdmReport("ds", "ckpt", "abc", ["j1", "j2"], ["j1"], [0, 1],
                       [MethodErrors("idm", 0.0123, 0.02, [0.0123], [0.02]),
                        MethodErrors("hold_state", 0.0456, 0.06, [0.0456], [0.06])])
    (idm / "report.json").write_text(json.dumps(report.to_dict()))  # as idm.eval writes it (no plot: missing)
    latency = LatencyStats([0.004, 0.005, 0.006, 0.011, 0.012])
    episodes = [EpisodeResult(c, t.name, 1000, c == "expert" or t == TASKS[0], 9.0, 0.01, 0, 0)
                for c in ("policy", "expert") for t in TASKS]
    evaluation = EvalReport(EvalConfig(TASKS, (1000,)), episodes, latency.summary(), "onnxruntime[CPU]", 1.0)
    ev = root / "policy/eval"
    ev.mkdir(parents=True)
    (ev / "report.json").write_text(json.dumps(evaluation.to_dict()))
    plot_success(evaluation, ev / "success.png")
    return root


@pytest.fixture
def demo(artefacts: Path, tmp_path: Path) -> Path:
    """A fresh copy per test (tests change it)."""
    return Path(shutil.copytree(artefacts, tmp_path / "demo"))


def parse(index: Path) -> PageParser:
    parser = PageParser()
    parser.feed(index.read_text())
    return parser


def test_every_image_exists_and_every_stage_has_its_numbers(demo: Path) -> None:
    index = demo_report(demo)
    assert index == demo / "report" / "index.html"
    page = parse(index)
    assert len(page.images) == 3 + 1 + 1  # three loss curves, policy success, latency histogram
    for src in page.images:
        image = cv2.imread(str(index.parent / src))
        assert image is not None and image.shape[0] > 100, src
    cells = set(page.cells)
    assert {"0.375", "21.5", "nearest_training_clip", "n/a"} <= cells        # dream scores, quality (NaN → n/a)
    assert {"0.0123", "0.0456", "hold_state"} <= cells                         # IDM table
    assert {"1/1", "0/1"} <= cells and TASKS[3].name in cells                  # policy per task beside the expert
    assert "5" in cells and "6" in cells                                       # latency: 5 calls, p50 6 ms
    # what did not run is said, not shown broken
    missing = " ".join(page.missing)
    assert "deploy.json is missing" in missing and "eval.png is missing" in missing


def test_a_rerun_replaces_the_report_whole(demo: Path) -> None:
    index = demo_report(demo)
    (demo / "policy/eval/report.json").unlink()
    index = demo_report(demo)
    page = parse(index)
    assert len(page.images) == 3  # the losses; no success plot nor latency without the eval's report
    assert len(list((index.parent / "img").iterdir())) == len(page.images)  # no stale image left behind
    assert "policy eval: not produced" in " ".join(page.missing)


def test_text_is_escaped(demo: Path) -> None:
    data = json.loads((demo / "world_model/dreams/bench_sim/scores.json").read_text())
    data["means"] = {"<script>alert(1)</script>": 1.0}
    (demo / "world_model/dreams/bench_sim/scores.json").write_text(json.dumps(data))
    text = demo_report(demo).read_text()
    assert "<script>" not in text and "&lt;script&gt;" in text


def test_deploy_results_sit_beside_the_sim_eval(demo: Path) -> None:
    deploy = demo / "policy/deploy"
    deploy.mkdir(parents=True)
    # deploy_director's report: one record per episode, named by instruction
    (deploy / "deploy.json").write_text(json.dumps([
        {"instruction": TASKS[0].instruction, "episode": 0, "seed": 1, "success": True, "sim_seconds": 9.5},
        {"instruction": TASKS[3].instruction, "episode": 0, "seed": 2, "success": False, "sim_seconds": 17.0}]))
    page = parse(demo_report(demo))
    assert "policy via ROS (deploy)" in page.cells
    assert page.cells.count("1/1") >= 1 + 4 and "0/1" in page.cells   # deploy 1/1; expert 1/1 on every task
    assert "deploy.json is missing" not in " ".join(page.missing)
