#!/usr/bin/env bash
# The test command: sets up .venv, then ruff, mypy (strict) and pytest, including the registry tests
# against the local PostgreSQL server, the engine-equivalence tests on local PySpark, and the portal's
# browser tests in headless Chromium (installed from Debian's packages when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/browser.sh  # Debian's Chromium for the portal's browser tests
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy
.venv/bin/pytest "$@"
