#!/usr/bin/env bash
# Run the demo (usage.py) on http://127.0.0.1:8050 with embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
ensure_venv demo
exec "$PY" usage.py "$@"
