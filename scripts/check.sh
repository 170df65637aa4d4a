#!/usr/bin/env bash
# The checks, on a machine prepared by scripts/setup.sh: ruff (lint and format), mypy, the docs
# site (mkdocs build --strict, into a temporary directory removed afterwards), JS lint and unit tests,
# the whole pytest suite on the main interpreter, then the non-browser suite on the oldest
# and the newest supported Python (those that are present). Every step runs; the summary
# lists each with its time, and the exit status is 1 if any failed.
# Usage: bash scripts/check.sh [pytest arguments]   (given to every pytest run)
# DFC_EDGE_PYTHONS="3.9 3.13" chooses the other interpreters ("" for none).
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

summary=()
failed=0

# step LABEL COMMAND...: run it, time it, record the outcome.
step() {
  local label="$1" start=$SECONDS rc=0
  shift
  echo "== $label"
  "$@" || rc=$?
  record "$label" "$rc" $((SECONDS - start))
}

record() {  # LABEL RC SECONDS (RC "skip: reason" for a skipped step)
  local outcome
  case "$2" in
    0) outcome="ok" ;;
    skip:*) outcome="skipped (${2#skip: })" ;;
    *) outcome="FAILED (exit $2)"; failed=1 ;;
  esac
  summary+=("$(printf '%-40s %-46s %5ss' "$1" "$outcome" "$3")")
}

# pytest_run PYTHON ARGS...: pytest, where exit 5 ("no tests collected") is a failure, unless
# the caller's own arguments narrowed the selection to no test of this run (e.g. only
# browser tests, on the interpreters that run the non-browser suite).
pytest_run() {
  local python="$1" rc=0
  shift
  "$python" -m pytest "$@" || rc=$?
  if [ "$rc" -eq 5 ]; then
    if [ "$USER_ARGS" -gt 0 ] && [ "$EDGE_RUN" -eq 1 ]; then
      echo "(no test of this run is in the selection given)"
      return 0
    fi
    echo "pytest collected no test: the suite or the selection is broken." >&2
  fi
  return "$rc"
}

# docs_build: the docs site builds with no warning (mkdocs --strict); nothing is left behind.
docs_build() {
  local site rc=0
  site=$(mktemp -d)
  NO_MKDOCS_2_WARNING=1 "$PY" -m mkdocs build --strict --site-dir "$site" || rc=$?
  rm -rf "$site"
  return "$rc"
}

USER_ARGS=$#
EDGE_RUN=0

if [ ! -x "$PY" ]; then
  echo "No $VENV: run 'bash scripts/setup.sh' first (or 'bash scripts/test.sh')." >&2
  exit 2
fi

step "ruff" "$PY" -m ruff check .
step "ruff format" "$PY" -m ruff format --check .
step "mypy" "$PY" -m mypy dash_file_cache
if "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  step "docs (mkdocs build --strict)" docs_build
else
  record "docs (mkdocs build --strict)" "skip: the docs tools need Python >= 3.11" 0
fi
if command -v npm >/dev/null; then
  step "npm run lint" npm run --silent --if-present lint
  step "npm run test:js" npm run --silent --if-present test:js
else
  record "npm run lint / test:js" "skip: npm not found" 0
fi

main_version=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
step "pytest, Python $main_version" pytest_run "$PY" "$@"

EDGE_RUN=1
for version in ${DFC_EDGE_PYTHONS-$(edge_pythons)}; do
  label="pytest -m 'not browser', Python $version"
  venv=$(venv_for "$version")
  if [ "$version" = "$main_version" ]; then
    record "$label" "skip: the main run is this Python" 0
  elif [ ! -x "$venv/bin/python" ]; then
    record "$label" "skip: Python $version not found by setup.sh" 0
  else
    step "$label" pytest_run "$venv/bin/python" -m "not browser" "$@"
  fi
done

echo
echo "== summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
