"""Compaction: one sorted file per leaf, every version kept, every query unchanged, crash-safe."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest

from kwartier.store import layout
from kwartier.store.manifest import CompactionManifest
from kwartier.store.store import MeterStore

from .conftest import T0, commit_table, quarters, readings

T1 = T0 + timedelta(days=2)


def _fill(store: MeterStore, aps: list[str]) -> None:
    starts = quarters(T0 - timedelta(hours=2), 16)  # spans January and February (Brussels)
    for day in range(3):
        batch = f"b{day}"
        status = "rejected" if day == 2 else "measured"
        table = readings(
            aps, starts, batch=batch, recorded_at=T1 + timedelta(days=day), value=10 * day, status=status
        )
        commit_table(store, batch, table)


def _snapshot(store: MeterStore) -> dict[str, list[tuple[object, ...]]]:
    con = duckdb.connect()
    order = ", ".join(layout.READINGS.columns)
    as_of = T1 + timedelta(hours=1)
    return {
        "all": con.sql(f"SELECT * FROM ({store.scan_sql('readings')}) ORDER BY {order}").fetchall(),
        "current": store.current_readings(con).order(order).fetchall(),
        "as_of": store.current_readings(con, as_of=as_of).order(order).fetchall(),
    }


def test_compaction_keeps_every_query_identical(store: MeterStore, aps: list[str]) -> None:
    _fill(store, aps)
    before = _snapshot(store)
    files_before = store.files("readings")
    info = store.compact("readings")
    files_after = store.files("readings")
    assert info.files_written == len(files_after) < len(files_before)
    assert info.files_replaced == len(files_before)
    assert not any(p.exists() for p in files_before)
    assert _snapshot(store) == before
    assert _snapshot(MeterStore(store.root)) == before
    assert before["as_of"] != before["current"]  # the as-of query does see another state
    for path in files_after:
        assert path.name.startswith("compaction-")
    assert store.compact("readings").files_written == 0  # nothing left to merge


def test_compaction_of_some_months_only(store: MeterStore, aps: list[str]) -> None:
    _fill(store, aps)
    info = store.compact("readings", months={"2026-01"})
    assert info.files_written == len(store.files("readings", months={"2026-01"}))
    assert len(store.files("readings", months={"2026-02"})) == 3 * len(
        store.files("readings", months={"2026-01"})
    )


def test_compaction_is_rolled_forward_after_a_crash(
    store: MeterStore, aps: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(store, aps)
    before = _snapshot(store)

    def crash(self: MeterStore, compaction: CompactionManifest) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(MeterStore, "_publish_compaction", crash)
    with pytest.raises(OSError, match="power cut"):
        store.compact("readings")
    monkeypatch.undo()
    reopened = MeterStore(store.root)
    assert not list((store.root / "_staging").iterdir())
    assert _snapshot(reopened) == before
    assert any(p.name.startswith("compaction-") for p in reopened.files("readings"))
