# Shared by scripts/*.sh: a project virtual environment in .venv with the package installed.
VENV="${DFC_VENV:-.venv}"
PY="$VENV/bin/python"

ensure_venv() {  # $1: extra to install (test, demo)
  if [ ! -x "$PY" ]; then
    python3 -m venv "$VENV"
  fi
  # Reinstall only when the declared dependencies changed.
  local stamp="$VENV/.installed-$1" sum
  sum=$(cat pyproject.toml | sha256sum | cut -c1-16)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
    "$PY" -m pip install -q --upgrade pip >/dev/null
    "$PY" -m pip install -q -e ".[$1]"
    echo "$sum" > "$stamp"
  fi
}
