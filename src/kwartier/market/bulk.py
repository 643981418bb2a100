"""Bulk writes of the market service: many rows per statement, inside the caller's transaction.

Rules:
- every value goes through the SQLAlchemy type processors of its column (UTC instants, dates, code lists
  checked against their enum), so a row is stored exactly as a Core insert would store it; only
  SQLAlchemy's per-row parameter bookkeeping is skipped;
- inserts: on SQLite one statement that reads every row from a single JSON array parameter
  (``json_each``), so SQLite works through all the rows without once taking Python's GIL (an
  ``executemany`` takes it back for every row and, while another thread runs Python, waits up to the
  interpreter's 5 ms switch interval each time); ``COPY … FROM STDIN`` in binary form on PostgreSQL
  (each value in its column's type, as the database names it: 300,000 register facts cost the client
  0.09 s against 0.48 s in text form, and the server parses no text);
- updates by primary key (the two projections that hold a current state: market processes and
  reservations): on SQLite one ``UPDATE … FROM json_each(…)`` the same way; one ``executemany`` on
  PostgreSQL (pipelined by psycopg);
- JSON carries text, integers and nulls exactly; a table with a floating-point or binary column is
  written with ``executemany`` on SQLite instead;
- the statements run in the order given, on one background thread (:class:`Writer`), on the session's
  own connection: nothing here commits, the rows belong to the transaction the session is in;
- or they are only built (:class:`Statements`: SQL text and bound rows for an ``executemany``), to be
  run in that order by another process, which then spends no time on building them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.orm import Session

Row = Sequence[Any]
_Processors = list[tuple[int, Callable[[Any], Any], str]]
_PROCESSORS: dict[tuple[str, str, tuple[str, ...]], _Processors] = {}
Known = dict[str, dict[Any, Any]]
"""Bound values per column type (see :func:`_bound`)."""


def _processors(dialect: sa.Dialect, table: sa.Table, columns: tuple[str, ...]) -> _Processors:
    """(position, bind processor, column type) of each of ``columns`` that has a processor on
    ``dialect``; the type is named by its ``repr``, which includes an enumeration's values."""
    key = (dialect.name, table.name, columns)
    if key not in _PROCESSORS:
        found: _Processors = []
        for position, name in enumerate(columns):
            column_type = table.columns[name].type
            processor = column_type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                found.append((position, processor, repr(column_type)))
        _PROCESSORS[key] = found
    return _PROCESSORS[key]


def _bound(rows: Sequence[Row], processors: _Processors, known: Known) -> Sequence[Row]:
    """``rows`` with every value put through its column's processor. A processor is a pure function of
    the value and the rows of a transaction share few distinct instants, dates and codes (a message's
    instant is in its facts, events, outbox messages and inbox row), so each distinct value of a column
    type is processed once per transaction: ``known`` keeps the results per column type."""
    if not processors:
        return rows
    columns = list(zip(*rows, strict=True))
    for position, processor, kind in processors:
        column = columns[position]
        processed = known.setdefault(kind, {})
        for value in set(column).difference(processed):
            processed[value] = processor(value)
        columns[position] = tuple(map(processed.__getitem__, column))
    return list(zip(*columns, strict=True))


def _driver(session: Session) -> tuple[sa.Dialect, Any]:
    connection = session.connection()
    return connection.dialect, connection.connection.driver_connection


