#!/usr/bin/env bash
# The checks, on a machine prepared by scripts/setup.sh: ruff (lint and format), mypy, the docs
# site (mkdocs build --strict, into a temporary directory removed afterwards), JS lint and unit tests,
# the whole pytest suite on the main interpreter, and the non-browser suite shared between the
# oldest and the newest supported Python (those that are present). Every step runs; the summary
# lists each with its time, and the exit status is 1 if any failed.
# The pytest runs are parallel (pytest-xdist, docs/testing.md); the edge Pythons' runs share
# the suite and run beside the main run (see below), their output printed at the end.
# Usage: bash scripts/check.sh [pytest arguments]   (given to every pytest run)
# DFC_EDGE_PYTHONS="3.9 3.13" chooses the other interpreters ("" for none);
# DFC_TEST_WORKERS=N sets the workers of each run (0: no xdist, one process).
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
# Bytecode caches are written (the machine may set PYTHONDONTWRITEBYTECODE): without them
# every test process and server compiles, and pytest rewrites, every module it imports
# again (a collection took 8.6 CPU s instead of 2.8). They go to __pycache__ (git-ignored).
unset PYTHONDONTWRITEBYTECODE

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

if [ ! -x "$PY" ]; then
  echo "No $VENV: run 'bash scripts/setup.sh' first (or 'bash scripts/test.sh')." >&2
  exit 2
fi

# The edge Pythons' non-browser runs, their output in logs printed at the end. The runnable
# ones share the suite (--share I/N, tests/edge_share.py: every test runs on the main Python
# and on one edge Python). They run one after the other, from the start, in the background
# and at a lower priority (nice 10, DFC_EDGE_NICE): they take the CPU the main run leaves
# idle, mostly while its servers start and its browser tests wait (docs/testing.md,
# "Figures"). DFC_EDGE_SHARE=0: each edge run takes the whole suite. DFC_EDGE_ALONGSIDE=0:
# they come after the main run, at the normal priority.
EDGE_RUN=1
edge_labels=()
edge_states=()  # "skip: reason", or the folder holding the run's log and status
runnable=()     # the indexes (in edge_labels) of the edge runs that can run
edge_interpreters=()  # their interpreters, in the same order
main_version=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
alongside="${DFC_EDGE_ALONGSIDE:-1}"

for version in ${DFC_EDGE_PYTHONS-$(edge_pythons)}; do
  edge_labels+=("pytest -m 'not browser', Python $version")
  venv=$(venv_for "$version")
  if [ "$version" = "$main_version" ]; then
    edge_states+=("skip: the main run is this Python")
  elif [ ! -x "$venv/bin/python" ]; then
    edge_states+=("skip: Python $version not found by setup.sh")
  else
    runnable+=("${#edge_states[@]}")
    edge_interpreters+=("$venv/bin/python")
    edge_states+=("$(mktemp -d "${TMPDIR:-/tmp}/check-edge-XXXXXX")")
  fi
done

# edge_run K ARGS...: the Kth runnable edge run, its log and "rc seconds" in its folder.
edge_run() {
  local k="$1" dir="${edge_states[${runnable[$1]}]}" start=$SECONDS rc=0 share=()
  local workers EDGE_RUN=1
  shift
  if [ "${DFC_EDGE_SHARE:-1}" != "0" ] && [ "${#runnable[@]}" -gt 1 ]; then
    share=(--share "$k/${#runnable[@]}")
  fi
  workers=$(test_workers)
  pytest_run "${edge_interpreters[$k]}" -m "not browser" -n "$workers" --dist loadgroup \
    "${share[@]}" "$@" >"$dir/log" 2>&1 || rc=$?
  echo "$rc $((SECONDS - start))" >"$dir/status"
}

# edge_runs ARGS...: every runnable edge run, one after the other.
edge_runs() {
  local k
  # Beside the main run, at a lower priority: they take the CPU it leaves idle.
  if [ "$alongside" = "1" ]; then
    renice -n "${DFC_EDGE_NICE:-10}" -p "$BASHPID" >/dev/null || true
  fi
  for k in "${!runnable[@]}"; do
    [ "$alongside" = "1" ] || echo "== ${edge_labels[${runnable[$k]}]}"
    edge_run "$k" "$@"
  done
}

# On an early exit, the background edge runs stop with their pytest (whose workers follow),
# and their folders go (a finished run has removed them already).
cleanup() {
  local job state
  for job in $(jobs -p); do pkill -TERM -P "$job"; kill "$job"; done 2>/dev/null
  for state in "${edge_states[@]}"; do
    [ "${state#skip:}" = "$state" ] && rm -rf "$state"
  done
  return 0
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP
if [ "$alongside" = "1" ]; then
  edge_runs "$@" &
fi
EDGE_RUN=0

step "ruff" "$PY" -m ruff check .
step "ruff format" "$PY" -m ruff format --check .
step "mypy" "$PY" -m mypy dash_file_cache tests bench
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

# The browser tests time what a person sees (progress ticks, a cut mid-transfer): they run
# after the main run's other tests, one at a time, with only the lower-priority edge runs
# beside them (at the normal priority, tests beside them starved Chromium). A marker
# expression given by the caller (-m) selects for the one parallel run instead.
if [[ " $* " == *" -m "* ]]; then
  step "pytest, Python $main_version" \
    pytest_run "$PY" -n "$(test_workers)" --dist loadgroup "$@"
else
  EDGE_RUN=1  # arguments may select only browser tests, or none of them
  step "pytest -m 'not browser', Python $main_version" \
    pytest_run "$PY" -m "not browser" -n "$(test_workers)" --dist loadgroup "$@"
  step "pytest -m browser, Python $main_version" pytest_run "$PY" -m browser "$@"
  EDGE_RUN=0
fi

[ "$alongside" = "1" ] || edge_runs "$@"
wait
for i in "${!edge_labels[@]}"; do
  state="${edge_states[$i]}"
  if [ "${state#skip:}" != "$state" ]; then
    record "${edge_labels[$i]}" "$state" 0
    continue
  fi
  echo "== ${edge_labels[$i]} (its log)"
  cat "$state/log"
  read -r rc seconds <"$state/status" || { rc=1; seconds=0; }
  record "${edge_labels[$i]}" "$rc" "$seconds"
  rm -rf "$state"
done

echo
echo "== summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
