#!/usr/bin/env bash
# The README's test command: prepare the machine (scripts/setup.sh), then run every check
# (scripts/check.sh). Usage: bash scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec bash scripts/check.sh "$@"
