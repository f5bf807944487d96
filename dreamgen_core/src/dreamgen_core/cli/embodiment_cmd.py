"""`dreamgen embodiment list|show|modality`: read an embodiment spec the way every stage reads it."""

from __future__ import annotations

import argparse
import json

from dreamgen_core.embodiment import Embodiment, available, load_embodiment


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("embodiment", help="inspect embodiment specs (joint layout, limits, cameras)",
                                 description="Inspect the embodiment specs that drive every part of dreamgen.")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    sub.add_parser("list", help="names of the shipped specs").set_defaults(run=lambda a: print("\n".join(available())))
    for action, fn, text in (("show", show, "a readable table of layout, limits, cameras, topics and drivers"),
                             ("modality", modality, "print GR00T's meta/modality.json for the spec")):
        p = sub.add_parser(action, help=text, description=text)
        p.add_argument("spec", help="a shipped spec name (see `dreamgen embodiment list`) or a YAML path")
        p.set_defaults(run=fn)


def modality(args: argparse.Namespace) -> None:
    print(json.dumps(load_embodiment(args.spec).modality(), indent=2))


def show(args: argparse.Namespace) -> None:
    print(render(load_embodiment(args.spec)))


def render(spec: Embodiment) -> str:
    lines = [f"{spec.name}: {spec.description}",
             f"  {spec.dim}-dim state/action in {spec.position_units}, content hash {spec.content_hash[:16]}",
             f"  limits: {' '.join(spec.source.reference.split())}", ""]
    driver_index = {name: f"{d}[{i}]" for d, drv in spec.drivers.items() for i, name in enumerate(drv.joint_order)}
    header = f"{'slot':>4}  {'group':<11} {'joint':<29} {'lower':>7} {'upper':>7} {'vel':>6} {'margin':>6}  {'command':<22} driver"
    lines += [header, "-" * len(header)]
    for group in spec.layout:
        for offset, name in enumerate(group.joints):
            j = spec.joints[name]
            cmd = f"[{j.command.lower:g}, {j.command.upper:g}] {j.command.units}" if j.command else "-"
            vel = f"{j.velocity:6.2f}" + ("*" if j.velocity_source != "urdf" else " ")
            lines.append(f"{group.start + offset:>4}  {group.group:<11} {name:<29} {j.lower:>7.3f} {j.upper:>7.3f} "
                         f"{vel}{spec.margin(name):>6.3f}  {cmd:<22} {driver_index.get(name, '-')}")
    if any(j.velocity_source != "urdf" for j in spec.joints.values()):
        lines.append("  * velocity not from the URDF: see velocity_source in the spec")
    lines.append("")
    for key, cam in spec.cameras.items():
        v = cam.model_view
        lines.append(f"camera {key}: {cam.width}x{cam.height} {cam.encoding} @ {cam.rate_hz:g} Hz on {cam.topic}")
        lines.append(f"  model view {v.video_key}: crop rows {v.crop_rows[0]}:{v.crop_rows[1]} cols "
                     f"{v.crop_cols[0]}:{v.crop_cols[1]} -> {v.resize_hw[1]}x{v.resize_hw[0]} -> pad {v.pad_rows} rows "
                     f"-> {v.size_hw[1]}x{v.size_hw[0]}")
    r = spec.rates
    lines.append(f"rates: dataset {r.dataset_fps:g} fps, control {r.control_hz:g} Hz, "
                 f"joint states >= {r.joint_states_min_hz:g} Hz")
    lines.append("topics: " + ", ".join(f"{k}={getattr(spec.ros, k).name}" for k in spec.ros.__dataclass_fields__))
    for key, d in spec.drivers.items():
        lines.append(f"driver {key}: {d.name}, {len(d.joint_order)} joints in {d.units}")
    return "\n".join(lines)
