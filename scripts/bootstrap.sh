#!/usr/bin/env bash
# Make this checkout runnable: Debian system packages, a Python >= 3.11 virtualenv in
# .venv, and the project installed into it (editable). Safe to run again: a second run
# checks and changes nothing.
#
# Usage: scripts/bootstrap.sh [--dev]
#   --dev   also install what the test suite needs (PostgreSQL server, dev extras)
set -euo pipefail

# Debian packages installed on every run: ffmpeg and espeak-ng make the stand-in clips
# (DejaVu is their font); libvlc (library, fast plugin cache, base plugins) plays the vlc
# backend; openssl brings the library Qt's TLS loads for remote consoles; libportaudio2 is
# the sound library the trainee recording's microphone is read through; the rest are
# what Qt's wheels load for windows, fonts and sound.
SYSTEM_PACKAGES=(ffmpeg espeak-ng fonts-dejavu-core libvlc5 libvlc-bin vlc-plugin-base openssl
                 libportaudio2
                 libgl1 libegl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3
                 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-randr0
                 libxcb-render-util0 libxcb-image0 libxcb-xinerama0 libpulse0)
# Only with --dev. The PostgreSQL server is started per test run by tests/pg_server.py;
# the keyboard-focus tests start their own X server (Xvfb) with and without a window
# manager (Openbox) and press real keys on it (xdotool); the report tests read the text and
# pictures back out of the PDFs they make (poppler-utils).
DEV_PACKAGES=(postgresql xvfb openbox xdotool poppler-utils)
# Only when no usable Python >= 3.11 with venv support is found.
PYTHON_PACKAGES=(python3 python3-venv python3-pip)
# Tried in this order; the first >= 3.11 that can create a virtualenv wins.
PYTHON_CANDIDATES=(python3.13 python3.12 python3.11 python3)

usage() { sed -n '2,7s/^# \{0,1\}//p' "$0"; }

DEV=0
for arg in "$@"; do
  case "$arg" in
    --dev) DEV=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bootstrap: unknown argument: $arg" >&2; usage >&2; exit 2 ;;
  esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv"
STAMP="$VENV/.bootstrap-stamp"
EXTRAS=""
[[ $DEV == 1 ]] && EXTRAS="dev"

export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

# Output of apt-get/pip goes here and is only shown when a step fails.
LOG="$(mktemp -t bootstrap.XXXXXX)"
trap 'rm -f "$LOG"' EXIT

ACTIONS=()

quietly() {
  "$@" >>"$LOG" 2>&1 || {
    local status=$?
    echo "bootstrap: failed (exit $status): $*" >&2
    tail -n 60 "$LOG" >&2
    exit "$status"
  }
}

python_ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; }
# Debian ships ensurepip in python3.X-venv; without it `python3 -m venv` cannot make a venv.
python_can_venv() { "$1" -c 'import venv, ensurepip' >/dev/null 2>&1; }

find_python() {
  local candidate path
  for candidate in "${PYTHON_CANDIDATES[@]}"; do
    path="$(command -v "$candidate" 2>/dev/null)" || continue
    if python_ok "$path" && python_can_venv "$path"; then
      echo "$path"
      return 0
    fi
  done
  return 1
}

venv_ok() {
  [[ -x $VENV/bin/python ]] && "$VENV/bin/python" -c '
import importlib.util, sys
sys.exit(sys.version_info < (3, 11) or importlib.util.find_spec("pip") is None)' >/dev/null 2>&1
}

deb_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

install_debs() {
  local wanted=("$@") missing=() pkg
  for pkg in "${wanted[@]}"; do
    deb_installed "$pkg" || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0

  local as_root=()
  if [[ $(id -u) != 0 ]]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "bootstrap: missing Debian packages: ${missing[*]}" >&2
      echo "bootstrap: install them as root, then run this again:" >&2
      echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
      exit 1
    fi
    # Without a terminal sudo cannot ask for a password; fail instead of hanging.
    if [[ -t 0 ]]; then as_root=(sudo); else as_root=(sudo -n); fi
  fi
  quietly "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  quietly "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
  ACTIONS+=("apt-get installed ${missing[*]}")
}

# --- system packages -------------------------------------------------------------------
packages=(${SYSTEM_PACKAGES[@]+"${SYSTEM_PACKAGES[@]}"})
[[ $DEV == 1 ]] && packages+=("${DEV_PACKAGES[@]}")
PYTHON=""
if ! venv_ok; then
  PYTHON="$(find_python)" || packages+=("${PYTHON_PACKAGES[@]}")
fi
if ((${#packages[@]})); then
  if command -v dpkg-query >/dev/null 2>&1; then
    install_debs "${packages[@]}"
  elif [[ -z $PYTHON ]] && ! venv_ok; then
    echo "bootstrap: no Python >= 3.11 with venv support found (tried" \
      "${PYTHON_CANDIDATES[*]}) and this is not a Debian system; install one first." >&2
    exit 1
  fi
fi

# --- virtualenv ------------------------------------------------------------------------
if ! venv_ok; then
  if [[ -z $PYTHON ]]; then
    PYTHON="$(find_python)" || {
      echo "bootstrap: no Python >= 3.11 with venv support found (tried" \
        "${PYTHON_CANDIDATES[*]})" >&2
      exit 1
    }
  fi
  if [[ -e $VENV ]]; then
    rm -rf "$VENV"
    ACTIONS+=("replaced broken .venv")
  fi
  quietly "$PYTHON" -m venv "$VENV"
  ACTIONS+=("created .venv with $("$VENV/bin/python" -c 'import platform; print(platform.python_version())')")
fi

# --- project install -------------------------------------------------------------------
stamp_ok() {
  [[ -f $STAMP && $STAMP -nt pyproject.toml ]] || return 1
  local recorded
  recorded="$(sed -n 's/^extras=//p' "$STAMP")"
  # A dev install is a superset of the plain one, so it satisfies a plain request too.
  [[ $recorded == "$EXTRAS" || -z $EXTRAS ]]
}

if ! stamp_ok; then
  target="."
  [[ -n $EXTRAS ]] && target=".[$EXTRAS]"
  quietly "$VENV/bin/python" -m pip install --quiet -e "$target"
  printf 'extras=%s\n' "$EXTRAS" >"$STAMP"
  ACTIONS+=("pip installed -e '$target'")
fi

if ((${#ACTIONS[@]})); then
  summary="$(printf '%s; ' "${ACTIONS[@]}")"
  echo "bootstrap: ${summary%; }"
else
  echo "bootstrap: up to date (.venv, extras: ${EXTRAS:-none}; nothing installed)"
fi
