#!/usr/bin/env bash
# Run the whole test suite on a fresh machine: installs what it needs, then pytest.
# Usage: bash scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

# System packages the browser, Redis and nginx tests need (Debian names).
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
command -v redis-server >/dev/null || need+=(redis-server)
# nginx: the HTTP differential test (tests/test_http_nginx_differential.py) starts its own.
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
  echo "Installing ${need[*]} ..."
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

ensure_venv test

# Node packages for the components' stale-build check (tests/test_components_build.py).
if command -v npm >/dev/null; then
  stamp=node_modules/.lock-sha
  sum=$(sha256sum package-lock.json | cut -c1-16)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
    npm ci --no-audit --no-fund --loglevel=error
    echo "$sum" > "$stamp"
  fi
else
  echo "npm not found: the components' rebuild check will be skipped." >&2
fi
"$PY" -m ruff check .
"$PY" -m mypy dash_file_cache
exec "$PY" -m pytest "$@"
