"""The access register as append-only bitemporal facts (issue 3; rules in :mod:`kwartier.market.register`).

A row says: from market day ``valid_from`` on, ``attribute`` of access point ``ean`` is ``value`` (JSON
text; null: no value from then on), as learnt at ``recorded_at`` by process ``process_id`` (null: loaded
from the master data). Rows are only inserted, never updated or deleted.

No foreign key: PostgreSQL checks one per inserted row with a query and a row lock (a million facts by
``COPY``: 11.2 s with it, 4.6 s without), a fifth of a replay of market messages. The rows are written
only by the market's chunks, in the transaction that locks the access point (``SELECT … FOR UPDATE``)
after reading it from ``access_points``; and an access point with facts always has a market process
(facts are written only with a process's outcome), whose foreign key keeps the access point from being
deleted. ``tests/market/test_chunks.py`` checks both (and that every process event names a stored
process) after a simulated stream with faults and the clock run on, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kwartier.domain.ean import EAN_LENGTH
from kwartier.registry.base import Base, UtcDateTime

PROCESS_ID_LENGTH = 100


class RegisterFact(Base):
    """One fact of the access register (see the module docstring)."""

    __tablename__ = "register_facts"
    __table_args__ = (sa.Index("ix_register_facts_ean_attribute", "ean", "attribute"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ean: Mapped[str] = mapped_column(sa.String(EAN_LENGTH))
    attribute: Mapped[str] = mapped_column(sa.String(100))
    value: Mapped[str | None] = mapped_column(sa.Text())
    valid_from: Mapped[date]
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    process_id: Mapped[str | None] = mapped_column(sa.String(PROCESS_ID_LENGTH))
    source: Mapped[str] = mapped_column(sa.String(32))
