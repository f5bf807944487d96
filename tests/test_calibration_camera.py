"""`dreamgen calibrate camera` on MuJoCo renders of a checkerboard seen by a camera of known fovy.

The renders are real (MuJoCo, headless EGL) and so are the corner detection and the fit (OpenCV),
through the installed console script. Ground truth is MuJoCo's pinhole model (`pinhole_from_fovy`).
Reached on these 10 views at 640x400: rms ~0.05 px, focal length within ~0.2 %.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")  # before mujoco picks its GL backend

import cv2
import mujoco
import numpy as np
import pytest

from dreamgen_core.calibration.camera_info import load_camera_info, pinhole_from_fovy

WIDTH, HEIGHT, FOVY = 640, 400, 45.0  # 16:10 like the GR1 head camera
COLS, ROWS, SQUARE_M = 9, 6, 0.025
# (azimuth, elevation, distance, lookat x, lookat y) of MuJoCo's free camera around the board.
POSES = [(90, -90, 0.45, 0, 0), (60, -60, 0.5, 0.02, 0), (120, -65, 0.45, -0.02, 0.01),
         (90, -55, 0.5, 0, 0.02), (75, -75, 0.4, 0.01, -0.01), (105, -80, 0.42, 0, 0),
         (45, -70, 0.5, 0, 0), (135, -70, 0.5, 0, 0), (90, -45, 0.55, 0, 0.03), (180, -70, 0.45, 0, 0)]


def board_texture(path: Path, px: int = 40) -> None:
    """(COLS+1)x(ROWS+1) squares and a one-square white border, as a PNG."""
    squares = np.indices((ROWS + 1, COLS + 1)).sum(axis=0) % 2
    image = np.pad(np.kron(squares, np.ones((px, px))) * 255, px, constant_values=255).astype(np.uint8)
    cv2.imwrite(str(path), image)


def scene(texture: Path) -> str:
    # The plane's half-sizes match the texture's aspect, so each texel square is a square_m square.
    half_x, half_y = (COLS + 3) * SQUARE_M / 2, (ROWS + 3) * SQUARE_M / 2
    return f"""<mujoco>
      <visual><global fovy="{FOVY}" offwidth="{WIDTH}" offheight="{HEIGHT}"/>
              <headlight ambient="1 1 1" diffuse="0 0 0" specular="0 0 0"/></visual>
      <asset><texture name="board" type="2d" file="{texture}"/>
             <material name="board" texture="board" texrepeat="1 1"/></asset>
      <worldbody><geom type="plane" size="{half_x} {half_y} 0.01" material="board"/></worldbody>
    </mujoco>"""


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("renders")
    board_texture(out / "board_texture.png")
    model = mujoco.MjModel.from_xml_string(scene(out / "board_texture.png"))
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_FREE
    paths = []
    with mujoco.Renderer(model, HEIGHT, WIDTH) as renderer:
        for i, (azimuth, elevation, distance, x, y) in enumerate(POSES):
            camera.azimuth, camera.elevation, camera.distance = azimuth, elevation, distance
            camera.lookat[:] = (x, y, 0)
            renderer.update_scene(data, camera=camera)
            paths.append(out / f"view_{i:02d}.png")
            cv2.imwrite(str(paths[-1]), cv2.cvtColor(renderer.render(), cv2.COLOR_RGB2BGR))
    return paths


def calibrate(cli: Path, out: Path, *images: Path, board: str = f"{COLS}x{ROWS}") -> subprocess.CompletedProcess:
    return subprocess.run([str(cli), "calibrate", "camera", *map(str, images), "--board", board,
                           "--square", str(SQUARE_M), "--out", str(out), "--name", "ego_view"],
                          capture_output=True, text=True, timeout=120)


def printed(stdout: str, label: str) -> float:
    return float(stdout.split(label, 1)[1].split(maxsplit=1)[0])


def test_intrinsics_from_renders_match_the_known_camera(cli: Path, renders: list[Path], tmp_path: Path) -> None:
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((HEIGHT, WIDTH), 128, np.uint8))
    other_size = tmp_path / "small.png"
    cv2.imwrite(str(other_size), cv2.resize(cv2.imread(str(renders[0])), (320, 200)))
    out = tmp_path / "calib" / "ego_view.yaml"
    result = calibrate(cli, out, *renders, blank, other_size)
    assert result.returncode == 0, result.stderr
    assert f"{len(renders)} images used, 2 rejected" in result.stdout
    assert f"rejected {blank}: 9x6 board not found" in result.stdout
    assert f"rejected {other_size}: size 320x200 differs from 640x400" in result.stdout

    info, truth = load_camera_info(out), pinhole_from_fovy(WIDTH, HEIGHT, FOVY, "ego_view")
    assert (info.width, info.height, info.name) == (WIDTH, HEIGHT, "ego_view")
    rms = printed(result.stdout, "rms reprojection error:")
    assert rms < 0.5
    assert info.fx == pytest.approx(truth.fx, rel=0.005)
    assert info.fy == pytest.approx(truth.fy, rel=0.005)
    # MuJoCo's centre is (W/2, H/2) in pixel-edge coordinates, OpenCV's (W-1)/2 in pixel-centre ones.
    assert info.k[0, 2] == pytest.approx(truth.k[0, 2] - 0.5, abs=3.0)
    assert info.k[1, 2] == pytest.approx(truth.k[1, 2] - 0.5, abs=3.0)
    assert np.abs(info.d).max() < 0.1
    assert printed(result.stdout, "fx") == pytest.approx(info.fx, abs=1e-3)
    assert not [p for p in out.parent.iterdir() if p.name != out.name]  # no temp file left


@pytest.mark.parametrize("case", ["empty directory", "missing file", "unreadable file", "too few boards",
                                  "bad board"])
def test_bad_input_is_one_line_and_exit_2(case: str, cli: Path, renders: list[Path], tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"not a png")
    images, board, expected = {
        "empty directory": ([empty], "9x6", f"no images in {empty}"),
        "missing file": ([tmp_path / "nope.png"], "9x6", f"image {tmp_path / 'nope.png'} does not exist"),
        "unreadable file": ([renders[0], garbage], "9x6", f"{garbage}: not a readable image"),
        "too few boards": (renders[:3], "9x6", "the 9x6 board was found in 3 of 3 images; need at least 5"),
        "bad board": (renders, "9by6", "board '9by6': expected inner corners as COLSxROWS"),
    }[case]
    out = tmp_path / "out.yaml"
    result = calibrate(cli, out, *images, board=board)
    assert result.returncode == 2, result.stdout
    assert result.stderr.count("\n") == 1 and expected in result.stderr, result.stderr
    assert not out.exists()
