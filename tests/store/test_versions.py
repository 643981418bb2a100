"""Current values "as known at": later version wins, ties go to the greatest batch, rejected never counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa
import pytest

from kwartier.store.store import MeterStore
from kwartier.store.versions import current_readings_arrow, current_readings_sql

from .conftest import T0, commit_table, quarters, readings

T1 = datetime(2026, 2, 2, 4, 0, tzinfo=UTC)
T2 = T1 + timedelta(days=1)
T3 = T2 + timedelta(days=1)
STARTS = quarters(T0, 4)
END = T0 + timedelta(days=1)


@pytest.fixture
def versioned(store: MeterStore, aps: list[str]) -> MeterStore:
    """b1 (T1): 100+i for 4 quarters; b2 (T2): 200+i for q0, q1; b4 (T2, tie): 300 for q1;
    b3 (T3): rejected 999 for q0; rejected-only ap: one rejected version."""
    ap = aps[0]
    commit_table(store, "b1", readings([ap], STARTS, batch="b1", recorded_at=T1, value=100))
    commit_table(store, "b2", readings([ap], STARTS[:2], batch="b2", recorded_at=T2, value=200))
    commit_table(store, "b4", readings([ap], STARTS[1:2], batch="b4", recorded_at=T2, value=300))
    commit_table(
        store, "b3", readings([ap], STARTS[:1], batch="b3", recorded_at=T3, value=999, status="rejected")
    )
    commit_table(store, "b5", readings([aps[1]], STARTS[:1], batch="b5", recorded_at=T3, status="rejected"))
    return store


def _values(table: pa.Table) -> list[tuple[datetime, int, str]]:
    return list(
        zip(
            table.column("start").to_pylist(),
            table.column("value").to_pylist(),
            table.column("batch").to_pylist(),
            strict=True,
        )
    )


EXPECTED = {
    None: [(STARTS[0], 200, "b2"), (STARTS[1], 300, "b4"), (STARTS[2], 102, "b1"), (STARTS[3], 103, "b1")],
    T3 + timedelta(days=9): [
        (STARTS[0], 200, "b2"),
        (STARTS[1], 300, "b4"),
        (STARTS[2], 102, "b1"),
        (STARTS[3], 103, "b1"),
    ],
    T2: [(STARTS[0], 200, "b2"), (STARTS[1], 300, "b4"), (STARTS[2], 102, "b1"), (STARTS[3], 103, "b1")],
    T2 - timedelta(microseconds=1): [(s, 100 + i, "b1") for i, s in enumerate(STARTS)],
    T1 - timedelta(microseconds=1): [],
}


@pytest.mark.parametrize("as_of", list(EXPECTED))
def test_current_values_by_hand(versioned: MeterStore, aps: list[str], as_of: datetime | None) -> None:
    con = duckdb.connect()
    sql = versioned.current_readings(con, ap=aps[0], start=T0, end=END, as_of=as_of).order("start")
    assert _values(sql.to_arrow_table()) == EXPECTED[as_of]
    assert _values(versioned.read_access_point(aps[0], T0, END, as_of=as_of)) == EXPECTED[as_of]


def test_rejected_only_key_has_no_current_value(versioned: MeterStore, aps: list[str]) -> None:
    assert versioned.read_access_point(aps[1], T0, END).num_rows == 0
    con = duckdb.connect()
    assert versioned.current_readings(con, ap=aps[1]).count("*").fetchall() == [(0,)]
    all_versions = versioned.relation(con, "readings").filter("status = 'rejected'").count("*").fetchall()
    assert all_versions == [(2,)]  # rejected versions stay for audit


def test_range_is_half_open(versioned: MeterStore, aps: list[str]) -> None:
    table = versioned.read_access_point(aps[0], STARTS[1], STARTS[3])
    assert table.column("start").to_pylist() == STARTS[1:3]


def test_sql_and_arrow_implementations_agree(versioned: MeterStore) -> None:
    con = duckdb.connect()
    versions = versioned.relation(con, "readings").to_arrow_table()
    for as_of in [*[a for a in EXPECTED if a is not None], None]:
        con.register("v", versions)
        by_sql = con.sql(
            current_readings_sql("SELECT * FROM v", as_of) + " ORDER BY ap, channel, tariff, start"
        )
        by_arrow = current_readings_arrow(versions, as_of)
        assert by_sql.to_arrow_table().to_pylist() == by_arrow.to_pylist()


def test_current_readings_without_filters_covers_all_access_points(versioned: MeterStore) -> None:
    con = duckdb.connect()
    assert versioned.current_readings(con).count("*").fetchall() == [(4,)]
    assert versioned.current_readings(con, start=STARTS[2]).count("*").fetchall() == [(2,)]
