"""The engines a batch calculation runs on: one Ibis expression, DuckDB in-process or PySpark.

Calculations (validation, estimation, quality, and later allocation, sharing, peaks) are written once
as functions from Ibis tables to an Ibis table. This module opens a backend for an
:class:`~kwartier.config.EngineName` and moves Arrow tables in and out of it, so that a test can run the same
expression on both engines and compare. Rounding is integer arithmetic everywhere (Wh), so both
engines give identical results.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

from kwartier.config import EngineName

_names = itertools.count()
DUCKDB_MEMORY_LIMIT = "4GB"  # an in-process calculation spills to disk beyond this, never thrashes the host


def connect(engine: EngineName, *, duckdb_connection: Any = None, spark_session: Any = None) -> Any:
    """Open an Ibis backend: DuckDB (in memory, or on ``duckdb_connection``) or PySpark (local by default)."""
    if engine is EngineName.DUCKDB:
        if duckdb_connection is not None:
            return ibis.duckdb.from_connection(duckdb_connection)
        backend = ibis.duckdb.connect()
        backend.raw_sql(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
        backend.raw_sql("SET TimeZone = 'UTC'")
        spill = Path(tempfile.gettempdir()) / "kwartier-duckdb"
        backend.raw_sql(f"SET temp_directory = '{spill}'")
        return backend
    return ibis.pyspark.connect(spark_session or local_spark_session())


@contextmanager
def without_optimizers(connection: Any, *names: str) -> Iterator[None]:
    """Run a block on the DuckDB ``connection`` with its optimizers ``names`` disabled as well (see
    ``duckdb_optimizers()``); the setting before is restored afterwards. Callers say why each one misleads
    their query."""
    before = connection.execute("SELECT current_setting('disabled_optimizers')").fetchone()[0]
    current = [name for name in before.split(",") if name]
    disabled = current + [name for name in names if name not in current]
    connection.execute(f"SET disabled_optimizers = '{','.join(disabled)}'")
    try:
        yield
    finally:
        connection.execute(f"SET disabled_optimizers = '{before}'")


def local_spark_session() -> Any:
    """A local PySpark session in UTC with the web UI off (tests, laptops)."""
    from pyspark.sql import SparkSession  # noqa: PLC0415 - PySpark is an optional extra

    return (
        SparkSession.builder.master("local[2]")
        .appName("kwartier")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )


def load(backend: Any, table: pa.Table, name: str | None = None) -> Any:
    """Register an Arrow table in ``backend`` and return it as an Ibis table."""
    label = name or f"kwartier_input_{next(_names)}"
    if backend.name == "pyspark":
        session = backend._session  # Ibis exposes no public handle for temp views
        frame = session.createDataFrame(table.to_pandas(), schema=_spark_schema(table.schema))
        frame.createOrReplaceTempView(label)
        return backend.table(label)
    return backend.create_table(label, table, temp=True, overwrite=True)


def _spark_schema(schema: pa.Schema) -> Any:
    """The Spark schema of an Arrow schema (so that empty tables and nulls keep their types)."""
    from pyspark.sql import types as spark_types  # noqa: PLC0415

    def spark_type(arrow_type: pa.DataType) -> Any:
        if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
            return spark_types.StringType()
        if pa.types.is_int64(arrow_type):
            return spark_types.LongType()
        if pa.types.is_int32(arrow_type):
            return spark_types.IntegerType()
        if pa.types.is_int16(arrow_type):
            return spark_types.ShortType()
        if pa.types.is_float64(arrow_type):
            return spark_types.DoubleType()
        if pa.types.is_boolean(arrow_type):
            return spark_types.BooleanType()
        if pa.types.is_date32(arrow_type):
            return spark_types.DateType()
        if pa.types.is_timestamp(arrow_type):
            return spark_types.TimestampType()
        raise TypeError(f"no Spark type for {arrow_type}")

    return spark_types.StructType(
        [spark_types.StructField(f.name, spark_type(f.type), nullable=True) for f in schema]
    )


def to_arrow(expr: Any, sort_by: list[str] | None = None) -> pa.Table:
    """Execute ``expr`` and return the result as Arrow, optionally sorted (engines differ in row order)."""
    result: pa.Table = _utc_timestamps(expr.to_pyarrow())
    return result.sort_by([(column, "ascending") for column in sort_by]) if sort_by else result


def _utc_timestamps(table: pa.Table) -> pa.Table:
    """Mark naive timestamps as UTC (Spark returns them naive; its session time zone is UTC)."""
    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is None:
            utc = pa.timestamp("us", tz="UTC")
            column = table.column(index).cast(pa.timestamp("us")).cast(utc)
            table = table.set_column(index, pa.field(field.name, utc), column)
    return table
