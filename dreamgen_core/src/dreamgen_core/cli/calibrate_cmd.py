"""`dreamgen calibrate camera`: checkerboard photos → the camera_info YAML the camera driver serves."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dreamgen_core.calibration.camera_info import write_camera_info
from dreamgen_core.calibration.intrinsics import Board, CalibrationError, calibrate


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("calibrate", help="calibrate sensors (camera intrinsics)",
                                 description="Produce the files in calibration/ (see calibration/README.md).")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    text = "estimate camera intrinsics from checkerboard images; write ROS camera_info YAML"
    camera = sub.add_parser("camera", help=text, description=text)
    camera.add_argument("images", nargs="+", type=Path, help="image files, or directories of images")
    camera.add_argument("--board", default="9x6", help="inner corners COLSxROWS (default 9x6)")
    camera.add_argument("--square", type=float, required=True, help="square side in metres, e.g. 0.025")
    camera.add_argument("--out", type=Path, required=True, help="camera_info YAML to write (atomically)")
    camera.add_argument("--name", default="ego_view", help="camera_name in the file (default ego_view)")
    camera.set_defaults(run=run_camera)


def run_camera(args: argparse.Namespace) -> int:
    try:
        result = calibrate(args.images, Board.parse(args.board, args.square), args.name)
    except CalibrationError as exc:
        print(f"dreamgen: error: {exc}", file=sys.stderr)
        return 2
    write_camera_info(args.out, result.info)
    info = result.info
    print(f"camera {info.name}: {info.width}x{info.height}, {len(result.used)} images used, "
          f"{len(result.rejected)} rejected")
    for path, reason in result.rejected:
        print(f"  rejected {path}: {reason}")
    print(f"rms reprojection error: {result.rms_px:.4f} px")
    print(f"fx {info.fx:.3f}  fy {info.fy:.3f}  cx {info.k[0, 2]:.3f}  cy {info.k[1, 2]:.3f}")
    print(f"distortion ({info.distortion_model}): {' '.join(f'{x:.5f}' for x in info.d)}")
    print(f"wrote {args.out}")
    return 0
