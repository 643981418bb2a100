"""Ingest of head-end exports: counts that add up, idempotency, quarantine with lines, supersession."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from kwartier.capture.headend import instant_sql
from kwartier.capture.ingest import ingest_paths, ingestor
from kwartier.config import Settings
from kwartier.registry.database import open_registry
from kwartier.registry.pseudonym_keys import active_pseudonym_key
from kwartier.store.store import MeterStore
from tests.ingest.conftest import Region

RECORDED = datetime(2026, 11, 20, 3, tzinfo=UTC)


def stored_rows(settings: Settings) -> pa.Table:
    store = MeterStore.open(settings.store_dir)
    con = duckdb.connect()
    table: pa.Table = con.sql(store.scan_sql("readings")).to_arrow_table()
    return table


def test_every_line_is_accounted_for(home: Settings, region: Region) -> None:
    entry = region.files("intervals")[0]
    [report] = ingest_paths(home, [region.folder / entry["file"]], recorded_at=RECORDED)
    assert report.status == "committed"
    lines = entry["lines"]
    # the simulator never sends two different values for one interval in one file (no V06 here)
    assert report.accepted + report.rejected + report.quarantined + report.duplicate == lines
    assert report.quarantined > 0 and report.duplicate > 0
    assert stored_rows(home).num_rows == report.accepted + report.rejected


def test_ingesting_a_file_twice_changes_nothing(home: Settings, region: Region) -> None:
    path = region.folder / region.files("intervals")[0]["file"]
    [first] = ingest_paths(home, [path], recorded_at=RECORDED)
    files = sorted(p.name for p in (home.store_dir / "readings").rglob("*.parquet"))
    [second] = ingest_paths(home, [path], recorded_at=RECORDED)
    assert second.status == "duplicate-batch" and second.batch == first.batch
    assert sorted(p.name for p in (home.store_dir / "readings").rglob("*.parquet")) == files


def test_quarantine_names_file_line_field_and_reason(home: Settings, region: Region, tmp_path: Path) -> None:
    source = (region.folder / region.files("intervals")[0]["file"]).read_text().splitlines()
    good = source[1]
    fields = good.split(",")
    bad_ean = ",".join(["541448820000000019", *fields[1:]])
    off_grid = ",".join([*fields[:4], fields[4][:14] + "07" + fields[4][16:], *fields[5:]])
    text_value = ",".join([*fields[:6], "abc", *fields[7:]])
    short = ",".join(fields[:5])
    path = tmp_path / "mixed.csv"
    path.write_text("\n".join([source[0], good, bad_ean, off_grid, text_value, short]) + "\n")
    [report] = ingest_paths(home, [path], recorded_at=RECORDED)
    found = {(r["line"], r["field"], r["code"]) for r in report.rejections}
    assert (3, "ean", "C01-EAN") in found
    assert (4, "start", "V07-OFF-GRID") in found
    assert (5, "value", "C08-VALUE") in found
    assert (6, "minutes", "C00-SYNTAX") in found
    assert report.accepted == 1 and report.quarantined == 4
    quarantine = (home.home / "quarantine" / f"{report.batch}.csv").read_text()
    assert "mixed.csv" in quarantine and "C01-EAN" in quarantine


def test_a_corrected_value_supersedes_and_the_old_one_stays_known(
    home: Settings, region: Region, tmp_path: Path
) -> None:
    source = (region.folder / region.files("intervals")[0]["file"]).read_text().splitlines()
    header, line = source[0], source[1]
    fields = line.split(",")
    corrected = ",".join([*fields[:6], str(int(fields[6]) + 7), *fields[7:]])
    (tmp_path / "a.csv").write_text(f"{header}\n{line}\n")
    (tmp_path / "b.csv").write_text(f"{header}\n{corrected}\n")
    later = datetime(2026, 11, 21, 3, tzinfo=UTC)
    [first] = ingest_paths(home, [tmp_path / "a.csv"], recorded_at=RECORDED)
    [second] = ingest_paths(home, [tmp_path / "b.csv"], recorded_at=later)
    assert (first.accepted, second.superseded, second.accepted) == (1, 1, 1)
    store = MeterStore.open(home.store_dir)
    with ingestor(home) as worker:
        ap = worker.pseudonymiser.of(fields[0])
    start = datetime.fromisoformat(fields[4])
    end = start + timedelta(minutes=15)
    now = store.read_access_point(ap, start, end)
    before = store.read_access_point(ap, start, end, as_of=RECORDED)
    assert now.column("value").to_pylist() == [int(fields[6]) + 7]
    assert before.column("value").to_pylist() == [int(fields[6])]


def test_registers_are_stored_once(home: Settings, region: Region) -> None:
    path = region.folder / region.files("registers")[0]["file"]
    [first] = ingest_paths(home, [path], recorded_at=RECORDED)
    assert first.registers == region.files("registers")[0]["lines"]
    store = MeterStore.open(home.store_dir)
    count = duckdb.connect().sql(f"SELECT count(*) FROM ({store.scan_sql('registers')})").fetchall()[0][0]
    assert count == first.registers


def test_the_registry_knows_the_pseudonym_key_but_not_its_secret(home: Settings, region: Region) -> None:
    ingest_paths(home, [region.folder / region.files("registers")[0]["file"]], recorded_at=RECORDED)
    with open_registry(home.registry_url)() as session:
        key = active_pseudonym_key(session)
    secret = home.pseudonym_key_file.read_bytes()
    assert key is not None and key.fingerprint
    assert secret.hex() not in key.fingerprint


def test_copies_of_one_interval_keep_the_strongest_status_and_conflicts_are_rejected(
    home: Settings, region: Region, tmp_path: Path
) -> None:
    source = (region.folder / region.files("intervals")[0]["file"]).read_text().splitlines()
    header, *lines = source[:5]
    rows = [line.split(",") for line in lines]
    assert len({tuple(row[:6]) for row in rows}) == 4  # four distinct intervals

    def copy(row: list[str], *, status: str, value: str | None = None) -> str:
        return ",".join([*row[:6], value or row[6], row[7], status])

    a, b, c, d = rows
    body = [
        copy(a, status="estimated"),
        copy(a, status="validated"),
        copy(a, status="read"),
        copy(b, status="estimated"),
        copy(b, status="read"),
        copy(c, status="estimated"),
        copy(d, status="read"),
        copy(d, status="read", value=str(int(d[6]) + 1)),
    ]
    path = tmp_path / "copies.csv"
    path.write_text("\n".join([header, *body]) + "\n")
    [report] = ingest_paths(home, [path], recorded_at=RECORDED)
    assert (report.accepted, report.rejected, report.duplicate) == (3, 2, 3)
    stored = stored_rows(home).to_pylist()
    by_start: dict[datetime, list[tuple[object, object, object]]] = {}
    for row in stored:
        by_start.setdefault(row["start"], []).append((row["value"], row["status"], row["method"]))
    start = {name: datetime.fromisoformat(row[4]) for name, row in zip("abcd", rows, strict=True)}
    assert by_start[start["a"]] == [(int(a[6]), "measured", None)]  # validated beats read and estimated
    assert by_start[start["b"]] == [(int(b[6]), "measured", None)]  # read beats estimated
    assert by_start[start["c"]] == [(int(c[6]), "estimated", "S0-SOURCE")]
    assert sorted(by_start[start["d"]]) == [
        (int(d[6]), "rejected", None),
        (int(d[6]) + 1, "rejected", None),
    ]
    assert {row["rule"] for row in stored if row["start"] == start["d"]} == {"V06-CONFLICTING-DUPLICATE"}


def test_an_instant_counts_only_with_its_utc_offset() -> None:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    texts = {
        "2026-11-02T10:15:00+01:00": datetime(2026, 11, 2, 9, 15, tzinfo=UTC),
        "2026-11-02T10:15:00.5-05:30": datetime(2026, 11, 2, 15, 45, 0, 500_000, tzinfo=UTC),
        "2026-11-02T10:15:00Z": datetime(2026, 11, 2, 10, 15, tzinfo=UTC),
        "2026-11-02": None,  # a date alone: DuckDB alone would read it as midnight UTC
        "2026-11-02T10:15:00": None,  # local time of unknown offset
        "2026-11-02T10:15:00+0100": None,  # not the export's form (docs/formats.md)
        "2026-11-02T10:15:00+01": None,
        "2026-11-02T10:15:00z": None,
        "2026-11-32T10:15:00+01:00": None,
    }
    query = f"SELECT {instant_sql('t')} FROM (SELECT ?::VARCHAR AS t)"
    for text, instant in texts.items():
        [(found,)] = con.execute(query, [text]).fetchall()
        assert found == instant, text


def test_a_start_without_offset_is_quarantined(home: Settings, region: Region, tmp_path: Path) -> None:
    source = (region.folder / region.files("intervals")[0]["file"]).read_text().splitlines()
    fields = source[1].split(",")
    date_only = ",".join([*fields[:4], fields[4][:10], *fields[5:]])
    path = tmp_path / "dates.csv"
    path.write_text("\n".join([source[0], source[1], date_only]) + "\n")
    [report] = ingest_paths(home, [path], recorded_at=RECORDED)
    assert [(r["line"], r["field"], r["code"]) for r in report.rejections] == [(3, "start", "C07-TIME")]
    assert report.accepted == 1
