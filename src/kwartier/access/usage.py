"""API use per provider, call type and API version over a rolling 30 days (issue 6; seed 000 §7.2).

Rules: calls are counted in memory per (day, client, call, version) and added to ``api_usage`` by
:meth:`UsageCounter.flush` (every few seconds by the server, and at shutdown), so the hot path never waits
for a write; a crash loses at most the counts since the last flush — usage statistics, not an audit trail
(the access log is written synchronously).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from kwartier.registry.data_access import ApiClient, ApiUsage, DataAccessContract
from kwartier.registry.database import core
from kwartier.registry.parties import Party

WINDOW: Final = timedelta(days=30)
_Key = tuple[date, str, str, str]
_KEY_COLUMNS: Final = ("day", "client_id", "call", "version")


class UsageCounter:
    """Thread-safe in-memory call counts, flushed into ``api_usage``."""

    def __init__(self) -> None:
        self._calls: Counter[_Key] = Counter()
        self._refused: Counter[_Key] = Counter()
        self._lock = threading.Lock()

    def count(self, day: date, client: str, call: str, version: str, *, refused: bool = False) -> None:
        """Count one call (refused: answered 429)."""
        key = (day, client, call[:120], version)
        with self._lock:
            self._calls[key] += 1
            if refused:
                self._refused[key] += 1

    def flush(self, sessions: sessionmaker[Session]) -> int:
        """Add the counts to ``api_usage`` (one upsert statement for all keys); returns the number of keys
        written."""
        with self._lock:
            calls, refused = self._calls, self._refused
            self._calls, self._refused = Counter(), Counter()
        if not calls:
            return 0
        rows = [
            {**dict(zip(_KEY_COLUMNS, key, strict=True)), "calls": n, "refused": refused[key]}
            for key, n in calls.items()
        ]
        with sessions() as session, session.begin():
            core(session).execute(_add_statement(session.get_bind().dialect.name), rows)
        return len(calls)


def _add_statement(dialect: str) -> sa.Insert:
    """``INSERT … ON CONFLICT (key) DO UPDATE`` adding the new counts to a key's stored ones (SQLite and
    PostgreSQL spell it alike)."""
    insert = postgresql.insert(ApiUsage) if dialect == "postgresql" else sqlite.insert(ApiUsage)
    return insert.on_conflict_do_update(
        index_elements=[ApiUsage.day, ApiUsage.client_id, ApiUsage.call, ApiUsage.version],
        set_={
            "calls": ApiUsage.calls + insert.excluded.calls,
            "refused": ApiUsage.refused + insert.excluded.refused,
        },
    )


@dataclass(frozen=True)
class UsageLine:
    """Calls of one provider, call type and version over the window."""

    provider: str
    call: str
    version: str
    calls: int
    refused: int


def usage_dashboard(session: Session, now: datetime) -> list[UsageLine]:
    """API use over the 30 days up to ``now``, per provider (party name; a household's own tools as
    "personal tokens"), call and version, most used first."""
    since = (now - WINDOW).date()
    provider = sa.func.coalesce(Party.name, "personal tokens")
    rows = session.execute(
        sa.select(
            provider,
            ApiUsage.call,
            ApiUsage.version,
            sa.func.sum(ApiUsage.calls),
            sa.func.sum(ApiUsage.refused),
        )
        .join(ApiClient, ApiClient.client_id == ApiUsage.client_id, isouter=True)
        .join(DataAccessContract, DataAccessContract.id == ApiClient.contract_id, isouter=True)
        .join(Party, Party.id == DataAccessContract.party_id, isouter=True)
        .where(ApiUsage.day > since)
        .group_by(provider, ApiUsage.call, ApiUsage.version)
        .order_by(sa.func.sum(ApiUsage.calls).desc(), provider, ApiUsage.call)
    )
    return [UsageLine(p, c, v, int(n), int(r)) for p, c, v, n, r in rows]
