"""Market processes, their append-only event history, their reservations and the inbox of messages
(issue 3; the state machines are :mod:`kwartier.market.processes`).

- ``market_processes`` holds each process in its current state (a projection of its events); a process
  is identified by the id of the message that started it;
- ``process_events`` is the history: one row per step, only ever inserted, in the transaction that
  inserts or updates its process; without a foreign key to the process, for the reason the register facts
  have none (:mod:`kwartier.registry.access_register`);
- ``reservations``: a process reserves its access point with an owner, a deadline and an escalation; a
  released reservation keeps its row with ``released_at`` and the reason;
- ``market_inbox``: every inbound message id once, with the SHA-256 of its payload and the answer given,
  so that the same message again gets the same answer and changes nothing (idempotency).
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kwartier.domain.ean import EAN_LENGTH
from kwartier.market.codes import ProcessKind, ProcessState
from kwartier.registry.access_register import PROCESS_ID_LENGTH
from kwartier.registry.base import Base, UtcDateTime, code_list


class MarketProcess(Base):
    """A market process on access point ``ean`` in its current ``state``."""

    __tablename__ = "market_processes"

    id: Mapped[str] = mapped_column(sa.String(PROCESS_ID_LENGTH), primary_key=True)
    kind: Mapped[ProcessKind] = mapped_column(code_list(ProcessKind, "process_kind"))
    ean: Mapped[str] = mapped_column(sa.ForeignKey("access_points.ean"), index=True)
    state: Mapped[ProcessState] = mapped_column(code_list(ProcessState, "process_state"), index=True)
    sender: Mapped[str] = mapped_column(sa.String(13))
    effective_date: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    steps: Mapped[int]
    data: Mapped[str] = mapped_column(sa.Text())  # JSON
    attention_reason: Mapped[str | None] = mapped_column(sa.String(32))
    attention_text: Mapped[str | None] = mapped_column(sa.Text())
    attention_actions: Mapped[str | None] = mapped_column(sa.Text())  # JSON list
    attention_since: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ProcessEvent(Base):
    """Step ``step`` of process ``process_id``: from ``from_state`` (null: created) to ``to_state``."""

    __tablename__ = "process_events"
    __table_args__ = (sa.UniqueConstraint("process_id", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(sa.String(PROCESS_ID_LENGTH))
    step: Mapped[int]
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    from_state: Mapped[str | None] = mapped_column(sa.String(32))
    to_state: Mapped[str] = mapped_column(sa.String(32))
    note: Mapped[str] = mapped_column(sa.Text())
    message_id: Mapped[str | None] = mapped_column(sa.String(PROCESS_ID_LENGTH))


class Reservation(Base):
    """Process ``process_id`` reserves ``ean``: ``owner`` acts by ``deadline``, else ``escalation``."""

    __tablename__ = "reservations"
    __table_args__ = (sa.CheckConstraint("level >= 0", name="level_not_negative"),)

    process_id: Mapped[str] = mapped_column(sa.ForeignKey("market_processes.id"), primary_key=True)
    ean: Mapped[str] = mapped_column(sa.ForeignKey("access_points.ean"), index=True)
    owner: Mapped[str] = mapped_column(sa.String(64))
    reserved_at: Mapped[datetime] = mapped_column(UtcDateTime())
    deadline: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    escalation: Mapped[str] = mapped_column(sa.String(200))
    level: Mapped[int]
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    release_reason: Mapped[str | None] = mapped_column(sa.String(64))


class InboxMessage(Base):
    """Inbound message ``message_id``, received once, with the answer it got."""

    __tablename__ = "market_inbox"

    message_id: Mapped[str] = mapped_column(sa.String(PROCESS_ID_LENGTH), primary_key=True)
    sender: Mapped[str] = mapped_column(sa.String(13))
    type: Mapped[str] = mapped_column(sa.String(40))
    ean: Mapped[str] = mapped_column(sa.String(EAN_LENGTH))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    payload_sha256: Mapped[str] = mapped_column(sa.String(64))
    answer: Mapped[str] = mapped_column(sa.Text())  # JSON
