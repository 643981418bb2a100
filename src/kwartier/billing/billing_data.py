"""Billing data kept beside the meter-data store: monthly peaks and billing peaks per access point.

Layout (under ``<home>/billing``, keyed by the pseudonym ``ap`` like the store, never by EAN):
``monthly_peaks/month=YYYY-MM/peaks.parquet`` and ``billing_peaks/month=YYYY-MM/billing.parquet``, each
with a ``source.json`` naming the data version it rests on, and ``candidates/month=YYYY-MM/<id>.parquet``:
the peak candidates of each store file of the month.

Rules:
- the **data version** of a month is the set of store files that hold its readings and reported peaks
  (a new batch or a compaction changes it); its SHA-256 is recorded with the month's peaks, and each
  peak row carries ``data_as_of``: the latest recording among the values used;
- :func:`refresh` recomputes exactly the months whose data version changed, then the billing peaks of
  those months and of the 11 months after them (their window contains a changed month);
- each file is written to a temporary name and renamed into place, ``source.json`` last: a crash leaves
  the month either as it was or stale (recomputed by the next refresh), never half-written;
- values are the current values (:mod:`kwartier.store.versions`); a month is computed as known at the
  moment of the refresh, which ``computed_at`` records. The peaks are computed from the stored versions
  themselves (:func:`~kwartier.billing.capacity.monthly_peaks` chooses the current version only for the
  access points that have more than one value in a quarter): choosing the current version of every
  value of a month first took 74 s for 62,500 access points, the peaks from the versions 3.5 s;
- a refresh keeps each store file's peak candidates (per access point its largest quarter, counts and
  quarter span, :func:`~kwartier.billing.capacity.peak_candidates`), named after the file's path, size
  and modification time, and combines them (:func:`~kwartier.billing.capacity.peaks_from_candidates`):
  after a new batch it scans only the batch's files and reads again only the access points whose files
  overlap in time, instead of every row of the month. A compaction writes new files, whose candidates
  the next refresh computes once; the candidates of files no longer in the store are removed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kwartier.billing.capacity import (
    DATA_AS_OF,
    MONTH_INDEX,
    billing_peaks,
    decode_peaks,
    monthly_peaks,
    peak_candidates,
    peaks_from_candidates,
)
from kwartier.billing.months import month_index, months_between
from kwartier.billing.peak_report import with_reported
from kwartier.config import EngineName, Settings
from kwartier.engine import connect, load, to_arrow
from kwartier.schema import AP, MONTH, PEAK_START, PEAK_W, RECORDED_AT
from kwartier.store.manifest import read_json, write_json_atomic
from kwartier.store.store import MeterStore

MONTHLY: Final = "monthly_peaks"
BILLING: Final = "billing_peaks"
CANDIDATES: Final = "candidates"
COMPUTED_AT: Final = "computed_at"
_SOURCE: Final = "source.json"
STALE: Final = "stale"
CANDIDATES_FORMAT: Final = 2
"""Version of the kept peak candidates' columns (2: ``repeated`` instead of the distinct quarters)."""


@dataclass(frozen=True)
class RefreshReport:
    """What a refresh did: the months recomputed and those found current, and the store files whose
    peak candidates it computed (the others' were kept from an earlier refresh)."""

    recomputed: list[str]
    current: list[str]
    billing_months: list[str]
    access_point_months: int
    files_scanned: int = 0
    files_kept: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "recomputed": self.recomputed,
            "current": self.current,
            "billing_months": self.billing_months,
            "access_point_months": self.access_point_months,
            "files_scanned": self.files_scanned,
            "files_kept": self.files_kept,
        }


def billing_dir(settings: Settings) -> Path:
    """The folder of the billing data of a data home."""
    return settings.home / "billing"


def data_version(store: MeterStore, month: str) -> str:
    """SHA-256 of the names of the store files holding the readings and reported peaks of ``month``."""
    names = sorted(
        str(p.relative_to(store.root))
        for ds in ("readings", "peaks")
        for p in store.files(ds, months={month})
    )
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


