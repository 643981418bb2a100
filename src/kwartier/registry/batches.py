"""The batch catalogue: every batch the meter-data store received, committed or failed.

Rules:
- a batch is identified by the SHA-256 (hex) of its input file's content, so the same file is one batch
  however often it is offered (estimation and compaction batches hash their own input description);
- a committed batch is immutable: recording it again is an error; a failed batch may be recorded again
  (a retry), which replaces the failed record;
- the report is stored as JSON text with sorted keys; instants are UTC.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from kwartier.registry.base import Base, UtcDateTime, code_list
from kwartier.registry.codes import BatchKind, BatchStatus

SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class BatchExistsError(ValueError):
    """A committed batch with this id is already in the catalogue."""


class Batch(Base):
    """One row of the batch catalogue."""

    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # sha256 hex of the input
    file_name: Mapped[str] = mapped_column(sa.String(500))
    format: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[BatchKind] = mapped_column(code_list(BatchKind, "batch_kind"))
    status: Mapped[BatchStatus] = mapped_column(code_list(BatchStatus, "batch_status"))
    report: Mapped[str] = mapped_column(sa.Text())  # JSON
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    committed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


@dataclass(frozen=True)
class BatchRecord:
    """A batch as the rest of kwartier sees it (``report`` is the decoded JSON)."""

    batch_id: str
    file_name: str
    format: str
    kind: BatchKind
    status: BatchStatus
    report: dict[str, Any]
    recorded_at: datetime
    committed_at: datetime | None


def record_batch(session: Session, record: BatchRecord) -> None:
    """Add ``record`` to the catalogue (replacing a failed record of the same id); the caller commits.

    Raises :class:`BatchExistsError` when a committed batch with the same id exists, and ``ValueError``
    when the id is not a SHA-256 hex digest or a committed batch has no ``committed_at``.
    """
    if not SHA256_HEX.fullmatch(record.batch_id):
        raise ValueError(f"{record.batch_id!r}: a batch id is a lowercase SHA-256 hex digest")
    if (record.status is BatchStatus.COMMITTED) != (record.committed_at is not None):
        raise ValueError(f"batch {record.batch_id}: committed_at is set exactly when it is committed")
    existing = session.get(Batch, record.batch_id)
    if existing is not None:
        if existing.status is BatchStatus.COMMITTED:
            raise BatchExistsError(f"batch {record.batch_id} ({existing.file_name}) is already committed")
        session.delete(existing)
        session.flush()
    session.add(
        Batch(
            id=record.batch_id,
            file_name=record.file_name,
            format=record.format,
            kind=record.kind,
            status=record.status,
            report=json.dumps(record.report, sort_keys=True),
            recorded_at=record.recorded_at,
            committed_at=record.committed_at,
        )
    )
    session.flush()


def get_batch(session: Session, batch_id: str) -> BatchRecord | None:
    """The catalogue record of ``batch_id``, or None when the catalogue does not know it."""
    row = session.get(Batch, batch_id)
    return None if row is None else _to_record(row)


def list_batches(session: Session, limit: int = 100) -> list[BatchRecord]:
    """The ``limit`` most recently recorded batches, newest first (ties by id)."""
    query = sa.select(Batch).order_by(Batch.recorded_at.desc(), Batch.id).limit(limit)
    return [_to_record(row) for row in session.scalars(query)]


def _to_record(row: Batch) -> BatchRecord:
    return BatchRecord(
        batch_id=row.id,
        file_name=row.file_name,
        format=row.format,
        kind=BatchKind(row.kind),
        status=BatchStatus(row.status),
        report=json.loads(row.report),
        recorded_at=row.recorded_at,
        committed_at=row.committed_at,
    )
