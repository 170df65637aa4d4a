# Shared by scripts/*.sh: project virtual environments with the package installed (editable).
VENV="${DFC_VENV:-.venv}"
PY="$VENV/bin/python"

# ensure_venv EXTRA [DIR [PYTHON]]: a venv in DIR (default $VENV) made with PYTHON (default
# $DFC_PYTHON or python3) holding ".[EXTRA]"; reinstalled only when pyproject.toml or the
# interpreter changed. Packages are installed by uv (installer), else by pip.
ensure_venv() {
  local extra="$1" dir="${2:-$VENV}" python="${3:-${DFC_PYTHON:-python3}}" stamp sum uv
  if [ -e "$dir" ] && ! "$dir/bin/python" -m pip --version >/dev/null 2>&1; then
    rm -rf "$dir"  # its interpreter is gone (a Python upgrade) or it was half made
  fi
  if [ ! -x "$dir/bin/python" ]; then
    "$python" -m venv "$dir"
  fi
  stamp="$dir/.installed-$extra"
  sum=$({ cat pyproject.toml; "$dir/bin/python" -VV; } | sha256sum | cut -c1-16)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
    if uv=$(installer); then
      "$uv" pip install -q --python "$dir/bin/python" -e ".[$extra]"
    else
      "$dir/bin/python" -m pip install -q --upgrade pip >/dev/null
      "$dir/bin/python" -m pip install -q -e ".[$extra]"
    fi
    echo "$sum" > "$stamp"
  fi
}

# installer: print the path of uv (https://docs.astral.sh/uv/), which installs a venv's
# packages about five times faster than pip (the same versions); put into
# .venv-tools by pip on first use. Fails (prints nothing) when it cannot be had, or when
# DFC_INSTALLER=pip.
installer() {
  local tools=".venv-tools"
  [ "${DFC_INSTALLER:-uv}" = "pip" ] && return 1
  if [ ! -x "$tools/bin/uv" ]; then
    rm -rf "$tools"
    { "${DFC_PYTHON:-python3}" -m venv "$tools" &&
      "$tools/bin/python" -m pip install -q uv; } >/dev/null 2>&1 || {
      rm -rf "$tools"
      echo "setup: uv could not be installed; pip installs the packages." >&2
      return 1
    }
  fi
  echo "$tools/bin/uv"
}

# supported_pythons: the X.Y versions pyproject.toml's classifiers declare, oldest first.
supported_pythons() {
  grep -o '"Programming Language :: Python :: 3\.[0-9]*"' pyproject.toml \
    | grep -o '3\.[0-9]*' | sort -V
}

# edge_pythons: the oldest and the newest supported X.Y (what the test command runs).
edge_pythons() {
  supported_pythons | sed -n '1p;$p' | uniq
}

# find_python X.Y: print the path of a working CPython X.Y (pyenv's, else on PATH);
# fail (print nothing) if there is none.
find_python() {
  local want="$1" root cand
  root="${PYENV_ROOT:-$HOME/.pyenv}"
  for cand in $(ls -d "$root/versions/$want".*/bin/"python$want" 2>/dev/null | sort -V -r) \
    $(command -v "python$want" || true); do
    if [ "$("$cand" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$want" ]
    then
      echo "$cand"
      return 0
    fi
  done
  return 1
}

# venv_for X.Y: the venv directory of the test matrix for that Python (.venv-py39...).
venv_for() {
  echo ".venv-py${1/./}"
}

# test_workers [SHARE]: the pytest-xdist worker count for a run that gets SHARE percent of the
# machine (default 100): $DFC_TEST_WORKERS if set, else twice the CPUs (the tests mostly wait
# on servers and sockets, not on the CPU), at least 2.
test_workers() {
  local share="${1:-100}" cpus
  if [ -n "${DFC_TEST_WORKERS:-}" ]; then
    echo "$DFC_TEST_WORKERS"
    return
  fi
  cpus=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
  echo $(( (2 * cpus * share / 100) > 2 ? (2 * cpus * share / 100) : 2 ))
}