def refresh(
    settings: Settings, months: list[date] | None = None, *, moment: datetime | None = None
) -> RefreshReport:
    """Recompute the monthly peaks of the months (default: every month in the store) whose data version
    changed, then the billing peaks that depend on them (DuckDB, straight on the store files)."""
    now = moment or datetime.now(UTC)
    store = MeterStore.open(settings.store_dir)
    wanted = (
        [m.strftime("%Y-%m") for m in months]
        if months
        else sorted(set(store.months("readings")) | set(store.months("peaks")))
    )
    root = billing_dir(settings)
    recomputed, current, rows = [], [], 0
    scans = Scans()
    for month in wanted:
        version = data_version(store, month)
        folder = root / MONTHLY / f"month={month}"
        if (folder / _SOURCE).exists() and read_json(folder / _SOURCE).get("data_version") == version:
            current.append(month)
            continue
        with month_backend() as backend:
            table = _month_peaks(
                backend, store, root / CANDIDATES / f"month={month}", _first(month), now, scans
            )
        _write(
            folder,
            "peaks.parquet",
            table,
            {"data_version": version, COMPUTED_AT: now.isoformat(), "rows": table.num_rows},
        )
        recomputed.append(month)
        rows += table.num_rows
    billing_months = _refresh_billing(connect(EngineName.DUCKDB), root, recomputed, now)
    return RefreshReport(recomputed, current, billing_months, rows, scans.scanned, scans.kept)


@contextmanager
def month_backend() -> Iterator[Any]:
    """A DuckDB backend for the peaks of one month, with Parquet footers cached
    (``parquet_metadata_cache``), closed afterwards.

    Each store file of the month is opened several times: to bind its view, to scan it for its peak
    candidates, and again in stage 2. Parsing a footer of about 2,000 row groups takes about 50 ms, and
    the cache saves all but the first: stage 1 at a million access points 0.99 → 0.88 s per file. It costs
    about 22 MB of memory per such file (1.4 GB for the 64 files of a month of a million access points),
    so it lives only as long as the month's backend: store files never change in place (a new batch or a
    compaction writes new files), and DuckDB checks a file's modification time before using its entry."""
    backend = connect(EngineName.DUCKDB)
    backend.raw_sql("SET parquet_metadata_cache = true")
    try:
        yield backend
    finally:
        backend.disconnect()


@dataclass
class Scans:
    """Store files whose peak candidates a refresh computed, and those whose kept candidates it used."""

    scanned: int = 0
    kept: int = 0


def _month_peaks(
    backend: Any, store: MeterStore, candidates: Path, month: date, now: datetime, scans: Scans
) -> pa.Table:
    """The monthly peaks of every access point in ``month``, from its current readings, and the peaks
    meters reported for the access points without quarter hours that month.

    The readings are those of the store files that can hold a current value at ``now``; each file's
    peak candidates are kept in ``candidates`` (:func:`_file_candidates`), so a refresh after a new batch
    scans only the new files, and then reads again only the access points whose files overlap. When a
    file holds values recorded after ``now`` the month is computed from the rows as known at ``now``."""
    label = month.strftime("%Y-%m")
    files = store.files("readings", months={label}, current_at=now)
    parts = _file_candidates(backend, store, candidates, files, month, scans)
    known = all(part.num_rows == 0 or pc.max(part.column(DATA_AS_OF)).as_py() <= now for _, part in parts)
    if parts and known:
        derived = decode_peaks(peaks_from_candidates(backend, parts, AP, [month], as_of=now))
    else:
        versions = store.scan_sql("readings", months={label}, current_at=now)
        backend.raw_sql(f"CREATE OR REPLACE TEMP VIEW billing_month_versions AS {versions}")
        readings = backend.table("billing_month_versions")
        derived = decode_peaks(monthly_peaks(backend, readings, AP, [month], as_of=now))
    reported = _reported_peaks(backend, store, month)
    table = with_reported(AP, derived, reported)
    if DATA_AS_OF not in table.column_names:
        table = table.append_column(DATA_AS_OF, pa.nulls(table.num_rows, pa.timestamp("us", tz="UTC")))
    return table.sort_by([(AP, "ascending")])


def _file_candidates(
    backend: Any, store: MeterStore, folder: Path, files: list[Path], month: date, scans: Scans
) -> list[tuple[Any, pa.Table]]:
    """Per store file of ``month`` its rows (a view) and peak candidates
    (:func:`~kwartier.billing.capacity.peak_candidates`, with their quarter spans, and with
    ``one_version`` where the store says the file holds one version per value): kept in ``folder`` under
    the SHA-256 of :data:`CANDIDATES_FORMAT` and the file's path, size and modification time (committed
    store files never change in place), computed for the files without them; kept candidates of files the
    store no longer lists (compacted away), or of another format, are removed."""
    folder.mkdir(parents=True, exist_ok=True)
    parts, names = [], set()
    for path in files:
        status = path.stat()
        identity = f"{CANDIDATES_FORMAT}:{path.relative_to(store.root)}:{status.st_size}:{status.st_mtime_ns}"
        name = f"{hashlib.sha256(identity.encode()).hexdigest()}.parquet"
        names.add(name)
        rows = backend.read_parquet(path, hive_partitioning=False)  # the schema's columns, no month/bucket
        if (folder / name).exists():
            parts.append((rows, pq.read_table(folder / name)))
            scans.kept += 1
            continue
        part = peak_candidates(
            backend, rows, AP, [month], spans=True, one_version=store.holds_one_version(path)
        )
        _write_atomic(folder / name, part)
        parts.append((rows, part))
        scans.scanned += 1
    for stale in folder.glob("*.parquet"):
        if stale.name not in names:
            stale.unlink(missing_ok=True)
    return parts


