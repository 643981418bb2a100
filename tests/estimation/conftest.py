"""Backends for the estimation tests: a fresh DuckDB per test, one local Spark session per run."""

from __future__ import annotations

from typing import Any

import pytest

from kwartier.config import EngineName
from kwartier.engine import connect, local_spark_session


@pytest.fixture
def duckdb_backend() -> Any:
    """An in-memory DuckDB backend."""
    return connect(EngineName.DUCKDB)


@pytest.fixture(scope="session")
def spark_backend() -> Any:
    """A local PySpark backend in UTC with the web UI off, shared by the whole run."""
    return connect(EngineName.SPARK, spark_session=local_spark_session())
