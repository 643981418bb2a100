"""The meter-data store: append-only batches of pseudonymised Parquet files under one root directory.

Rules (design.md "Two stores, kept apart by law"; the layout is in :mod:`kwartier.store.layout`):
- a batch is written into ``_staging/<batch>/<dataset>/`` (hive directories ``month=…/bucket=…``),
  then committed: files fsynced, manifest ``_batches/<batch>.json`` written atomically (the commit
  point), files renamed to ``<dataset>/month=…/bucket=…/<batch>-<n>.parquet``, staging removed;
- opening the store recovers: a batch whose manifest exists is rolled forward, a staging directory
  without a manifest is deleted (the batch never happened), unless its writer is still alive;
- readers only ever see files listed by manifests (never a bare directory listing);
- compaction merges the files of a leaf into sorted files with the same atomicity (manifest
  ``_compactions/<id>.json`` is the commit point): readings into the current version of every value and
  a history file of the other versions, which readers of current values leave out. Every version is
  kept, so every query, also "as known at" an earlier moment, gives the same result before and after;
- one writer at a time: commit, compaction and recovery hold an exclusive lock on ``<root>/.lock``;
  a staging batch holds a lock on its own directory so that recovery leaves it alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kwartier.schema import AP, BATCH, RECORDED_AT, START, STATUS, UTC_MICROS
from kwartier.store import layout
from kwartier.store.manifest import (
    BatchManifest,
    CompactionManifest,
    ManifestFile,
    fsync_dir,
    fsync_file,
    read_json,
    write_json_atomic,
)
from kwartier.store.pseudonym import bucket_of
from kwartier.store.versions import (
    READING_KEY,
    current_mask,
    current_readings_arrow,
    current_readings_sql,
    timestamptz_literal,
)

STORE_FORMAT: Final = "kwartier-meter-data-store"
STORE_FORMAT_VERSION: Final = 1
DEFAULT_BUCKETS: Final = 64
COMPACTION_PREFIX: Final = "compaction-"
_BATCH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")
_AP = re.compile(r"^[0-9a-f]{16}$")
_STAGING = "_staging"
_BATCHES = "_batches"
_COMPACTIONS = "_compactions"
_SETTLED_SECONDS: Final = 2
_LOCK_FILE = ".lock"
EVERY_VERSION: Final = datetime.max.replace(tzinfo=UTC)
"""A moment after every recording: current values with every version counted (``as_of`` None)."""
_VERSIONING: Final = frozenset({*READING_KEY, STATUS, RECORDED_AT, BATCH})  # what picks the current version
_DUCKDB_TYPES: Final = {
    pa.string(): "VARCHAR",
    pa.int16(): "SMALLINT",
    pa.int64(): "BIGINT",
    pa.date32(): "DATE",
    pa.timestamp("us", tz="UTC"): "TIMESTAMPTZ",
}


class StoreError(Exception):
    """The store refuses an operation or finds itself inconsistent."""


class BatchAlreadyCommitted(StoreError):  # noqa: N818 - the name the other stages use
    """A batch with this id is already part of the store."""


class BatchInProgress(StoreError):  # noqa: N818 - paired with BatchAlreadyCommitted
    """Another writer is staging a batch with this id."""


class StagingError(StoreError):
    """The staged files of a batch do not fit the store (schema, partition, batch column)."""


@dataclass(frozen=True)
class CommitInfo:
    """What a commit added: the batch, its manifest, its published files and rows per dataset."""

    batch: str
    committed_at: datetime
    manifest: Path
    files: tuple[Path, ...]
    rows: dict[str, int]


@dataclass(frozen=True)
class CompactionInfo:
    """What a compaction run did: one compaction id per leaf it merged."""

    dataset: str
    compactions: tuple[str, ...]
    files_replaced: int
    files_written: int
    rows: int


@dataclass(frozen=True)
class Recovery:
    """What recovery found: batches and compactions rolled forward, staging directories discarded."""

    rolled_forward: tuple[str, ...]
    discarded: tuple[str, ...]


class StagedBatch:
    """A batch being written into its staging directory; nothing of it is visible until committed."""

    def __init__(self, store: MeterStore, batch_id: str, path: Path, lock: IO[bytes]) -> None:
        self.store = store
        self.batch_id = batch_id
        self.path = path
        self._lock: IO[bytes] | None = lock
        self._files = 0

    @property
    def open(self) -> bool:
        """True until the batch is committed or aborted."""
        return self._lock is not None

    def dir(self, dataset: str) -> Path:
        """Staging directory of ``dataset``: a writer puts hive directories ``month=…/bucket=…`` in it."""
        self._check_open()
        path = self.path / layout.dataset(dataset).name
        path.mkdir(exist_ok=True)
        return path

    def write_table(self, dataset: str, table: pa.Table) -> int:
        """Partition, sort and write ``table`` (the dataset's schema columns) into staging; rows written."""
        ds = layout.dataset(dataset)
        rows = layout.conform(table, ds)
        base = self.dir(dataset)
        for month, bucket, leaf_rows in layout.split_into_leaves(rows, ds, self.store.buckets):
            leaf = base / f"month={month}" / f"bucket={bucket}"
            leaf.mkdir(parents=True, exist_ok=True)
            layout.write_leaf_file(leaf_rows, ds, leaf / f"table-{self._files}.parquet")
            self._files += 1
        return int(rows.num_rows)

    def abort(self) -> None:
        """Drop everything staged; the batch never happened."""
        if self._lock is None:
            return
        shutil.rmtree(self.path, ignore_errors=True)
        self._release()

    def _check_open(self) -> None:
        if self._lock is None:
            raise StoreError(f"batch {self.batch_id!r} is no longer being staged")

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> StagedBatch:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.abort()


class MeterStore:
    """The meter-data store under ``root``; opening it runs :meth:`recover`.

    ``buckets`` is used only when the store is created: afterwards ``<root>/store.json`` decides.
    """

    def __init__(self, root: Path, *, buckets: int = DEFAULT_BUCKETS) -> None:
        self.root = root.resolve()
        self._thread_lock = threading.RLock()
        self._lock_handle: IO[bytes] | None = None
        self._lock_depth = 0
        self._manifests: dict[str, BatchManifest] = {}
        self._compactions: dict[str, CompactionManifest] = {}
        self._replaced: set[str] = set()
        self._history: dict[str, datetime] = {}
        """Live history files of compactions (:class:`CompactionManifest`) and their ``current_as_of``."""
        self._several_versions: set[str] = set()
        """Files of compactions that may hold several versions of a value (:meth:`holds_one_version`)."""
        self._live: dict[str, dict[tuple[str, int], set[str]]] = {name: {} for name in layout.DATASETS}
        self._seen: tuple[int, int] | None = None
        self.generation = 0
        """Grows by one with every batch or compaction this instance sees: equal generations of one
        instance have the same committed files."""
        for sub in (_STAGING, _BATCHES, _COMPACTIONS):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.buckets = self._open_config(buckets)
        self.recover()

    @classmethod
    def open(cls, root: Path, *, buckets: int = DEFAULT_BUCKETS) -> MeterStore:
        """Open (and create when missing) the store under ``root``."""
        return cls(root, buckets=buckets)

    # -- writing ---------------------------------------------------------------------------------

    def stage(self, batch_id: str) -> StagedBatch:
        """Start batch ``batch_id``: an empty staging directory, locked for this writer."""
        _check_batch_id(batch_id)
        with self._locked():
            self._refresh()
            if batch_id in self._manifests:
                raise BatchAlreadyCommitted(f"batch {batch_id!r} is already committed")
            path = self.root / _STAGING / batch_id
            path.mkdir(exist_ok=True)
            handle = (path / _LOCK_FILE).open("ab")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                raise BatchInProgress(f"batch {batch_id!r} is being staged by another writer") from None
            for child in path.iterdir():  # leftovers of a writer that died without a manifest
                if child.name != _LOCK_FILE:
                    _remove(child)
        return StagedBatch(self, batch_id, path, handle)

    def commit(self, staged: StagedBatch, report: dict[str, Any]) -> CommitInfo:
        """Make ``staged`` part of the store, atomically; ``report`` is kept in its manifest.

        Raises ``BatchAlreadyCommitted`` when the batch id is taken, ``StagingError`` when a staged
        file has the wrong schema, lies in the wrong leaf, or carries another batch id.
        """
        staged._check_open()
        if staged.store is not self:
            raise StoreError("a staged batch is committed by the store that staged it")
        batch = staged.batch_id
        with self._locked():
            self._refresh()
            if batch in self._manifests or self._batch_path(batch).exists():
                raise BatchAlreadyCommitted(f"batch {batch!r} is already committed")
            files = self._collect_staged(staged)
            committed_at = datetime.now(UTC)
            manifest = BatchManifest(batch, committed_at, dict(report), tuple(files))
            for directory in {(self.root / f.staged).parent for f in files}:
                for file in directory.iterdir():
                    fsync_file(file)
                fsync_dir(directory)
            write_json_atomic(self._batch_path(batch), manifest.to_json())  # the commit point
            self._publish(manifest)
            staged._release()
            self._add_batch(manifest)
        return CommitInfo(
            batch=batch,
            committed_at=committed_at,
            manifest=self._batch_path(batch),
            files=tuple(self.root / f.path for f in files),
            rows={name: manifest.rows(name) for name in layout.DATASETS if manifest.rows(name)},
        )

    def recover(self) -> Recovery:
        """Roll committed work forward and discard staging without a manifest (live writers excepted)."""
        rolled: list[str] = []
        discarded: list[str] = []
        with self._locked():
            for name in (_BATCHES, _COMPACTIONS):
                for tmp in (self.root / name).glob(".*.tmp"):
                    tmp.unlink()
            self._load_manifests()
            for entry in sorted((self.root / _STAGING).iterdir()):
                name = entry.name
                if name.startswith(COMPACTION_PREFIX):
                    compaction = self._compactions.get(name)
                    if compaction is not None:
                        self._publish_compaction(compaction)
                        rolled.append(name)
                    else:
                        _remove(entry)
                        discarded.append(name)
                    continue
                manifest = self._manifests.get(name)
                if manifest is not None:
                    self._publish(manifest)
                    rolled.append(name)
                elif not _staging_alive(entry):
                    _remove(entry)
                    discarded.append(name)
            fsync_dir(self.root / _STAGING)
        return Recovery(tuple(rolled), tuple(discarded))

    def compact(self, dataset: str = "readings", *, months: Collection[str] | None = None) -> CompactionInfo:
        """Merge, per leaf (month, bucket) with more than one file besides a compaction's history, all its
        files into sorted files: readings into the current versions and the history (see
        :meth:`_compact_leaf`), other datasets into one file.

        Every version is kept (the outputs hold exactly the rows of the inputs, which is checked).
        """
        ds = layout.dataset(dataset)
        ids: list[str] = []
        replaced = written = rows = 0
        with self._locked():
            self._refresh()
            for (month, bucket), paths in sorted(self._live[ds.name].items()):
                merged = [p for p in paths if p not in self._history]
                if len(merged) < 2 or (months is not None and month not in months):
                    continue
                compaction = self._compact_leaf(ds, month, bucket, sorted(paths))
                outputs = [f for f in (compaction.output, compaction.history) if f is not None]
                ids.append(compaction.compaction)
                replaced += len(compaction.replaced)
                written += len(outputs)
                rows += sum(f.rows for f in outputs)
        return CompactionInfo(ds.name, tuple(ids), replaced, written, rows)

    # -- reading ---------------------------------------------------------------------------------

    def has_batch(self, batch_id: str) -> bool:
        """True when batch ``batch_id`` is committed."""
        self._refresh()
        return batch_id in self._manifests

    def batch_manifest(self, batch_id: str) -> BatchManifest:
        """The manifest of committed batch ``batch_id`` (``KeyError`` when not committed)."""
        self._refresh()
        try:
            return self._manifests[batch_id]
        except KeyError:
            raise KeyError(f"batch {batch_id!r} is not committed") from None

    def committed_batches(self) -> list[str]:
        """Ids of the committed batches, sorted."""
        self._refresh()
        return sorted(self._manifests)

    def months(self, dataset: str) -> list[str]:
        """The months ('YYYY-MM') ``dataset`` holds committed files for, sorted."""
        self._refresh()
        return sorted({month for month, _ in self._live[layout.dataset(dataset).name]})

    def files(
        self,
        dataset: str,
        buckets: Collection[int] | None = None,
        months: Collection[str] | None = None,
        *,
        current_at: datetime | None = None,
    ) -> list[Path]:
        """Committed files of ``dataset``, optionally only those of some buckets and months, sorted.

        With ``current_at`` (:data:`EVERY_VERSION` for "every version counts"), the history files of
        compactions whose ``current_as_of`` is not after it are left out: none of their versions can be
        current then, so the current values as known at ``current_at`` are those of the other files."""
        self._refresh()
        leaves = self._live[layout.dataset(dataset).name]
        return sorted(
            self.root / path
            for (month, bucket), paths in leaves.items()
            if (buckets is None or bucket in buckets) and (months is None or month in months)
            for path in paths
            if current_at is None or path not in self._history or current_at < self._history[path]
        )

    def holds_one_version(self, path: Path) -> bool:
        """Whether the committed file ``path`` holds at most one version of each value among its rows
        that are not rejected: no two of one access point, channel, register, start and resolution.

        A batch's file does: all its rows share one batch and recording moment, so two versions of a
        value in it could not be told apart, and the writers make none (capture keeps one copy of a
        repeated interval and rejects every value of a conflicting one, V06; an estimation run makes one
        estimate per slot). So does the current file of a compaction that split the versions. A
        compaction's history does not, nor the output of a compaction from before the split."""
        return path.relative_to(self.root).as_posix() not in self._several_versions

    def scan_sql(
        self,
        dataset: str,
        *,
        buckets: Collection[int] | None = None,
        months: Collection[str] | None = None,
        current_at: datetime | None = None,
    ) -> str:
        """DuckDB SQL of the committed rows of ``dataset``: the schema columns, typed even when empty;
        ``current_at`` as in :meth:`files`."""
        ds = layout.dataset(dataset)
        paths = self.files(dataset, buckets, months, current_at=current_at)
        if not paths:
            columns = ", ".join(f"CAST(NULL AS {_DUCKDB_TYPES[f.type]}) AS {f.name}" for f in ds.schema)
            return f"SELECT {columns} WHERE false"
        listed = ", ".join(_sql_string(str(p)) for p in paths)
        return f"SELECT {', '.join(ds.columns)} FROM read_parquet([{listed}], hive_partitioning = false)"

    def relation(
        self,
        con: duckdb.DuckDBPyConnection,
        dataset: str,
        *,
        buckets: Collection[int] | None = None,
        months: Collection[str] | None = None,
    ) -> duckdb.DuckDBPyRelation:
        """DuckDB relation of the committed rows of ``dataset`` (see :meth:`scan_sql`)."""
        return con.sql(self.scan_sql(dataset, buckets=buckets, months=months))

    def current_readings(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        ap: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        as_of: datetime | None = None,
    ) -> duckdb.DuckDBPyRelation:
        """Current readings (:func:`~kwartier.store.versions.current_readings_sql`) with ``start`` in
        [start, end), of one access point or all; only the files of the bucket and months concerned are read.
        """
        buckets = None if ap is None else {bucket_of(_check_ap(ap), self.buckets)}
        months = self._months_between("readings", start, end)
        conditions = [f"{AP} = '{ap}'"] if ap is not None else []
        if start is not None:
            conditions.append(f"{START} >= {timestamptz_literal(start)}")
        if end is not None:
            conditions.append(f"{START} < {timestamptz_literal(end)}")
        source = self.scan_sql("readings", buckets=buckets, months=months, current_at=as_of or EVERY_VERSION)
        if conditions:
            source = f"SELECT * FROM ({source}) AS stored WHERE {' AND '.join(conditions)}"
        return con.sql(current_readings_sql(source, as_of))

    def read_access_point(
        self,
        ap: str,
        start: datetime,
        end: datetime,
        *,
        as_of: datetime | None = None,
        columns: Collection[str] | None = None,
    ) -> pa.Table:
        """Current readings of one access point with ``start`` in [start, end), sorted by channel,
        tariff, start (schema ``STORED_READINGS``, or only ``columns`` of it plus those the choice of the
        current version needs).

        Reads only the files of the access point's bucket and of the months overlapping the range, and
        in them only the row groups whose ``ap`` statistics can hold it.
        """
        _check_ap(ap)
        paths = self.files(
            "readings",
            {bucket_of(ap, self.buckets)},
            layout.months_overlapping(start, end),
            current_at=as_of or EVERY_VERSION,
        )
        wanted = (
            None if columns is None else [c for c in layout.READINGS.columns if c in {*columns, *_VERSIONING}]
        )
        versions = _read_row_groups(paths, ap, wanted)
        in_range = pc.and_(
            pc.equal(versions.column(AP), ap),
            pc.and_(
                pc.greater_equal(versions.column(START), pa.scalar(start, UTC_MICROS)),
                pc.less(versions.column(START), pa.scalar(end, UTC_MICROS)),
            ),
        )
        return current_readings_arrow(versions.filter(in_range), as_of)

    def partition_sql(self, dataset: str) -> str:
        """Select-list items a DuckDB writer appends for the hive partitions: ``… AS month, … AS bucket``."""
        return layout.partition_sql(layout.dataset(dataset), self.buckets)

    # -- internals -------------------------------------------------------------------------------

    def _open_config(self, buckets: int) -> int:
        path = self.root / "store.json"
        with self._locked():
            if not path.exists():
                if not 1 <= buckets <= 65_536:
                    raise ValueError("a store has between 1 and 65,536 buckets")
                write_json_atomic(
                    path, {"format": STORE_FORMAT, "format_version": STORE_FORMAT_VERSION, "buckets": buckets}
                )
            config = read_json(path)
        if config.get("format") != STORE_FORMAT or config.get("format_version") != STORE_FORMAT_VERSION:
            raise StoreError(f"{path} is not a {STORE_FORMAT} of version {STORE_FORMAT_VERSION}")
        return int(config["buckets"])

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Exclusive store lock (``flock`` on ``<root>/.lock``), re-entrant within this object."""
        with self._thread_lock:
            if self._lock_depth == 0:
                handle = (self.root / _LOCK_FILE).open("ab")
                fcntl.flock(handle, fcntl.LOCK_EX)
                self._lock_handle = handle
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
                if self._lock_depth == 0 and self._lock_handle is not None:
                    self._lock_handle.close()
                    self._lock_handle = None

    def _batch_path(self, batch: str) -> Path:
        return self.root / _BATCHES / f"{batch}.json"

    def _load_manifests(self) -> bool:
        """Load manifests not seen yet; True when one of them is still being published."""
        in_flight = False
        for entry in _manifest_names(self.root / _BATCHES):
            if entry not in self._manifests:
                self._add_batch(BatchManifest.from_json(read_json(self._batch_path(entry))))
                in_flight |= (self.root / _STAGING / entry).exists()
        for entry in _manifest_names(self.root / _COMPACTIONS):
            if entry not in self._compactions:
                path = self.root / _COMPACTIONS / f"{entry}.json"
                self._add_compaction(CompactionManifest.from_json(read_json(path)))
                in_flight |= (self.root / _STAGING / entry).exists()
        return in_flight

    def _refresh(self) -> None:
        """See batches and compactions other writers committed; finish any that is half published.

        The manifest folders are listed again only when one of them changed: a manifest is published by
        a rename into its folder, which sets the folder's modification time. A time less than
        :data:`_SETTLED_SECONDS` old is not trusted (file times are as coarse as the kernel's clock
        tick, so a rename in the same tick as the last listing could leave it unchanged)."""
        stamp = self._folder_stamp()
        if stamp is not None and stamp == self._seen:
            return
        if self._load_manifests():
            self.recover()
        self._seen = stamp

    def _folder_stamp(self) -> tuple[int, int] | None:
        """The modification times [ns] of the manifest folders, None while one changed very recently."""
        times = (
            (self.root / _BATCHES).stat().st_mtime_ns,
            (self.root / _COMPACTIONS).stat().st_mtime_ns,
        )
        settled = time.time_ns() - _SETTLED_SECONDS * 1_000_000_000
        return (times[0], times[1]) if max(times) < settled else None

    def _add_batch(self, manifest: BatchManifest) -> None:
        self.generation += 1
        self._manifests[manifest.batch] = manifest
        for file in manifest.files:
            if file.path not in self._replaced:
                self._live[file.dataset].setdefault((file.month, file.bucket), set()).add(file.path)

    def _add_compaction(self, compaction: CompactionManifest) -> None:
        self.generation += 1
        self._compactions[compaction.compaction] = compaction
        output = compaction.output
        leaf = self._live[output.dataset].setdefault((output.month, output.bucket), set())
        self._replaced.update(compaction.replaced)
        leaf.difference_update(compaction.replaced)
        for path in compaction.replaced:
            self._history.pop(path, None)
        self._several_versions.difference_update(compaction.replaced)
        if output.path not in self._replaced:
            leaf.add(output.path)
        if not compaction.split:
            self._several_versions.add(output.path)
        history = compaction.history
        if history is not None:
            self._several_versions.add(history.path)
        if (
            history is not None
            and compaction.current_as_of is not None
            and history.path not in self._replaced
        ):
            leaf.add(history.path)
            self._history[history.path] = compaction.current_as_of

    def _collect_staged(self, staged: StagedBatch) -> list[ManifestFile]:
        files: list[ManifestFile] = []
        for child in sorted(staged.path.iterdir()):
            if child.name == _LOCK_FILE:
                continue
            if child.name not in layout.DATASETS or not child.is_dir():
                raise StagingError(f"{child}: not a dataset directory (datasets: {sorted(layout.DATASETS)})")
            files.extend(self._check_dataset_files(staged.batch_id, layout.DATASETS[child.name], child))
        batch = staged.batch_id
        return [
            ManifestFile(
                f.dataset,
                f"{layout.leaf_dir(f.dataset, f.month, f.bucket, self.buckets)}/{batch}-{n}.parquet",
                f.staged,
                f.month,
                f.bucket,
                f.rows,
            )
            for n, f in enumerate(files)
        ]

    def _check_dataset_files(self, batch: str, ds: layout.Dataset, base: Path) -> list[ManifestFile]:
        """Staged files of ``ds`` (final path not yet set), after checking schema, leaf and batch column."""
        found: list[tuple[Path, str, int, int]] = []
        for path in sorted(base.rglob("*")):
            if path.is_dir():
                continue
            if path.suffix != ".parquet":
                raise StagingError(f"{path}: only Parquet files can be staged")
            try:
                month, bucket = layout.parse_leaf(path)
            except ValueError as error:
                raise StagingError(str(error)) from None
            if path.parent.parent.parent != base or not 0 <= bucket < self.buckets:
                raise StagingError(f"{path}: not in a leaf of {ds.name} with a bucket below {self.buckets}")
            schema = pq.read_schema(path)
            if [(f.name, f.type) for f in schema] != [(f.name, f.type) for f in ds.schema]:
                raise StagingError(f"{path}: schema {schema} is not that of {ds.name}: {ds.schema}")
            rows = pq.read_metadata(path).num_rows
            if rows:
                found.append((path, month, bucket, rows))
        if found:
            _check_rows(batch, ds, found, self.buckets)
        return [
            ManifestFile(ds.name, "", path.relative_to(self.root).as_posix(), month, bucket, rows)
            for path, month, bucket, rows in found
        ]

    def _publish(self, manifest: BatchManifest) -> None:
        """Move the files of a committed batch to their final paths and drop its staging directory."""
        touched: set[Path] = set()
        for file in manifest.files:
            touched.add(_move_into_place(self.root, file, self._replaced))
        for directory in touched:
            fsync_dir(directory)
        _remove(self.root / _STAGING / manifest.batch)

    def _publish_compaction(self, compaction: CompactionManifest) -> None:
        directory = _move_into_place(self.root, compaction.output, self._replaced)
        if compaction.history is not None:
            _move_into_place(self.root, compaction.history, self._replaced)
        for path in compaction.replaced:
            (self.root / path).unlink(missing_ok=True)
        fsync_dir(directory)
        _remove(self.root / _STAGING / compaction.compaction)

    def _compact_leaf(
        self, ds: layout.Dataset, month: str, bucket: int, paths: list[str]
    ) -> CompactionManifest:
        """Merge the files of one leaf. Readings are split in two sorted files: the current version of
        every value with every version counted (``{id}.parquet``), and the other versions
        (``{id}-history.parquet``: superseded and rejected, kept for audit and "as known at"
        questions). Readers of current values skip the history, so that a compacted month costs them
        one version per value (the capacity-tariff peaks of a month rest on this)."""
        cid = f"{COMPACTION_PREFIX}{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}"
        leaf = layout.leaf_dir(ds.name, month, bucket, self.buckets)
        staging = self.root / _STAGING / cid / leaf
        staging.mkdir(parents=True)
        inputs = [pq.read_table(self.root / p).cast(ds.schema) for p in paths]
        merged = layout.sort_rows(pa.concat_tables(inputs), ds)
        expected = sum(t.num_rows for t in inputs)
        parts = {f"{cid}.parquet": merged}
        if ds.name == layout.READINGS.name:
            current = current_mask(merged)
            parts = {f"{cid}.parquet": merged.filter(current)}
            if not current.all():
                parts[f"{cid}-history.parquet"] = merged.filter(~current)
        outputs = []
        for name, table in parts.items():
            staged_file = staging / name
            layout.write_leaf_file(table, ds, staged_file)
            written = pq.read_metadata(staged_file).num_rows
            fsync_file(staged_file)
            outputs.append(
                ManifestFile(
                    ds.name,
                    f"{leaf}/{name}",
                    staged_file.relative_to(self.root).as_posix(),
                    month,
                    bucket,
                    written,
                )
            )
        if sum(f.rows for f in outputs) != expected:
            raise StoreError(
                f"compaction of {leaf} wrote {sum(f.rows for f in outputs)} rows instead of {expected}"
            )
        fsync_dir(staging)
        history = outputs[1] if len(outputs) > 1 else None
        current_as_of = pc.max(merged.column(RECORDED_AT)).as_py() if history else None
        compaction = CompactionManifest(
            cid,
            datetime.now(UTC),
            tuple(paths),
            outputs[0],
            history,
            current_as_of,
            split=ds.name == layout.READINGS.name,
        )
        write_json_atomic(self.root / _COMPACTIONS / f"{cid}.json", compaction.to_json())  # the commit point
        self._add_compaction(compaction)
        self._publish_compaction(compaction)
        return compaction

    def _months_between(self, dataset: str, start: datetime | None, end: datetime | None) -> set[str] | None:
        if start is None and end is None:
            return None
        low = layout.month_of_instant(start) if start is not None else ""
        high = layout.month_of_instant(end) if end is not None else "9999-12"
        return {m for m in self.months(dataset) if low <= m <= high}


def _check_rows(
    batch: str, ds: layout.Dataset, files: list[tuple[Path, str, int, int]], buckets: int
) -> None:
    """Raise ``StagingError`` when a staged row lies outside its leaf, has another batch, or a null key.

    Month, batch and nulls are read from the statistics of every row group, which a staged file must
    carry (a missing statistic counts as a breach): the smallest and the largest value of the time
    column in the leaf's month (so every value is), the smallest and the largest ``batch`` equal to the
    batch, no null in a required column. The bucket is checked on each file's distinct access points.
    """
    leaves = ", ".join(f"({_sql_string(str(p))}, {_sql_string(m)}, {b})" for p, m, b, _ in files)
    listed = ", ".join(_sql_string(str(p)) for p, *_ in files)
    required = ", ".join(_sql_string(f.name) for f in ds.schema if not f.nullable)
    low, high = "coalesce(stats_min_value, stats_min)", "coalesce(stats_max_value, stats_max)"
    leaf = f"(VALUES {leaves}) AS leaf(filename, leaf_month, leaf_bucket)"
    con = duckdb.connect()
    try:
        bad = con.sql(
            f"""SELECT file_name, path_in_schema, row_group_id
            FROM parquet_metadata([{listed}]) AS stats JOIN {leaf} ON leaf.filename = stats.file_name
            WHERE (path_in_schema = {_sql_string(ds.time_column)}
                   AND ({layout.month_sql(ds, low)} IS DISTINCT FROM leaf_month
                        OR {layout.month_sql(ds, high)} IS DISTINCT FROM leaf_month))
               OR (path_in_schema = {_sql_string(BATCH)}
                   AND ({low} IS DISTINCT FROM {_sql_string(batch)}
                        OR {high} IS DISTINCT FROM {_sql_string(batch)}))
               OR (path_in_schema IN ({required}) AND stats_null_count IS DISTINCT FROM 0)
            ORDER BY ALL LIMIT 3"""
        ).fetchall()
        bad += con.sql(
            f"""SELECT filename, {AP}, leaf_bucket FROM (
                SELECT DISTINCT filename, {AP}
                FROM read_parquet([{listed}], filename = true, hive_partitioning = false)
            ) AS staged JOIN {leaf} USING (filename)
            WHERE {layout.bucket_sql(buckets)} <> leaf_bucket ORDER BY ALL LIMIT 3"""
        ).fetchall()
    finally:
        con.close()
    if bad:
        raise StagingError(
            f"{ds.name}: rows outside their month/bucket, of another batch than {batch!r}, or with a null "
            f"key (or a row group without statistics): {bad}"
        )


def _read_row_groups(paths: list[Path], ap: str, columns: list[str] | None = None) -> pa.Table:
    """The rows (``columns`` only, when given) of the row groups, in ``paths``, whose ``ap`` min/max
    statistics can hold ``ap``; the files are read in parallel (Parquet decoding releases the GIL)."""
    schema = (
        layout.READINGS.schema
        if columns is None
        else pa.schema([layout.READINGS.schema.field(c) for c in columns])
    )

    def read(path: Path) -> pa.Table | None:
        status = path.stat()
        metadata, lows, highs = _footer(path, status.st_mtime_ns, status.st_size)
        groups = [i for i, (low, high) in enumerate(zip(lows, highs, strict=True)) if low <= ap <= high]
        if not groups:
            return None
        with pa.OSFile(str(path)) as source:  # a local file: no file-system resolution of the path
            parquet = pq.ParquetFile(source, metadata=metadata)
            return parquet.read_row_groups(groups, columns=columns, use_threads=False).cast(schema)

    parts = list(_READERS.map(read, paths)) if len(paths) > 1 else [read(p) for p in paths]
    tables = [part for part in parts if part is not None]
    if not tables:
        return schema.empty_table()
    return pa.concat_tables(tables)


_READERS: Final = ThreadPoolExecutor(max_workers=4, thread_name_prefix="store-read")


@functools.lru_cache(maxsize=4096)
def _footer(path: Path, mtime_ns: int, size: int) -> tuple[pq.FileMetaData, list[str], list[str]]:
    """The footer of a committed readings file and the ``ap`` range of each row group, read once per
    version of the file (committed files are never changed in place; the key holds time and size)."""
    metadata = pq.ParquetFile(path).metadata
    ap_index = layout.READINGS.columns.index(AP)
    lows, highs = [], []
    for i in range(metadata.num_row_groups):
        stats = metadata.row_group(i).column(ap_index).statistics
        known = stats is not None and stats.has_min_max
        lows.append(stats.min if known else "")
        highs.append(stats.max if known else "\uffff")
    return metadata, lows, highs


def _move_into_place(root: Path, file: ManifestFile, replaced: set[str]) -> Path:
    """Rename a committed file from staging to its final path (when not done yet); its directory."""
    staged, final = root / file.staged, root / file.path
    final.parent.mkdir(parents=True, exist_ok=True)
    if staged.exists():
        if final.exists():
            raise StoreError(f"{final} exists already; refusing to overwrite it with {staged}")
        staged.rename(final)
    elif not final.exists() and file.path not in replaced:
        raise StoreError(f"committed file {file.path} is neither staged nor in place")
    return final.parent


def _manifest_names(directory: Path) -> list[str]:
    """Ids of the manifests in ``directory`` (``<id>.json``; temporary files start with a dot)."""
    return [
        entry.name.removesuffix(".json")
        for entry in os.scandir(directory)
        if entry.name.endswith(".json") and not entry.name.startswith(".")
    ]


def _staging_alive(path: Path) -> bool:
    """True when a live writer holds the lock of staging directory ``path``."""
    lock = path / _LOCK_FILE
    if not lock.exists():
        return False
    with lock.open("ab") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
    return False


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _check_batch_id(batch_id: str) -> None:
    if not _BATCH_ID.match(batch_id) or batch_id.startswith(COMPACTION_PREFIX):
        raise ValueError(
            f"batch id {batch_id!r}: letters, digits, '_', '.', '-', at most 200, not starting with "
            f"'{COMPACTION_PREFIX}'"
        )


def _check_ap(ap: str) -> str:
    if not _AP.match(ap):
        raise ValueError(f"{ap!r} is not a pseudonym (16 lowercase hex characters)")
    return ap


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
