"""The market outbox: every message the register sends a party, in the order it was decided (issue 3).

Each row is one outbound message of :mod:`kwartier.market.messages` (``payload`` is its JSON, valid
against ``market/schemas/v<version>/<type>.json``); rows are only inserted. ``id`` gives the order; a
recipient reads its messages after the last id it has seen.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kwartier.domain.ean import EAN_LENGTH
from kwartier.registry.access_register import PROCESS_ID_LENGTH
from kwartier.registry.base import Base, UtcDateTime


class OutboxMessage(Base):
    """One outbound market message for ``recipient``."""

    __tablename__ = "market_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(sa.String(200), unique=True)
    type: Mapped[str] = mapped_column(sa.String(40))
    version: Mapped[int]
    recipient: Mapped[str] = mapped_column(sa.String(64), index=True)
    ean: Mapped[str | None] = mapped_column(sa.String(EAN_LENGTH))
    process_id: Mapped[str | None] = mapped_column(sa.String(PROCESS_ID_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    payload: Mapped[str] = mapped_column(sa.Text())
