"""The access log: every read of personal data, allowed or refused (issue 6; reference/data-access.md
item 5: the customer can read who read which data when).

Rules:
- one entry per read of one access point's data service: instant, actor (API client or account), party,
  EAN, service, data period, the mandate that allowed it or the reason it was refused, the route;
- entries are only inserted (the database refuses UPDATE and DELETE, migration 0004);
- a grid user sees the reads of their access points whose data period overlaps the days they were its
  grid user (a predecessor's data read later is not theirs to see, and their data read later is).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Final, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kwartier.access.accounts import Principal
from kwartier.access.codes import AccessOutcome, DataService
from kwartier.access.mandates import Decision, Period, clipped, market_day_within
from kwartier.access.occupancy import customer_occupancy
from kwartier.registry.data_access import AccessLogEntry, Account
from kwartier.registry.database import core
from kwartier.registry.parties import Party

DEFAULT_LIMIT: Final = 200


@dataclass(frozen=True)
class LoggedRead:
    """An access-log entry as the grid user sees it."""

    at: datetime
    party: str
    actor: str
    ean: str
    service: str
    data_from: date | None
    data_to: date | None
    outcome: AccessOutcome
    reason: str | None


_ACCESS_LOG: Final = cast(sa.Table, AccessLogEntry.__table__)
_APPEND: Final = sa.insert(_ACCESS_LOG)


def log_read(
    session: Session,
    principal: Principal,
    *,
    ean: str,
    service: DataService,
    data_from: date | None,
    data_to: date | None,
    decision: Decision,
    route: str,
    now: datetime,
) -> None:
    """Append the entry of one read (allowed or refused); a Core insert built once, on the session's
    connection (the ORM's paths cost more than the insert itself, on every API read)."""
    core(session).execute(
        _APPEND,
        {
            "at": now,
            "actor_kind": "client" if principal.client_id else principal.role.value,
            "actor": principal.actor,
            "party_id": principal.party_id,
            "ean": ean,
            "service": service.value,
            "data_from": data_from,
            "data_to": data_to,
            "mandate_id": decision.mandate_id,
            "outcome": AccessOutcome.ALLOWED if decision.allowed else AccessOutcome.REFUSED,
            "reason": None if decision.refusal is None else decision.refusal.value,
            "route": route[:200],
        },
    )


def _concerns(periods: list[Period], entry: AccessLogEntry) -> bool:
    """Whether a read touched the customer's days: its data period overlaps their occupancy (a read
    without a data period: made on one of their days)."""
    if entry.data_from is None or entry.data_to is None:
        return market_day_within(periods, entry.at)
    return bool(clipped(periods, entry.data_from, entry.data_to))


def entries_for_customer(session: Session, account: Account, limit: int = DEFAULT_LIMIT) -> list[LoggedRead]:
    """The newest reads of the account's access points that touched the days the account held them."""
    if account.customer_ref is None:
        return []
    held = customer_occupancy(session, account.customer_ref)
    if not held:
        return []
    rows = session.execute(
        sa.select(AccessLogEntry, Party.name)
        .join(Party, Party.id == AccessLogEntry.party_id, isouter=True)
        .where(AccessLogEntry.ean.in_(list(held)))
        .order_by(AccessLogEntry.id.desc())
    )
    entries: list[LoggedRead] = []
    for entry, party in rows:
        if entry.ean is None or not _concerns(held[entry.ean], entry):
            continue
        entries.append(
            LoggedRead(
                at=entry.at,
                party=party or ("you" if entry.actor == f"account:{account.id}" else entry.actor_kind),
                actor=entry.actor,
                ean=entry.ean,
                service=entry.service,
                data_from=entry.data_from,
                data_to=entry.data_to,
                outcome=entry.outcome,
                reason=entry.reason,
            )
        )
        if len(entries) >= limit:
            break
    return entries
