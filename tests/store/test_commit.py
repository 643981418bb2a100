"""Atomic commit, duplicate batches, recovery after a crash, and what readers see."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kwartier.store import layout
from kwartier.store.manifest import BatchManifest
from kwartier.store.pseudonym import bucket_of
from kwartier.store.store import BatchAlreadyCommitted, BatchInProgress, MeterStore, StagingError, StoreError

from .conftest import T0, commit_table, quarters, readings


def _count(store: MeterStore, dataset: str = "readings") -> int:
    con = duckdb.connect()
    return int(con.sql(f"SELECT count(*) FROM ({store.scan_sql(dataset)})").fetchall()[0][0])


def test_nothing_is_visible_before_the_commit_point(store: MeterStore, aps: list[str]) -> None:
    table = readings(aps, quarters(T0, 4), batch="b1", recorded_at=T0)
    staged = store.stage("b1")
    staged.write_table("readings", table)
    assert list(staged.path.rglob("*.parquet"))
    assert store.files("readings") == []
    assert not store.has_batch("b1")
    assert _count(store) == 0
    info = store.commit(staged, {"source": "test"})
    assert info.rows == {"readings": table.num_rows}
    assert sorted(info.files) == store.files("readings")
    assert _count(store) == table.num_rows
    assert not staged.path.exists()
    manifest = store.batch_manifest("b1")
    assert manifest.report == {"source": "test"}
    assert manifest.rows("readings") == table.num_rows
    assert store.committed_batches() == ["b1"]
    on_disk = json.loads((store.root / "_batches" / "b1.json").read_text())
    assert BatchManifest.from_json(on_disk) == manifest


def test_store_config_is_kept_from_the_first_open(tmp_path: Path) -> None:
    MeterStore(tmp_path / "s", buckets=8)
    assert MeterStore(tmp_path / "s", buckets=64).buckets == 8
    assert json.loads((tmp_path / "s" / "store.json").read_text())["buckets"] == 8


def test_duplicate_batch_is_refused(store: MeterStore, aps: list[str]) -> None:
    commit_table(store, "b1", readings(aps, quarters(T0, 2), batch="b1", recorded_at=T0))
    with pytest.raises(BatchAlreadyCommitted):
        store.stage("b1")
    assert MeterStore(store.root).has_batch("b1")


def test_one_writer_per_batch_and_recovery_spares_a_live_writer(store: MeterStore, aps: list[str]) -> None:
    staged = store.stage("b2")
    staged.write_table("readings", readings(aps, quarters(T0, 2), batch="b2", recorded_at=T0))
    other = MeterStore(store.root)  # runs recovery while b2 is being staged
    assert staged.path.exists()
    with pytest.raises(BatchInProgress):
        other.stage("b2")
    store.commit(staged, {})
    assert other.has_batch("b2")
    assert other.files("readings") == store.files("readings")
    with pytest.raises(StoreError):
        store.commit(staged, {})


def test_staging_without_manifest_is_discarded_on_open(store: MeterStore, aps: list[str]) -> None:
    staged = store.stage("lost")
    staged.write_table("readings", readings(aps, quarters(T0, 2), batch="lost", recorded_at=T0))
    staged._release()  # the writer dies: its lock goes, no manifest was written
    reopened = MeterStore(store.root)
    assert not staged.path.exists()
    assert not reopened.has_batch("lost")
    assert reopened.files("readings") == []
    assert not list(store.root.glob("readings/**/*.parquet"))


def test_batch_with_manifest_is_rolled_forward_on_open(
    store: MeterStore, aps: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    table = readings(aps, quarters(T0, 3), batch="b3", recorded_at=T0, channels=("offtake", "injection"))
    staged = store.stage("b3")
    staged.write_table("readings", table)
    manifest_files: list[str] = []

    def crash_after_first_rename(self: MeterStore, manifest: BatchManifest) -> None:
        first = manifest.files[0]
        (self.root / first.path).parent.mkdir(parents=True, exist_ok=True)
        (self.root / first.staged).rename(self.root / first.path)
        manifest_files.extend(f.path for f in manifest.files)
        raise OSError("power cut")

    monkeypatch.setattr(MeterStore, "_publish", crash_after_first_rename)
    with pytest.raises(OSError, match="power cut"):
        store.commit(staged, {})
    monkeypatch.undo()
    assert len(manifest_files) > 1
    assert not all((store.root / p).exists() for p in manifest_files)
    reopened = MeterStore(store.root)
    assert all((store.root / p).exists() for p in manifest_files)
    assert not (store.root / "_staging" / "b3").exists()
    assert reopened.has_batch("b3")
    assert _count(reopened) == table.num_rows


def test_readers_see_only_manifest_files(store: MeterStore, aps: list[str]) -> None:
    commit_table(store, "b1", readings(aps, quarters(T0, 2), batch="b1", recorded_at=T0))
    stray = store.files("readings")[0].with_name("stray.parquet")
    pq.write_table(pq.read_table(store.files("readings")[0]), stray)
    assert stray not in MeterStore(store.root).files("readings")


def test_a_reader_sees_another_writers_commit_after_skipping_unchanged_folders(
    store: MeterStore, aps: list[str]
) -> None:
    reader = MeterStore(store.root)
    past = (datetime.now(UTC).timestamp() - 60,) * 2
    for folder in ("_batches", "_compactions"):
        os.utime(store.root / folder, past)
    assert reader.files("readings") == []  # listed once; the settled folders are remembered
    generation = reader.generation
    assert reader.files("readings") == [] and reader.generation == generation
    commit_table(store, "b1", readings(aps, quarters(T0, 2), batch="b1", recorded_at=T0))
    assert reader.files("readings") == store.files("readings") != []
    assert reader.generation == generation + 1


def test_empty_store_gives_a_typed_empty_relation(store: MeterStore) -> None:
    con = duckdb.connect()
    for name, ds in layout.DATASETS.items():
        relation = store.relation(con, name)
        assert relation.columns == ds.columns
        types = [str(t).replace("Etc/UTC", "UTC") for t in relation.to_arrow_table().schema.types]
        assert types == [str(t) for t in ds.schema.types]
        assert relation.count("*").fetchall() == [(0,)]


def test_relation_has_exactly_the_schema_columns(store: MeterStore, aps: list[str]) -> None:
    commit_table(store, "b1", readings(aps, quarters(T0, 2), batch="b1", recorded_at=T0))
    relation = store.relation(duckdb.connect(), "readings")
    assert relation.columns == layout.READINGS.columns


def _stage_duckdb(store: MeterStore, batch: str, select: str) -> None:
    staged = store.stage(batch)
    con = duckdb.connect()
    con.execute(
        f"COPY ({select}) TO '{staged.dir('readings')}' "
        "(FORMAT parquet, PARTITION_BY (month, bucket), COMPRESSION zstd)"
    )
    store.commit(staged, {})


_SELECT = (
    "SELECT ap, 'offtake' AS channel, 'night' AS tariff, TIMESTAMPTZ '2026-02-01 00:00:00+00' AS start, "
    "15::SMALLINT AS minutes, 7::BIGINT AS value, 'measured' AS status, NULL::VARCHAR AS rule, "
    "NULL::VARCHAR AS method, {batch} AS batch, TIMESTAMPTZ '2026-02-02 00:00:00+00' AS recorded_at, "
    "{month} AS month, {bucket} AS bucket FROM (VALUES ('0a0b0c0d0e0f0a0b'), ('ffff0c0d0e0f0a0b')) v(ap)"
)


def test_duckdb_partitioned_copy_commits(store: MeterStore) -> None:
    month, bucket = layout.month_sql(layout.READINGS), layout.bucket_sql(store.buckets)
    _stage_duckdb(store, "d1", _SELECT.format(batch="'d1'", month=month, bucket=bucket))
    assert _count(store) == 2
    assert {layout.parse_leaf(p) for p in store.files("readings")} == {
        ("2026-02", 0x0A0B % 8),
        ("2026-02", 0xFFFF % 8),
    }


@pytest.mark.parametrize(
    ("batch", "month", "bucket", "reason"),
    [
        ("'other'", None, None, "batch"),
        ("'d2'", "'2026-01'", None, "month"),
        ("'d2'", None, "(bucket_plus_one)", "bucket"),
    ],
)
def test_staged_rows_outside_their_leaf_or_batch_are_refused(
    store: MeterStore, batch: str, month: str | None, bucket: str | None, reason: str
) -> None:
    good_bucket = layout.bucket_sql(store.buckets)
    select = _SELECT.format(
        batch=batch,
        month=month or layout.month_sql(layout.READINGS),
        bucket=f"(({good_bucket}) + 1) % {store.buckets}" if bucket else good_bucket,
    )
    with pytest.raises(StagingError):
        _stage_duckdb(store, "d2", select)
    assert not store.has_batch("d2"), reason
    assert store.files("readings") == []


def test_a_staged_null_key_is_refused(store: MeterStore) -> None:
    select = _SELECT.format(
        batch="'d3'", month=layout.month_sql(layout.READINGS), bucket=layout.bucket_sql(store.buckets)
    ).replace("'night' AS tariff", "CASE WHEN ap LIKE 'f%' THEN NULL ELSE 'night' END AS tariff")
    with pytest.raises(StagingError, match="null"):
        _stage_duckdb(store, "d3", select)
    assert store.files("readings") == []


def test_a_staged_file_without_statistics_is_refused(store: MeterStore, aps: list[str]) -> None:
    table = readings(aps[:1], quarters(T0, 4), batch="s1", recorded_at=T0)
    month, bucket = layout.month_of_instant(T0), bucket_of(aps[0], store.buckets)
    staged = store.stage("s1")
    leaf = staged.dir("readings") / layout.leaf_dir("readings", month, bucket, store.buckets).split("/", 1)[1]
    leaf.mkdir(parents=True)
    pq.write_table(table, leaf / "x.parquet", write_statistics=False)
    with pytest.raises(StagingError, match="statistics"):
        store.commit(staged, {})
    staged.abort()
    assert store.files("readings") == []


def test_wrong_schema_is_refused(store: MeterStore) -> None:
    staged = store.stage("w1")
    leaf = staged.dir("readings") / "month=2026-02" / "bucket=1"
    leaf.mkdir(parents=True)
    pq.write_table(pa.table({"ap": ["0001000000000000"], "value": [1]}), leaf / "x.parquet")
    with pytest.raises(StagingError, match="schema"):
        store.commit(staged, {})
    staged.abort()
    assert not staged.path.exists()


def test_write_table_checks_columns_and_nulls(store: MeterStore, aps: list[str]) -> None:
    table = readings(aps, quarters(T0, 1), batch="n1", recorded_at=T0)
    staged = store.stage("n1")
    with pytest.raises(ValueError, match="lacks"):
        staged.write_table("readings", table.drop_columns(["batch"]))
    broken = table.set_column(5, "value", pa.array([None] * table.num_rows, pa.int64()))
    with pytest.raises(ValueError, match="nulls"):
        staged.write_table("readings", broken)
    staged.abort()


def test_naive_times_are_refused(store: MeterStore, aps: list[str]) -> None:
    with pytest.raises(ValueError, match="naive"):
        store.read_access_point(aps[0], datetime(2026, 1, 1), datetime(2026, 2, 1, tzinfo=UTC))  # noqa: DTZ001
