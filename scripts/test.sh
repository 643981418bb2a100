#!/usr/bin/env bash
# The test command: sets up .venv, then ruff, mypy (strict) and pytest, including the registry tests
# against the local PostgreSQL server and the engine-equivalence tests on local PySpark.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy
.venv/bin/pytest "$@"
