"""Moving many rows between the registry and Arrow tables without an ORM object per row.

Rules:
- reading: one SQL statement, run on the session's connection (Core: the ORM's ``Session.execute``
  buffers every row before the first chunk and builds ORM rows, a million access points' limits took
  about 2.5 s longer), fetched in chunks of :data:`FETCH_ROWS` rows and turned column by column into
  Arrow arrays of the given schema;
- writing: the values of each column go through the column type's own bind conversion (SQLAlchemy's,
  per dialect, so a row written here reads back exactly like one written by the ORM), then into
  PostgreSQL with ``COPY … FROM STDIN`` and into other databases with one ``executemany`` per chunk.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.orm import Session

FETCH_ROWS = 100_000
INSERT_CHUNK = 100_000


def fetch_arrow(session: Session, statement: sa.Executable, schema: pa.Schema) -> pa.Table:
    """The rows of ``statement`` as an Arrow table of ``schema`` (columns in select order)."""
    result = session.connection().execute(statement)
    batches = []
    for rows in result.partitions(FETCH_ROWS):
        columns = list(zip(*rows, strict=True))
        arrays = [pa.array(values, type=field.type) for values, field in zip(columns, schema, strict=True)]
        batches.append(pa.RecordBatch.from_arrays(arrays, schema=schema))
    return pa.Table.from_batches(batches, schema=schema)


def insert_arrow(session: Session, table: sa.Table, data: pa.Table) -> int:
    """Insert the rows of ``data`` (its column names are ``table``'s) in the session's transaction."""
    if data.num_rows == 0:
        return 0
    connection = session.connection()
    dialect = connection.dialect
    names = data.column_names
    columns = []
    for name in names:
        values = data.column(name).to_pylist()
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        columns.append(values if process is None else [process(value) for value in values])
    rows: list[tuple[Any, ...]] = list(zip(*columns, strict=True))
    quoted = ", ".join(dialect.identifier_preparer.quote(name) for name in names)
    target = dialect.identifier_preparer.format_table(table)
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {target} ({quoted}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return len(rows)
    marker = {"qmark": "?", "format": "%s", "pyformat": "%s"}[dialect.paramstyle]
    sql = f"INSERT INTO {target} ({quoted}) VALUES ({', '.join([marker] * len(names))})"
    for start in range(0, len(rows), INSERT_CHUNK):
        connection.exec_driver_sql(sql, rows[start : start + INSERT_CHUNK])
    return len(rows)
