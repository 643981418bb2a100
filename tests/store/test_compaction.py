"""Compaction: per leaf one sorted file of current values and one of history, every version kept, every
query unchanged, crash-safe."""

from __future__ import annotations

import json
from datetime import timedelta

import duckdb
import pyarrow.parquet as pq
import pytest

from kwartier.store import layout
from kwartier.store.manifest import CompactionManifest
from kwartier.store.store import EVERY_VERSION, MeterStore
from kwartier.store.versions import current_readings_arrow

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
    compacted = store.files("readings", months={"2026-01"})
    assert info.files_written == len(compacted)
    assert len(store.files("readings", months={"2026-02"})) == 3 * len({p.parent for p in compacted})


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


def test_compaction_puts_the_current_values_apart_from_their_history(
    store: MeterStore, aps: list[str]
) -> None:
    _fill(store, aps)  # b0 measured, b1 supersedes it, b2 rejected: one current version per key, two others
    every = pq.read_table(store.files("readings")).select(layout.READINGS.columns)
    expected = current_readings_arrow(every, None)
    store.compact("readings")
    current_files = store.files("readings", current_at=EVERY_VERSION)
    history_files = sorted(set(store.files("readings")) - set(current_files))
    assert history_files and all(p.name.endswith("-history.parquet") for p in history_files)
    order = [(name, "ascending") for name in layout.READINGS.sort_keys]
    current = pq.read_table(current_files).select(layout.READINGS.columns).sort_by(order)
    assert current.equals(expected.sort_by(order))
    assert pq.read_table(history_files).num_rows == every.num_rows - expected.num_rows
    # before the latest recording of the leaf the history can hold current values: it is read then
    assert store.files("readings", current_at=T1 + timedelta(days=2)) == current_files
    assert store.files("readings", current_at=T1 + timedelta(days=1)) == store.files("readings")


def test_batches_and_current_files_hold_one_version_per_value_and_history_does_not(
    store: MeterStore, aps: list[str]
) -> None:
    _fill(store, aps)  # three batches: one version per value in each
    assert all(store.holds_one_version(path) for path in store.files("readings"))
    store.compact("readings")
    current = set(store.files("readings", current_at=EVERY_VERSION))
    for reader in (store, MeterStore(store.root)):
        assert {p: reader.holds_one_version(p) for p in reader.files("readings")} == {
            p: p in current for p in store.files("readings")
        }
    # a compaction recorded before the versions were split: its output holds every version
    for path in (store.root / "_compactions").glob("*.json"):
        data = json.loads(path.read_text())
        del data["split"]
        path.write_text(json.dumps(data))
    assert not any(MeterStore(store.root).holds_one_version(p) for p in store.files("readings"))


def test_a_correction_after_compaction_is_merged_with_the_current_values(
    store: MeterStore, aps: list[str]
) -> None:
    _fill(store, aps)
    store.compact("readings")
    starts = quarters(T0 - timedelta(hours=2), 16)
    commit_table(
        store, "b3", readings(aps[:2], starts[:3], batch="b3", recorded_at=T1 + timedelta(days=5), value=7)
    )
    before = _snapshot(store)
    info = store.compact("readings")
    assert info.files_written == 2 * len(info.compactions)  # only the leaves of the correction
    assert _snapshot(store) == before
    assert _snapshot(MeterStore(store.root)) == before
    con = duckdb.connect()
    corrected = con.sql(
        f"SELECT count(*) FROM ({store.scan_sql('readings', current_at=EVERY_VERSION)}) WHERE batch = 'b3'"
    )
    assert corrected.fetchall() == [(2 * 3,)]
