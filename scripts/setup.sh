#!/usr/bin/env bash
# Prepare this machine for scripts/check.sh (idempotent; quick when nothing changed):
# Debian packages, the main venv (.venv), one venv per edge Python (.venv-py39...), node_modules.
# Usage: bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

# System packages: headless browser tests, Redis tests, nginx tests, and a single-node Ceph
# cluster whose radosgw is the real S3 server of the object storage tests (Debian names).
need=()
for pkg in chromium chromium-driver redis-server nginx-light radosgw ceph-mon ceph-osd; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "setup: no apt-get; install ${need[*]} yourself (their tests are skipped)." >&2
  else
    echo "setup: installing ${need[*]} ..."
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
    # A failed install does not stop the run: the tests that need a missing program skip,
    # saying which (the summary's skip reasons list them).
    if ! { $SUDO apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        "${need[@]}" >/dev/null; }; then
      echo "setup: installing ${need[*]} FAILED: the tests that need them are skipped." >&2
    fi
  fi
fi

# The venvs and node_modules are made at the same time (mostly downloads and disk writes);
# uv is fetched first, once, for all of them (pip for all if it cannot be had).
installer >/dev/null || export DFC_INSTALLER=pip
jobs_started=()

# The main interpreter runs everything, static checks included.
echo "setup: $VENV ($("${DFC_PYTHON:-python3}" -V 2>&1))"
ensure_venv dev &
jobs_started+=($!)

# The oldest and newest supported Pythons run the non-browser suite, each in its own venv.
for version in $(edge_pythons); do
  if python=$(find_python "$version"); then
    echo "setup: $(venv_for "$version") ($python)"
    ensure_venv test "$(venv_for "$version")" "$python" &
    jobs_started+=($!)
  else
    echo "setup: Python $version not found (pyenv or python$version on PATH): its run is skipped."
  fi
done

# Node packages: components build check, JS lint and unit tests.
node_packages() {
  local stamp=node_modules/.lock-sha sum
  sum=$(sha256sum package-lock.json | cut -c1-16)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
    npm ci --no-audit --no-fund --loglevel=error
    echo "$sum" > "$stamp"
  fi
}
if command -v npm >/dev/null; then
  node_packages &
  jobs_started+=($!)
else
  echo "setup: npm not found: JS checks and the components' rebuild check are skipped." >&2
fi

failed=0
for pid in "${jobs_started[@]}"; do
  wait "$pid" || failed=1
done
if [ "$failed" -ne 0 ]; then
  echo "setup: a step failed (its output is above)." >&2
  exit 1
fi
