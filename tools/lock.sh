#!/usr/bin/env bash
# Re-resolve tools/constraints.txt: install every requirement unconstrained into a scratch venv
# (CPU torch), freeze it, keep the header and the GPU-only pins. Review the diff before committing.
set -euo pipefail
tools="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
echo "torch==2.13.0" > "$scratch/seed.txt"
"$tools/install.sh" --venv "$scratch/venv" --constraints "$scratch/seed.txt"
{
  sed -n '/^# Resolved on/q;p' "$tools/constraints.txt"
  echo "# Resolved on a CPU machine, Python $("$scratch/venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])'):"
  "$scratch/venv/bin/python" -m pip freeze --exclude-editable | sed 's/+cpu$//'
} > "$scratch/constraints.txt"
mv "$scratch/constraints.txt" "$tools/constraints.txt"
echo "tools/constraints.txt re-resolved; review: git diff tools/constraints.txt"
