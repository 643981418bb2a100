"""Fixtures for the whole suite: where the real sample files are, and the two calculation engines."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from kwartier.config import EngineName
from kwartier.engine import connect, local_spark_session

REPO = Path(__file__).resolve().parents[1]


def find_samples() -> Path:
    """The shared sample folder: ``KWARTIER_SAMPLES``, else ``../shared/samples`` beside the checkout."""
    configured = os.environ.get("KWARTIER_SAMPLES")
    candidates = [Path(configured)] if configured else [REPO.parent / "shared" / "samples"]
    candidates.append(Path("/work/shared/samples"))
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"the real sample files are missing (looked in {', '.join(map(str, candidates))}); "
        "set KWARTIER_SAMPLES to the shared samples folder"
    )


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """The real sample files (Mijn Fluvius exports, P1 telegrams); a missing folder fails the run."""
    return find_samples()


@pytest.fixture
def duckdb_backend() -> Any:
    """An in-memory DuckDB Ibis backend, fresh per test."""
    return connect(EngineName.DUCKDB)


@pytest.fixture(scope="session")
def spark_backend() -> Any:
    """A local PySpark backend in UTC with the web UI off, shared by the whole run."""
    return connect(EngineName.SPARK, spark_session=local_spark_session())
