"""Benchmark of the market's bulk insert on SQLite (issue 3): ``executemany`` against one statement that
reads the rows from a JSON array (``json_each``), alone and beside a thread that runs Python.

``python -m bench.bulk_sqlite [--rows 5000]``

Why: the market's writer thread inserts while the state machines run Python on the main thread.
``executemany`` takes the GIL back after each row and waits for the running thread to hand it over (the
interpreter's switch interval, 5 ms); the JSON statement needs the GIL only to start. The rows are
register facts of 7 text columns into an in-memory table with an index, as the registry's.
"""

from __future__ import annotations

import argparse
import sqlite3
import threading
import time
from collections.abc import Callable

from kwartier.market.bulk import json_array

COLUMNS = ("ean", "attribute", "value", "valid_from", "recorded_at", "process_id", "source")


def _table() -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:", check_same_thread=False)
    connection.execute(f"CREATE TABLE facts (id INTEGER PRIMARY KEY, {', '.join(COLUMNS)})")
    connection.execute("CREATE INDEX facts_ean ON facts (ean, attribute)")
    return connection


def _rows(count: int) -> list[tuple[str, ...]]:
    return [
        (
            f"54144883{n:010d}",
            "supplier",
            '"5414499000017"',
            "2026-03-29",
            "2026-03-29 01:30:00",
            f"p{n}",
            "switch",
        )
        for n in range(count)
    ]


def _executemany(connection: sqlite3.Connection, rows: list[tuple[str, ...]]) -> None:
    marks = ", ".join("?" for _ in COLUMNS)
    connection.executemany(f"INSERT INTO facts ({', '.join(COLUMNS)}) VALUES ({marks})", rows)


def _json(connection: sqlite3.Connection, rows: list[tuple[str, ...]]) -> None:
    values = ", ".join(f"value ->> {position}" for position in range(len(COLUMNS)))
    statement = f"INSERT INTO facts ({', '.join(COLUMNS)}) SELECT {values} FROM json_each(?) ORDER BY key"
    connection.execute(statement, (json_array(rows),))


def _timed(
    insert: Callable[[sqlite3.Connection, list[tuple[str, ...]]], None], rows: list[tuple[str, ...]]
) -> float:
    connection = _table()
    started = time.perf_counter()
    insert(connection, rows)
    elapsed = time.perf_counter() - started
    assert connection.execute("SELECT count(*) FROM facts").fetchone()[0] == len(rows)
    connection.close()
    return elapsed


def _spin(stop: threading.Event) -> None:
    """Run Python until ``stop`` is set."""
    count = 0
    while not stop.is_set():
        count += 1


def main() -> None:
    """Time both inserts alone, then beside a busy Python thread; print rows per second."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=5_000)
    rows = _rows(parser.parse_args().rows)
    for busy in (False, True):
        stop = threading.Event()
        if busy:
            threading.Thread(target=_spin, args=(stop,), daemon=True).start()
        for name, insert in (("executemany", _executemany), ("json_each", _json)):
            elapsed = _timed(insert, rows)
            beside = "beside a busy thread" if busy else "alone"
            print(f"{name:12} {beside:21} {len(rows) / elapsed:12,.0f} rows/s  ({elapsed:.3f} s)", flush=True)
        stop.set()


if __name__ == "__main__":
    main()