def _reported_peaks(backend: Any, store: MeterStore, month: date) -> pa.Table:
    """The latest reported peak per access point of ``month`` (P1 buffers), with its recording moment."""
    source = store.scan_sql("peaks", months={month.strftime("%Y-%m")})
    return backend.con.sql(
        f"SELECT {AP}, {MONTH}, arg_max({PEAK_START}, {RECORDED_AT}) AS {PEAK_START}, "
        f"arg_max({PEAK_W}, {RECORDED_AT}) AS {PEAK_W}, max({RECORDED_AT}) AS {DATA_AS_OF} "
        f"FROM ({source}) WHERE status <> 'rejected' GROUP BY {AP}, {MONTH}"
    ).to_arrow_table()


def _refresh_billing(backend: Any, root: Path, changed: list[str], now: datetime) -> list[str]:
    """Billing peaks of the changed months and the 11 after each, over all monthly peaks kept."""
    if not changed:
        return []
    kept = sorted(
        p.parent.name.removeprefix("month=") for p in (root / MONTHLY).glob("month=*/peaks.parquet")
    )
    affected = sorted(
        {m for m in kept for c in changed if 0 <= month_index(_first(m)) - month_index(_first(c)) < 12}
    )
    history = pa.concat_tables(
        [
            pq.read_table(root / MONTHLY / f"month={m}" / "peaks.parquet", columns=[AP, MONTH_INDEX, PEAK_W])
            for m in kept
        ]
    )
    months = months_between(_first(affected[0]), _first(affected[-1]))
    result = to_arrow(billing_peaks(load(backend, history), AP, months))
    for month in affected:
        part = result.filter(pc.equal(result.column(MONTH_INDEX), month_index(_first(month))))
        _write(
            root / BILLING / f"month={month}",
            "billing.parquet",
            part.sort_by([(AP, "ascending")]),
            {COMPUTED_AT: now.isoformat(), "rows": part.num_rows},
        )
    return affected


def _first(month: str) -> date:
    return date.fromisoformat(f"{month}-01")


def _write(folder: Path, name: str, table: pa.Table, source: dict[str, Any]) -> None:
    """Write ``table`` and then its ``source.json``, each atomically (temporary file, fsync, rename)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / _SOURCE).unlink(missing_ok=True)  # stale until the new source is written
    _write_atomic(folder / name, table)
    write_json_atomic(folder / _SOURCE, {"version": 1, **source})


def _write_atomic(path: Path, table: pa.Table) -> None:
    """Write ``table`` as Parquet to ``path`` through a temporary file, fsync and rename."""
    temporary = path.parent / f".{path.name}.tmp"
    pq.write_table(table, temporary, compression="zstd")
    with temporary.open("rb") as handle:
        os.fsync(handle.fileno())
    temporary.replace(path)


def read_billing_peaks(settings: Settings, ap: str) -> pa.Table:
    """The kept monthly and billing peaks of one access point, by month, with ``stale`` set for a month
    whose data version changed since it was computed (``kwartier billing refresh`` updates it)."""
    root = billing_dir(settings)
    monthly = [
        pq.read_table(p, filters=[(AP, "=", ap)])
        for p in sorted((root / MONTHLY).glob("month=*/peaks.parquet"))
    ]
    billing = [
        pq.read_table(p, filters=[(AP, "=", ap)])
        for p in sorted((root / BILLING).glob("month=*/billing.parquet"))
    ]
    if not monthly or not billing:
        return pa.table({})
    joined = pa.concat_tables(monthly).join(pa.concat_tables(billing), [AP, MONTH_INDEX], join_type="inner")
    joined = joined.sort_by([(MONTH_INDEX, "ascending")])
    store = MeterStore.open(settings.store_dir)
    stale = []
    for month in joined.column(MONTH).to_pylist():
        source = root / MONTHLY / f"month={month:%Y-%m}" / _SOURCE
        recorded = read_json(source).get("data_version") if source.exists() else None
        stale.append(recorded != data_version(store, f"{month:%Y-%m}"))
    return joined.append_column(STALE, pa.array(stale, pa.bool_()))
