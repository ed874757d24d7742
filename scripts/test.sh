#!/usr/bin/env bash
# Install everything the test suite needs, then run the whole suite (browser tests included).
# Idempotent: re-running skips what is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/_venv.sh
. scripts/_venv.sh
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"
if [ ! -x /usr/bin/chromium ]; then
  echo "Installing Debian's chromium for the browser tests"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium >/dev/null
fi
# The saved-scenario store tests start a throwaway PostgreSQL server (initdb/pg_ctl) in a temp dir.
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "Installing Debian's postgresql for the saved-scenario store tests"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq postgresql >/dev/null
fi
export PYTHONHASHSEED=0
# Code shape first (fast): lint with cyclomatic complexity <= 15 (C901, pyproject.toml), and types.
echo "== ruff (lint, complexity <= 15)"; .venv/bin/ruff check .
echo "== mypy"; .venv/bin/mypy
exec .venv/bin/python -m pytest -q "$@"
