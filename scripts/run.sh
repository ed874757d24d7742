#!/usr/bin/env bash
# Install the app and start it on http://127.0.0.1:8501 (embedded DuckDB catalog and SQLite saved scenarios;
# nothing else to install). Set LLMCP_DATABASE_URL to keep saved scenarios in PostgreSQL instead.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/_venv.sh
. scripts/_venv.sh
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
exec .venv/bin/python -m streamlit run app.py --server.address 127.0.0.1 --server.headless true "$@"