class Writer:
    """The bulk statements of one transaction, run in the order given on a background thread while the
    caller builds the next rows.

    The drivers let other Python code run while the database works (sqlite3 during each step of an
    ``executemany``, psycopg while it waits for the server), so building rows and writing them overlap
    on two cores. The session must not be used until :meth:`wait` (or leaving the ``with`` block) has
    returned; :meth:`wait` re-raises the first failure, and statements after a failure are not run."""

    def __init__(self, session: Session) -> None:
        self._dialect, self._driver = _driver(session)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kwartier-bulk")
        self._pending: list[Future[None]] = []
        self._failed = False
        self._known: Known = {}
        self._types: dict[str, dict[str, int]] = {}

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: object, trace: object) -> None:
        if kind is None:
            self.wait()
        else:  # the caller failed: let the statement under way finish, run no other, keep its error
            self._pool.shutdown(wait=True, cancel_futures=True)

    def insert(self, table: sa.Table, columns: Sequence[str], rows: Sequence[Row]) -> None:
        """Append ``rows`` (values in the order of ``columns``) to ``table``."""
        if rows:
            self._pending.append(self._pool.submit(self._run, self._insert, table, tuple(columns), rows))

    def update(
        self, table: sa.Table, columns: Sequence[str], key: Sequence[str], rows: Sequence[Row]
    ) -> None:
        """Set ``columns`` of the rows of ``table`` identified by ``key``; each row gives the values of
        ``columns`` then of ``key``."""
        if rows:
            names = (*columns, *key)
            self._pending.append(self._pool.submit(self._run, self._update, table, names, rows, len(key)))

    def wait(self) -> None:
        """Wait until every statement ran; re-raise the first failure."""
        try:
            for pending in self._pending:
                pending.result()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, statement: Callable[..., None], *arguments: Any) -> None:
        if self._failed:
            return
        try:
            statement(*arguments)
        except BaseException:
            self._failed = True
            raise

    def _insert(self, table: sa.Table, names: tuple[str, ...], rows: Sequence[Row]) -> None:
        dialect = self._dialect
        if dialect.name != "postgresql":
            execute(self._driver, insert_statement(dialect, table, names, rows, self._known, one_array=True))
            return
        bound = _bound(rows, _processors(dialect, table, names), self._known)
        cursor = self._driver.cursor()
        try:
            types = self._column_types(cursor, table)
            sql = f"COPY {_target(dialect, table, names)} FROM STDIN (FORMAT BINARY)"
            with cursor.copy(sql) as copy:
                copy.set_types([types[name] for name in names])
                for row in bound:
                    copy.write_row(row)
        finally:
            cursor.close()

    def _column_types(self, cursor: Any, table: sa.Table) -> dict[str, int]:
        """The type (OID) of each column of ``table`` as the database holds it, asked once per writer: a
        binary ``COPY`` sends each value in the binary form of its column's own type."""
        if table.name not in self._types:
            cursor.execute(
                "SELECT attname, atttypid FROM pg_attribute"
                " WHERE attrelid = CAST(%s AS regclass) AND attnum > 0 AND NOT attisdropped",
                (table.name,),
            )
            self._types[table.name] = {name: int(oid) for name, oid in cursor.fetchall()}
        return self._types[table.name]

    def _update(self, table: sa.Table, names: tuple[str, ...], rows: Sequence[Row], keys: int) -> None:
        statement = update_statement(self._dialect, table, names, rows, keys, self._known, one_array=True)
        execute(self._driver, statement)


@dataclass(frozen=True)
class Statement:
    """A bulk statement with its parameter rows (one row, a JSON array, for SQLite's ``json_each``), ready
    for the driver's ``executemany``: plain strings and values, so it can be built in one process and run
    in another."""

    sql: str
    parameters: Sequence[Row]


def execute(driver_connection: Any, statement: Statement) -> None:
    """Run ``statement`` on a DB-API connection (inside its transaction)."""
    cursor = driver_connection.cursor()
    try:
        cursor.executemany(statement.sql, statement.parameters)
    finally:
        cursor.close()


def insert_statement(
    dialect: sa.Dialect,
    table: sa.Table,
    names: tuple[str, ...],
    rows: Sequence[Row],
    known: Known,
    *,
    one_array: bool,
) -> Statement:
    """The insert of ``rows`` (values in the order of ``names``) into ``table``, values bound (``known``:
    see :func:`_bound`); not PostgreSQL's ``COPY``. ``one_array``: on SQLite, all rows in one JSON array
    (see :func:`_one_array`)."""
    bound = _bound(rows, _processors(dialect, table, names), known)
    target = _target(dialect, table, names)
    if one_array and _one_array(dialect, table, names):
        values = ", ".join(f"value ->> {position}" for position in range(len(names)))
        sql = f"INSERT INTO {target} SELECT {values} FROM json_each(?) ORDER BY key"
        return Statement(sql, [(json_array(bound),)])
    marks = ", ".join(_marker(dialect) for _ in names)
    return Statement(f"INSERT INTO {target} VALUES ({marks})", bound)


