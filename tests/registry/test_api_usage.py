"""API usage counts add up across flushes, on SQLite and PostgreSQL (the upsert of
:meth:`kwartier.access.usage.UsageCounter.flush`)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from kwartier.access.usage import UsageCounter
from kwartier.registry.data_access import ApiUsage


def _stored(registry: sessionmaker[Session]) -> dict[tuple[date, str, str], tuple[int, int]]:
    with registry() as session:
        rows = session.execute(
            sa.select(ApiUsage.day, ApiUsage.client_id, ApiUsage.call, ApiUsage.calls, ApiUsage.refused)
        )
        return {(day, client, call): (calls, refused) for day, client, call, calls, refused in rows}


def test_counts_are_added_to_the_stored_ones(registry: sessionmaker[Session]) -> None:
    counter = UsageCounter()
    day = date(2026, 11, 24)
    assert counter.flush(registry) == 0  # nothing counted: nothing written
    for _ in range(3):
        counter.count(day, "client-a", "GET /energy", "v1")
    counter.count(day, "client-a", "GET /energy", "v1", refused=True)
    counter.count(day, "account:7", "GET /energy", "v1")
    assert counter.flush(registry) == 2
    assert _stored(registry) == {
        (day, "client-a", "GET /energy"): (4, 1),
        (day, "account:7", "GET /energy"): (1, 0),
    }

    counter.count(day, "client-a", "GET /energy", "v1", refused=True)
    counter.count(date(2026, 11, 25), "client-a", "GET /energy", "v1")
    assert counter.flush(registry) == 2
    assert _stored(registry) == {
        (day, "client-a", "GET /energy"): (5, 2),
        (day, "account:7", "GET /energy"): (1, 0),
        (date(2026, 11, 25), "client-a", "GET /energy"): (1, 0),
    }
