"""A head-end interval file read on its own, without the registry: for the household and supplier tools
that work straight from a file (``kwartier peaks FILE``), and the line finder the ingest shares.

The checks are those of :mod:`kwartier.capture.headend` except ``C09-UNKNOWN-ACCESS-POINT``, which needs
the registry: every EAN with a valid check digit is accepted.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from kwartier.capture.headend import (
    INTERVAL_HEADER,
    ean_check_sql,
    instant_sql,
    interval_reason_sql,
    quantity_sql,
    read_csv_sql,
)
from kwartier.capture.quarantine import Rejection
from kwartier.store.versions import timestamptz_literal


def sql_path(path: Path) -> str:
    """A file path as a DuckDB string literal."""
    return "'" + str(path).replace("'", "''") + "'"


def find_lines(path: Path, raws: list[str]) -> list[int]:
    """1-based line numbers of the rows whose text is ``raws`` (in that order; repeated texts advance).

    Used only when a check refused rows, so that the quarantine names their line: DuckDB reads the file
    once more as whole lines, in bounded memory and on every core (with ``preserve_insertion_order`` a
    parallel scan keeps the file's order, so ``row_number() OVER ()`` is the line), and keeps the lines
    that were refused.
    """
    if not raws:
        return []
    con = duckdb.connect()
    try:
        con.execute("SET preserve_insertion_order = true")
        con.register("wanted", pa.table({"raw": pa.array(sorted(set(raws)), pa.string())}))
        hits = con.execute(
            f"""SELECT text, line FROM (
                SELECT row_number() OVER () + 1 AS line, column0 AS text
                FROM read_csv({sql_path(path)}, header = true, delim = '\x01', quote = '', escape = '',
                              columns = {{'column0': 'VARCHAR'}}, parallel = true, auto_detect = false,
                              strict_mode = false, null_padding = true)
            ) WHERE text IN (SELECT raw FROM wanted) ORDER BY line"""
        ).fetchall()
    finally:
        con.close()
    queues: dict[str, list[int]] = {}
    for text, line in hits:
        queues.setdefault(str(text), []).append(int(line))
    return [queues[raw].pop(0) if queues.get(raw) else 0 for raw in raws]


def read_headend_intervals(path: Path, moment: datetime) -> tuple[pa.Table, list[Rejection]]:
    """The valid interval rows of a head-end file as of ``moment`` (columns ``ean``, ``channel``,
    ``tariff``, ``start`` [UTC], ``minutes``, ``value`` [Wh or dm³], ``source_status``), and the rows
    refused (file, line, field, code, reason), sorted by line."""
    columns = INTERVAL_HEADER.split(",")
    con = duckdb.connect()
    try:
        con.execute("SET memory_limit = '2GB'")
        con.execute("SET TimeZone = 'UTC'")
        source = read_csv_sql(path, columns, "interval_rejects")
        raw = "concat_ws(',', " + ", ".join(f"coalesce({c}, '')" for c in columns) + ")"
        ean_reason = "'C01-EAN|ean|not 18 digits with a valid GS1 check digit'"
        con.execute(
            f"""CREATE TEMP TABLE checked AS
            WITH typed AS (
                SELECT r.*, {instant_sql("r.start")} AS start_utc,
                       {quantity_sql("r.value", "r.unit")} AS quantity
                FROM {source} r
            )
            SELECT *, CASE WHEN NOT coalesce({ean_check_sql("ean")}, false) THEN {ean_reason}
                           ELSE {interval_reason_sql(timestamptz_literal(moment))} END AS reason,
                   {raw} AS raw
            FROM typed"""
        )
        valid = con.sql(
            "SELECT ean, channel, tariff, start_utc AS start, CAST(minutes AS SMALLINT) AS minutes, "
            "quantity AS value, status AS source_status FROM checked WHERE reason IS NULL"
        ).to_arrow_table()
        syntax = con.execute(
            "SELECT line, arg_min(column_name, column_idx), arg_min(error_message, column_idx), "
            "any_value(csv_line) FROM interval_rejects GROUP BY line ORDER BY line"
        ).fetchall()
        refused = con.execute("SELECT reason, raw FROM checked WHERE reason IS NOT NULL").fetchall()
    finally:
        con.close()
    file = str(path)
    rejections = [
        Rejection(file, int(line), str(column or ""), str(message), "C00-SYNTAX", str(text or ""))
        for line, column, message, text in syntax
    ]
    lines = find_lines(path, [str(text) for _, text in refused])
    for (reason, text), line in zip(refused, lines, strict=True):
        code, column, why = str(reason).split("|", 2)
        rejections.append(Rejection(file, line, column, why, code, str(text)))
    return valid, sorted(rejections, key=lambda r: r.line)
