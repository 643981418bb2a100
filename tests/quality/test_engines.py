"""One calculation, two engines: DuckDB and PySpark give the same report."""

from __future__ import annotations

from typing import Any

import pytest

from kwartier.config import EngineName
from kwartier.engine import connect

from .builders import run
from .test_reference import AS_OF, DAYS, random_case


@pytest.mark.spark
def test_duckdb_and_spark_agree(spark_session: Any) -> None:
    versions, facts = random_case(7)
    on_duckdb = run(connect(EngineName.DUCKDB), versions, facts, DAYS, DAYS, AS_OF)
    on_spark = run(connect(EngineName.SPARK, spark_session=spark_session), versions, facts, DAYS, DAYS, AS_OF)
    assert on_duckdb.electricity.timeliness.measured > 0
    assert on_duckdb.gas.availability.access_point_days > 0
    assert on_spark == on_duckdb
    assert on_spark.as_dict() == on_duckdb.as_dict()
