# Shared by scripts/dev, scripts/test and scripts/lock: find Python 3.12+ and keep .venv in
# step with the development lock (requirements-dev.txt: the runtime lock plus the test tools).
# Sourced, not run.

find_python() {
  local candidates=()
  [ -n "${PYTHON:-}" ] && candidates+=("$PYTHON")
  candidates+=(python3.13 python3.12)
  if command -v pyenv >/dev/null 2>&1; then
    local root
    root=$(pyenv root)
    candidates+=("$root"/versions/3.13*/bin/python3 "$root"/versions/3.12*/bin/python3)
  fi
  candidates+=(python3)
  local py
  for py in "${candidates[@]}"; do
    if command -v "$py" >/dev/null 2>&1 &&
      "$py" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      echo "$py"
      return 0
    fi
  done
  echo "error: the portal needs Python 3.12 or newer (Django 6.1). None was found among:" >&2
  echo "  \$PYTHON, python3.13, python3.12, pyenv's 3.13/3.12, python3." >&2
  echo "Install one (e.g. 'pyenv install 3.13') or set PYTHON=/path/to/python3.12+." >&2
  return 1
}

ensure_venv() {
  VENV=${VENV:-.venv}
  if [ ! -x "$VENV/bin/python" ] ||
    ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
    local py
    py=$(find_python) || exit 1
    echo "Creating $VENV with $("$py" --version)"
    rm -rf "$VENV"
    "$py" -m venv "$VENV"
  fi
  local stamp="$VENV/.requirements.sha256"
  local want
  # Both locks: a change to either (even one the other does not show yet) re-installs.
  want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "Installing requirements-dev.txt into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes \
      -r requirements-dev.txt
    echo "$want" >"$stamp"
  fi
  PY="$VENV/bin/python"
}
