"""The batch catalogue and the pseudonymisation keys round-trip through the registry."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from kwartier.registry.batches import BatchExistsError, BatchRecord, get_batch, list_batches, record_batch
from kwartier.registry.codes import BatchKind, BatchStatus
from kwartier.registry.pseudonym_keys import (
    PseudonymKey,
    PseudonymKeyError,
    active_pseudonym_key,
    register_pseudonym_key,
)
from kwartier.store.pseudonym import Pseudonymiser

RECORDED = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def _batch(content: bytes, status: BatchStatus = BatchStatus.COMMITTED, minutes: int = 0) -> BatchRecord:
    recorded = RECORDED + timedelta(minutes=minutes)
    return BatchRecord(
        batch_id=hashlib.sha256(content).hexdigest(),
        file_name=f"{content.decode()}.csv",
        format="headend-intervals",
        kind=BatchKind.INGEST,
        status=status,
        report={"rows": 96, "quarantined": [{"line": 3, "reason": "C01-EAN"}], "kwh": 1.5},
        recorded_at=recorded,
        committed_at=recorded + timedelta(seconds=2) if status is BatchStatus.COMMITTED else None,
    )


def test_a_batch_round_trips(registry: sessionmaker[Session]) -> None:
    record = _batch(b"first")
    with registry() as session:
        record_batch(session, record)
        session.commit()
    with registry() as session:
        assert get_batch(session, record.batch_id) == record
        assert get_batch(session, hashlib.sha256(b"unknown").hexdigest()) is None


def test_batches_are_listed_newest_first(registry: sessionmaker[Session]) -> None:
    records = [_batch(b"a", minutes=1), _batch(b"b", minutes=3), _batch(b"c", BatchStatus.FAILED, minutes=2)]
    with registry() as session:
        for record in records:
            record_batch(session, record)
        session.commit()
        assert [r.file_name for r in list_batches(session, limit=10)] == ["b.csv", "c.csv", "a.csv"]
        assert [r.file_name for r in list_batches(session, limit=1)] == ["b.csv"]


def test_a_committed_batch_cannot_be_recorded_again_but_a_failed_one_can(
    registry: sessionmaker[Session],
) -> None:
    failed, retried = _batch(b"x", BatchStatus.FAILED), _batch(b"x", minutes=5)
    with registry() as session:
        record_batch(session, failed)
        record_batch(session, retried)
        session.commit()
        assert get_batch(session, retried.batch_id) == retried
        with pytest.raises(BatchExistsError, match="already committed"):
            record_batch(session, _batch(b"x", minutes=9))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"batch_id": "not-a-digest"}, "SHA-256"),
        ({"committed_at": None}, "committed_at"),
    ],
)
def test_a_malformed_batch_is_refused(
    registry: sessionmaker[Session], change: dict[str, object], message: str
) -> None:
    record = BatchRecord(**{**_batch(b"y").__dict__, **change})
    with registry() as session, pytest.raises(ValueError, match=message):
        record_batch(session, record)


def test_the_newest_key_is_the_active_one_and_no_secret_is_stored(
    registry: sessionmaker[Session], tmp_path: Path
) -> None:
    first = Pseudonymiser.from_key_file(tmp_path / "one.key")
    second = Pseudonymiser.from_key_file(tmp_path / "two.key")
    with registry() as session:
        assert active_pseudonym_key(session) is None
        registered = register_pseudonym_key(session, first.key_id, first.fingerprint)
        session.commit()
        assert registered.algorithm == "HMAC-SHA256"
        assert active_pseudonym_key(session) == registered
        register_pseudonym_key(session, second.key_id, second.fingerprint)
        session.commit()
    with registry() as session:
        active = active_pseudonym_key(session)
        assert active is not None
        assert (active.key_id, active.fingerprint, active.active) == (second.key_id, second.fingerprint, True)
        assert active.created_at.tzinfo is not None
        again = register_pseudonym_key(session, first.key_id, first.fingerprint)  # known: unchanged
        assert not again.active
        assert session.scalars(sa.select(PseudonymKey.key_id).where(PseudonymKey.active)).all() == [
            second.key_id
        ]
        secrets = {(tmp_path / name).read_bytes().hex() for name in ("one.key", "two.key")}
        stored = {value for key in session.scalars(sa.select(PseudonymKey)) for value in vars(key).values()}
        assert not secrets & {str(value) for value in stored}


def test_a_key_id_cannot_change_fingerprint(registry: sessionmaker[Session]) -> None:
    with registry() as session:
        register_pseudonym_key(session, "k1", "a" * 64)
        with pytest.raises(PseudonymKeyError, match="another fingerprint"):
            register_pseudonym_key(session, "k1", "b" * 64)
        with pytest.raises(PseudonymKeyError, match="SHA-256"):
            register_pseudonym_key(session, "k2", "secret")
