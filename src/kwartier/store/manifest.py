"""Manifests: the durable records that make a batch or a compaction part of the store.

Rules:
- a batch exists from the moment its manifest ``_batches/<batch>.json`` exists, a compaction from the
  moment ``_compactions/<id>.json`` exists; both are written atomically (temporary file, fsync,
  ``os.replace``, fsync of the directory), so a reader sees a whole manifest or none;
- a manifest lists each file twice: where it was staged and where it lives once published, so that
  recovery after a crash can finish moving the files (roll forward);
- paths are relative to the store root, with ``/`` separators.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

FORMAT_VERSION: Final = 1


@dataclass(frozen=True)
class ManifestFile:
    """One Parquet file of a batch or compaction: its final and staged paths, leaf and row count."""

    dataset: str
    path: str
    staged: str
    month: str
    bucket: int
    rows: int

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "path": self.path,
            "staged": self.staged,
            "month": self.month,
            "bucket": self.bucket,
            "rows": self.rows,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ManifestFile:
        return cls(
            dataset=str(data["dataset"]),
            path=str(data["path"]),
            staged=str(data["staged"]),
            month=str(data["month"]),
            bucket=int(data["bucket"]),
            rows=int(data["rows"]),
        )


@dataclass(frozen=True)
class BatchManifest:
    """The committed content of one batch."""

    batch: str
    committed_at: datetime
    report: dict[str, Any]
    files: tuple[ManifestFile, ...] = field(default=())

    def rows(self, dataset: str) -> int:
        """Rows this batch added to ``dataset``."""
        return sum(f.rows for f in self.files if f.dataset == dataset)

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "kind": "batch",
            "batch": self.batch,
            "committed_at": self.committed_at.isoformat(),
            "report": self.report,
            "files": [f.to_json() for f in self.files],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BatchManifest:
        _check_version(data, "batch")
        return cls(
            batch=str(data["batch"]),
            committed_at=datetime.fromisoformat(data["committed_at"]),
            report=dict(data["report"]),
            files=tuple(ManifestFile.from_json(f) for f in data["files"]),
        )


@dataclass(frozen=True)
class CompactionManifest:
    """One compaction of one leaf: the files it replaced and the files that replace them.

    ``output`` holds the current version of every value (every version counted) and ``history`` the
    others: superseded and rejected versions, kept for audit and for questions "as known at" a moment
    before ``current_as_of`` (the latest recording among the inputs). From that moment on no version in
    ``history`` is current, so readers of current values leave the file out. ``split`` says that the
    versions were split so. Manifests written before the split have no ``history`` and their ``output``
    holds every version; they, and those written before ``split`` was recorded (2026-11-25), read as
    ``split`` false, which costs the billing peaks of such an output a count of distinct quarters
    (:meth:`~kwartier.store.store.MeterStore.holds_one_version`), never a wrong result.
    """

    compaction: str
    created_at: datetime
    replaced: tuple[str, ...]
    output: ManifestFile
    history: ManifestFile | None = None
    current_as_of: datetime | None = None
    split: bool = False

    def to_json(self) -> dict[str, Any]:
        data = {
            "format_version": FORMAT_VERSION,
            "kind": "compaction",
            "compaction": self.compaction,
            "created_at": self.created_at.isoformat(),
            "replaced": list(self.replaced),
            "output": self.output.to_json(),
            "split": self.split,
        }
        if self.history is not None and self.current_as_of is not None:
            data["history"] = self.history.to_json()
            data["current_as_of"] = self.current_as_of.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CompactionManifest:
        _check_version(data, "compaction")
        history = data.get("history")
        current_as_of = data.get("current_as_of")
        return cls(
            compaction=str(data["compaction"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            replaced=tuple(str(p) for p in data["replaced"]),
            output=ManifestFile.from_json(data["output"]),
            history=None if history is None else ManifestFile.from_json(history),
            current_as_of=None if current_as_of is None else datetime.fromisoformat(current_as_of),
            split=bool(data.get("split", False)),
        )


def _check_version(data: dict[str, Any], kind: str) -> None:
    if data.get("kind") != kind or data.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"not a {kind} manifest of format {FORMAT_VERSION}: {data.get('kind')!r}")


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a manifest is a JSON object")
    return data


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` so that readers see the old file, or the whole new one.

    Temporary file in the same directory, fsync, ``os.replace``, fsync of the directory. Raises
    ``TypeError`` before touching the disk when ``data`` is not JSON-serialisable.
    """
    text = json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
    fsync_dir(path.parent)


def fsync_file(path: Path) -> None:
    """Flush the content of ``path`` to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Flush the entries of directory ``path`` (renames, new files) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
