"""The user port (P1) of a digital meter: the grid user opens or closes it (seed 001 art. 3.1.58: free of
charge, carried out within 24 hours of the request).

Rules:
- only the access point's current grid user asks (the portal checks the occupancy first); a request is
  due :data:`DUE_WITHIN` after it was made;
- one request at a time: while one is pending, another is refused (:class:`PortError`);
- an opening may name the last day it stays open (``open_until``, a future date); from the day after, the
  port counts as closed; the grid user is reminded :data:`REMIND_BEFORE` ahead, once;
- the head-end system confirms pending requests through :func:`execute_due`. This repository has no
  head-end connection: the demo and the tests call :func:`execute_due` as a simulated head-end that
  confirms every pending request at once; a real head-end adapter calls it with what it carried out.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kwartier.access.codes import PortAction, PortRequestStatus
from kwartier.domain.timegrid import market_day_of
from kwartier.registry.data_access import UserPortRequest

DUE_WITHIN: Final = timedelta(hours=24)
REMIND_BEFORE: Final = timedelta(days=14)


class PortError(ValueError):
    """A user-port request that cannot be made as asked."""


@dataclass(frozen=True)
class PortState:
    """The port as the grid user sees it: open or not, until when, and the request still pending."""

    open: bool
    open_until: date | None
    known: bool  # whether any request was ever carried out
    pending: UserPortRequest | None


def request_change(
    session: Session,
    *,
    ean: str,
    account_id: int,
    action: PortAction,
    now: datetime,
    open_until: date | None = None,
) -> UserPortRequest:
    """Record a request to open or close the port of ``ean``, due within 24 hours."""
    action = PortAction(action)
    if action is PortAction.CLOSE and open_until is not None:
        raise PortError("open_until: only an opening has an end")
    if open_until is not None and open_until <= market_day_of(now):
        raise PortError("open_until: a day after today")
    if pending_request(session, ean) is not None:
        raise PortError("a request for this user port is still pending")
    row = UserPortRequest(
        ean=ean,
        account_id=account_id,
        action=action,
        status=PortRequestStatus.PENDING,
        requested_at=now,
        due_at=now + DUE_WITHIN,
        done_at=None,
        open_until=open_until,
        reminded_at=None,
    )
    session.add(row)
    session.flush()
    return row


def pending_request(session: Session, ean: str) -> UserPortRequest | None:
    """The request of ``ean`` still waiting for the head-end, if any."""
    return session.scalar(
        sa.select(UserPortRequest)
        .where(UserPortRequest.ean == ean, UserPortRequest.status == PortRequestStatus.PENDING)
        .order_by(UserPortRequest.id.desc())
        .limit(1)
    )


def requests_of(
    session: Session, ean: str, since: datetime | None = None, limit: int = 20
) -> list[UserPortRequest]:
    """The requests of ``ean`` (made at or after ``since`` when given), newest first."""
    query = sa.select(UserPortRequest).where(UserPortRequest.ean == ean)
    if since is not None:
        query = query.where(UserPortRequest.requested_at >= since)
    return list(session.scalars(query.order_by(UserPortRequest.id.desc()).limit(limit)))


def port_state(session: Session, ean: str, now: datetime) -> PortState:
    """Whether the port of ``ean`` is open on today's market day, after the last carried-out request."""
    last = session.scalar(
        sa.select(UserPortRequest)
        .where(UserPortRequest.ean == ean, UserPortRequest.status == PortRequestStatus.DONE)
        .order_by(UserPortRequest.done_at.desc(), UserPortRequest.id.desc())
        .limit(1)
    )
    pending = pending_request(session, ean)
    if last is None:
        return PortState(False, None, False, pending)
    today = market_day_of(now)
    is_open = last.action is PortAction.OPEN and (last.open_until is None or today <= last.open_until)
    return PortState(is_open, last.open_until if is_open else None, True, pending)


def execute_due(session: Session, now: datetime, *, failed: Collection[int] = ()) -> list[UserPortRequest]:
    """The head-end's confirmation: every pending request is carried out now, except those whose id is in
    ``failed`` (the head-end could not reach the meter), which are marked failed. Returns them all."""
    handled = list(
        session.scalars(
            sa.select(UserPortRequest)
            .where(UserPortRequest.status == PortRequestStatus.PENDING, UserPortRequest.requested_at <= now)
            .order_by(UserPortRequest.id)
        )
    )
    for row in handled:
        row.status = PortRequestStatus.FAILED if row.id in failed else PortRequestStatus.DONE
        row.done_at = now
    return handled


def overdue(session: Session, now: datetime) -> list[UserPortRequest]:
    """Pending requests past their 24 hours: the operator's work list."""
    return list(
        session.scalars(
            sa.select(UserPortRequest)
            .where(UserPortRequest.status == PortRequestStatus.PENDING, UserPortRequest.due_at < now)
            .order_by(UserPortRequest.due_at)
        )
    )


def expiring(open_until: date | None, today: date) -> bool:
    """Whether an opening that ends on ``open_until`` is within :data:`REMIND_BEFORE` of ending."""
    return open_until is not None and today <= open_until <= today + REMIND_BEFORE


def reminders_due(session: Session, now: datetime) -> list[UserPortRequest]:
    """Carried-out openings ending within :data:`REMIND_BEFORE` whose grid user was not yet reminded; they
    are marked reminded (the caller sends the reminder in the same transaction)."""
    today = market_day_of(now)
    rows = list(
        session.scalars(
            sa.select(UserPortRequest).where(
                UserPortRequest.action == PortAction.OPEN,
                UserPortRequest.status == PortRequestStatus.DONE,
                UserPortRequest.reminded_at.is_(None),
                UserPortRequest.open_until.is_not(None),
                UserPortRequest.open_until >= today,
                UserPortRequest.open_until <= today + REMIND_BEFORE,
            )
        )
    )
    due = [row for row in rows if port_state(session, row.ean, now).open_until == row.open_until]
    for row in due:
        row.reminded_at = now
    return due
