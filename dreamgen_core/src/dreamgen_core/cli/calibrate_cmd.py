"""`dreamgen calibrate camera`: checkerboard photos → the camera_info YAML the camera driver serves.
`dreamgen calibrate joints`: the GR1 held at a known pose → joint-zero offsets, through the GRX client."""

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
    text = "measure the GR1's joint-zero offsets at a known pose through its GRX server (grx extra)"
    joints = sub.add_parser("joints", help=text, description=text, formatter_class=argparse.RawDescriptionHelpFormatter,
                            epilog="Put the robot in the pose (a fixture, or its mechanical zero), motors off, then:\n"
                                   "  dreamgen calibrate joints --server-ip 192.168.137.220 --pose zero_pose.yaml \\\n"
                                   "      --out calibration/gr1_joint_offsets.yaml\n"
                                   "POSE is {joint: rad}; joints left out are at 0. Hand offsets in OUT are kept.")
    joints.add_argument("--server-ip", required=True, help="the GRX server's address (the robot)")
    joints.add_argument("--namespace", default="gr", help="the server's key prefix (default gr)")
    joints.add_argument("--pose", type=Path, help="the known pose, YAML {joint: rad} (default: all zero)")
    joints.add_argument("--samples", type=int, default=200, help="joint samples to average (default 200)")
    joints.add_argument("--out", type=Path, required=True, help="offsets YAML to write (atomically)")
    joints.add_argument("--embodiment", default="gr1", help="embodiment spec (default gr1)")
    joints.set_defaults(run=run_joints)


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


def run_joints(args: argparse.Namespace) -> int:
    from dreamgen_core.drivers.joint_calibration import load_pose, measure_offsets, write_offsets
    from dreamgen_core.embodiment import load_embodiment
    from dreamgen_core.optional import require

    spec = load_embodiment(args.embodiment)
    pose = load_pose(args.pose, spec) if args.pose else {name: 0.0 for name in spec.joints}
    require("fourier_grx_client", "dreamgen calibrate joints")
    from fourier_grx_client.exceptions import FourierConnectionError

    from dreamgen_core.drivers.grx_client import GrxClient

    try:
        client = GrxClient(namespace=args.namespace, server_ip=args.server_ip)
    except FourierConnectionError:
        print(f"dreamgen: error: no GRX server answers at tcp/{args.server_ip}:7447 (namespace {args.namespace})",
              file=sys.stderr)
        return 2
    try:
        offsets = measure_offsets(client, spec, pose, args.samples)
    except TimeoutError as exc:
        print(f"dreamgen: error: {exc}", file=sys.stderr)
        return 2
    finally:
        client.close()
    source = f"pose {args.pose}" if args.pose else "the zero pose"
    written = write_offsets(args.out, spec, offsets,
                            f"dreamgen calibrate joints: {source}, {args.samples} samples from {args.server_ip}")
    largest = max(offsets, key=lambda n: abs(offsets[n]))
    print(f"{len(offsets)} body joint offsets, largest {largest} {offsets[largest]:+.4f} rad")
    print(f"wrote {args.out} ({written.status})")
    return 0
