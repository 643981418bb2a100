#!/usr/bin/env bash
# The main job on embedded defaults (SQLite registry, local Parquet store, DuckDB):
# simulate a region, ingest it, validate and estimate, and print the quality report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/kwartier demo "$@"
