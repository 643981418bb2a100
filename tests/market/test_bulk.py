"""Bulk writes (SQLite executemany, PostgreSQL COPY) store exactly what a Core insert or update stores."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from kwartier.market import bulk
from kwartier.registry.access_register import RegisterFact
from kwartier.registry.market_processes import MarketProcess
from tests.market.helpers import E1, E3, STROOM

FACTS = RegisterFact.metadata.tables[RegisterFact.__tablename__]
PROCESSES = MarketProcess.metadata.tables[MarketProcess.__tablename__]
FACT_COLUMNS = ("ean", "attribute", "value", "valid_from", "recorded_at", "process_id", "source")
BRUSSELS_SUMMER = timezone(timedelta(hours=2))


def _insert(session: Session, table: sa.Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    with bulk.Writer(session) as writer:
        writer.insert(table, columns, rows)


def _update(
    session: Session,
    table: sa.Table,
    columns: tuple[str, ...],
    key: tuple[str, ...],
    rows: list[tuple[Any, ...]],
) -> None:
    with bulk.Writer(session) as writer:
        writer.update(table, columns, key, rows)


def _stored(session: Session, table: str, order: str) -> list[tuple[Any, ...]]:
    """The rows of ``table`` as the database driver returns them (no SQLAlchemy type processing)."""
    result = session.connection().exec_driver_sql(f"SELECT * FROM {table} ORDER BY {order}")
    return [tuple(row) for row in result]


def test_bulk_insert_stores_what_a_core_insert_stores(market: sessionmaker[Session]) -> None:
    instant = datetime(2026, 3, 29, 3, 30, 0, 250, tzinfo=BRUSSELS_SUMMER)  # stored in UTC
    rows = [
        (E1, "supplier", '"5414499000017"', date(2026, 3, 29), instant, "p1", "switch"),
        (E3, "grid_user", None, date(2026, 1, 1), instant.astimezone(UTC), None, "master_data"),
        # a tab, a line break, a backslash and text beyond ASCII, raw and inside JSON
        (E3, "note\tx\ny\\z é", '{"text": "a\\tb\\n\\\\ ☀"}', date(2026, 1, 2), instant, "p\\2", "switch"),
    ]
    with market() as session:
        _insert(session, FACTS, FACT_COLUMNS, rows)
        via_bulk = _stored(session, "register_facts", "id")
        session.rollback()
        session.execute(sa.insert(FACTS), [dict(zip(FACT_COLUMNS, row, strict=True)) for row in rows])
        via_core = _stored(session, "register_facts", "id")
        session.rollback()
    assert [row[1:] for row in via_bulk] == [row[1:] for row in via_core]
    assert len(via_bulk) == 3 and via_bulk[2][2] == "note\tx\ny\\z é"


def test_bulk_update_sets_what_a_core_update_sets(market: sessionmaker[Session]) -> None:
    created = datetime(2026, 2, 1, 9, tzinfo=UTC)
    process = {
        "id": "sw1",
        "kind": "switch",
        "ean": E1,
        "state": "pending",
        "sender": STROOM,
        "effective_date": date(2026, 2, 10),
        "created_at": created,
        "updated_at": created,
        "steps": 1,
        "data": "{}",
    }
    changed = ("state", "updated_at", "steps")
    later = datetime(2026, 2, 10, 0, 5, tzinfo=BRUSSELS_SUMMER)
    with market() as session:
        session.execute(sa.insert(MarketProcess), [process])
        _update(session, PROCESSES, changed, ("id",), [("awaiting_index", later, 2, "sw1")])
        via_bulk = _stored(session, "market_processes", "id")
        session.rollback()
        session.execute(sa.insert(MarketProcess), [process])
        session.execute(
            sa.update(MarketProcess).where(MarketProcess.id == "sw1"),
            {"state": "awaiting_index", "updated_at": later, "steps": 2},
        )
        via_core = _stored(session, "market_processes", "id")
        session.rollback()
    assert via_bulk == via_core
    assert via_bulk[0][3] == "awaiting_index"


def test_bulk_writes_refuse_what_the_columns_refuse(market: sessionmaker[Session]) -> None:
    naive = (E1, "supplier", None, date(2026, 1, 1), datetime(2026, 1, 1, 9), None, "switch")  # noqa: DTZ001
    with market() as session, pytest.raises(ValueError, match="timezone-aware"):
        _insert(session, FACTS, FACT_COLUMNS, [naive])
    with market() as session, pytest.raises(LookupError):
        _update(session, PROCESSES, ("state",), ("id",), [("stuck", "sw1")])
