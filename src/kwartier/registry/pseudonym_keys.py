"""The pseudonymisation keys the meter-data store was built with, identified without their secret.

Rules (Energiebesluit art. 3.1.61 §3, seed 001; :mod:`kwartier.store.pseudonym`):
- the registry never holds a secret: a key is known by its ``key_id`` and its fingerprint, the SHA-256
  (hex) of SHA-256(secret);
- exactly one key is active, the one new data is pseudonymised with: registering a new key makes it the
  active one; registering a known key again (same id and fingerprint) changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from kwartier.registry.base import Base, UtcDateTime

HMAC_SHA256: Final = "HMAC-SHA256"
FINGERPRINT = re.compile(r"[0-9a-f]{64}")


class PseudonymKeyError(ValueError):
    """A key id registered with another fingerprint, or a malformed fingerprint."""


class PseudonymKey(Base):
    """A pseudonymisation key, known by id and fingerprint only."""

    __tablename__ = "pseudonym_keys"

    key_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(sa.String(32))
    fingerprint: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    active: Mapped[bool]


@dataclass(frozen=True)
class RegisteredKey:
    """A registered pseudonymisation key."""

    key_id: str
    algorithm: str
    fingerprint: str
    created_at: datetime
    active: bool


def register_pseudonym_key(session: Session, key_id: str, fingerprint: str) -> RegisteredKey:
    """Register key ``key_id`` with ``fingerprint`` and make it the active key; the caller commits.

    A key registered before with the same fingerprint is returned unchanged (it is not reactivated);
    the same id with another fingerprint raises :class:`PseudonymKeyError`.
    """
    if not FINGERPRINT.fullmatch(fingerprint):
        raise PseudonymKeyError(f"{fingerprint!r}: a fingerprint is a lowercase SHA-256 hex digest")
    existing = session.get(PseudonymKey, key_id)
    if existing is not None:
        if existing.fingerprint != fingerprint:
            raise PseudonymKeyError(f"key {key_id!r} is registered with another fingerprint")
        return _to_record(existing)
    session.execute(sa.update(PseudonymKey).where(PseudonymKey.active).values(active=False))
    key = PseudonymKey(
        key_id=key_id,
        algorithm=HMAC_SHA256,
        fingerprint=fingerprint,
        created_at=datetime.now(UTC),
        active=True,
    )
    session.add(key)
    session.flush()
    return _to_record(key)


def active_pseudonym_key(session: Session) -> RegisteredKey | None:
    """The active pseudonymisation key, or None when none is registered."""
    key = session.scalars(sa.select(PseudonymKey).where(PseudonymKey.active)).one_or_none()
    return None if key is None else _to_record(key)


def _to_record(key: PseudonymKey) -> RegisteredKey:
    return RegisteredKey(
        key_id=key.key_id,
        algorithm=key.algorithm,
        fingerprint=key.fingerprint,
        created_at=key.created_at,
        active=key.active,
    )
