# Shared set-up of bin/run and bin/test (sourced, not run).
# System packages come from apt-get (root, or sudo when not root); Python packages from pip
# into .venv. Both steps are skipped when nothing changed since the last run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else
    log "This step needs root (apt-get install): run as root, install sudo, or install by hand: $*"
    exit 1
  fi
}

# ensure_packages command:package ... — installs the packages whose command is missing.
ensure_packages() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# ensure_files path:package ... — installs the packages whose file is missing (a plugin, a
# library: what `command -v` cannot find).
ensure_files() {
  local missing=() pair
  for pair in "$@"; do
    [ -e "${pair%%:*}" ] || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys, venv; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}

ensure_venv() {
  local python
  if ! python=$(find_python); then
    ensure_packages python3.11:python3.11 && as_root env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends python3.11-venv python3.11-dev
    python=$(find_python) || { log "Python 3.11 with venv is required"; exit 1; }
  fi
  if [ ! -x "$PY" ]; then
    log "creating $VENV with $python"
    "$python" -m venv "$VENV"
  fi
  local stamp
  stamp=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$VENV/.deps-stamp" 2>/dev/null)" != "$stamp" ]; then
    log "installing Python packages into $VENV"
    "$PY" -m pip install -q --upgrade pip
    "$PY" -m pip install -q -c constraints.txt -e '.[dev]'
    echo "$stamp" > "$VENV/.deps-stamp"
  fi
}
