"""The batch catalogue in the registry, kept in step with the store's manifests.

Rule: the store's manifest is the commit point of a batch; the registry's catalogue row follows it. If a
process dies between the two, :func:`reconcile` adds the missing rows from the manifests, so the catalogue
never misses a committed batch and never lists one the store does not have.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from kwartier.registry.batches import BatchRecord, get_batch, record_batch
from kwartier.registry.codes import BatchKind, BatchStatus
from kwartier.store.store import MeterStore


def record_committed(sessions: sessionmaker[Session], store: MeterStore, batch_id: str) -> None:
    """Add the catalogue row of committed batch ``batch_id`` (from its manifest), unless it is there."""
    manifest = store.batch_manifest(batch_id)
    report = dict(manifest.report)
    with sessions() as session, session.begin():
        if get_batch(session, batch_id) is not None:
            return
        record_batch(
            session,
            BatchRecord(
                batch_id=batch_id,
                file_name=str(report.get("file", "")),
                format=str(report.get("format", "")),
                kind=BatchKind(str(report.get("kind", BatchKind.INGEST.value))),
                status=BatchStatus.COMMITTED,
                report=report,
                recorded_at=datetime.fromisoformat(str(report["recorded_at"])),
                committed_at=manifest.committed_at,
            ),
        )


def reconcile(sessions: sessionmaker[Session], store: MeterStore) -> int:
    """Record every committed store batch the catalogue lacks; returns how many were added."""
    with sessions() as session:
        missing = [b for b in store.committed_batches() if get_batch(session, b) is None]
    for batch_id in missing:
        record_committed(sessions, store, batch_id)
    return len(missing)
