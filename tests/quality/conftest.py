"""Fixtures of the quality tests: one local Spark session per run (the backends are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    """One local Spark session (UTC, no web UI) shared by the Spark tests."""
    from pyspark.sql import SparkSession  # noqa: PLC0415 - only the Spark tests need it

    session = (
        SparkSession.builder.master("local[2]")
        .appName("kwartier-quality-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    yield session
    session.stop()