def update_statement(
    dialect: sa.Dialect,
    table: sa.Table,
    names: tuple[str, ...],
    rows: Sequence[Row],
    keys: int,
    known: Known,
    *,
    one_array: bool,
) -> Statement:
    """The update of ``table`` setting the first columns of ``names`` on the rows identified by the last
    ``keys`` columns, one row of ``rows`` each, values bound (``known``: see :func:`_bound`);
    ``one_array``: as :func:`insert_statement`."""
    bound = _bound(rows, _processors(dialect, table, names), known)
    target = dialect.identifier_preparer.quote(table.name)
    columns = [dialect.identifier_preparer.quote(name) for name in names]
    parameters: Sequence[Row] = bound
    if one_array and _one_array(dialect, table, names):
        values = [f"row.value ->> {position}" for position in range(len(names))]
        # json_each has an id column too: the key columns are named with their table
        columns[-keys:] = [f"{target}.{column}" for column in columns[-keys:]]
        source, parameters = " FROM json_each(?) AS row", [(json_array(bound),)]
    else:
        values = [_marker(dialect)] * len(names)
        source = ""
    pairs = [f"{column} = {value}" for column, value in zip(columns, values, strict=True)]
    assignments, condition = ", ".join(pairs[:-keys]), " AND ".join(pairs[-keys:])
    # one parameter row (the JSON array) on SQLite, a row per update elsewhere
    return Statement(f"UPDATE {target} SET {assignments}{source} WHERE {condition}", parameters)


class Statements:
    """Bulk statements built now and run later, elsewhere (:func:`execute`, in order): what a
    :class:`Writer` would run, on a dialect without ``COPY`` (SQLite). Rows are kept as they are, for an
    ``executemany``: the process that runs the statements does nothing else meanwhile, so nothing waits
    for Python's GIL, and SQLite reads the rows faster than it parses them from JSON (at 200,000
    messages the writing process spent 5.0 s a chunk instead of 6.3 s)."""

    def __init__(self, dialect: sa.Dialect) -> None:
        self._dialect = dialect
        self._known: Known = {}
        self.built: list[Statement] = []

    def insert(self, table: sa.Table, columns: Sequence[str], rows: Sequence[Row]) -> None:
        """Append ``rows`` (values in the order of ``columns``) to ``table``."""
        if rows:
            statement = insert_statement(
                self._dialect, table, tuple(columns), rows, self._known, one_array=False
            )
            self.built.append(statement)

    def update(
        self, table: sa.Table, columns: Sequence[str], key: Sequence[str], rows: Sequence[Row]
    ) -> None:
        """Set ``columns`` of the rows of ``table`` identified by ``key`` (as :meth:`Writer.update`)."""
        if rows:
            names = (*columns, *key)
            statement = update_statement(
                self._dialect, table, names, rows, len(key), self._known, one_array=False
            )
            self.built.append(statement)


Sink = Writer | Statements
"""Where a transaction's bulk inserts and updates go: run now (:class:`Writer`) or built to be run later
(:class:`Statements`)."""


def _target(dialect: sa.Dialect, table: sa.Table, names: Sequence[str]) -> str:
    quote = dialect.identifier_preparer.quote
    return f"{quote(table.name)} ({', '.join(quote(name) for name in names)})"


def _marker(dialect: sa.Dialect) -> str:
    """The driver's positional parameter marker (``?`` for sqlite3, ``%s`` for psycopg)."""
    return "?" if dialect.paramstyle == "qmark" else "%s"


def _one_array(dialect: sa.Dialect, table: sa.Table, names: Sequence[str]) -> bool:
    """Whether the rows can go to SQLite as one JSON array (``json_each``): every one of ``names`` holds
    text, integers or nulls once bound, what a JSON array carries exactly (SQLite's JSON parser may round
    a float differently from Python's, and JSON has no bytes)."""
    return dialect.name == "sqlite" and not any(
        isinstance(table.columns[name].type, sa.Float | sa.Numeric | sa.LargeBinary) for name in names
    )


def json_array(rows: Sequence[Row]) -> str:
    """The rows as one JSON array of arrays (UTF-8 text as is: SQLite reads it as text), by orjson."""
    return orjson.dumps(rows).decode()
