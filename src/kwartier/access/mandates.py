"""Mandates: what a provider may read, rules as pure functions (issue 6; seed 000 §7.3, seed 001 art.
3.1.61: access limited to what the law or the customer allows).

Rules:
- a request names data services, a data period [data_from, data_to) and an expiry; the period is at most
  :data:`MAX_HISTORY_YEARS` years back and not after the expiry, the expiry at most
  :data:`MAX_VALIDITY` ahead (renewal makes a new mandate that replaces the old one);
- a mandate is decided once (requested → approved | refused), an approved one ends by revocation
  (immediately) or expiry; no other transition exists;
- a read of service S of access point A for [start, end) at instant T is allowed when an approved,
  unexpired mandate of the reading provider's contract covers A and S, and [start, end) lies inside its
  data period *and* inside the periods in which the grantor was A's grid user: a mandate never opens the
  data of a predecessor or successor occupant (seed 000 §4.5).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Final

from kwartier.access.codes import DataService, MandateStatus
from kwartier.domain.timegrid import BRUSSELS

MAX_HISTORY_YEARS: Final = 3
MAX_VALIDITY: Final = timedelta(days=3 * 366)
REMIND_BEFORE: Final = timedelta(days=30)

Period = tuple[date, date | None]  # [from, to), to None: open


class Refusal(StrEnum):
    """Why a read is refused (the API's ``reason`` and the access log's)."""

    NO_MANDATE = "no_mandate"
    SERVICE_NOT_COVERED = "service_not_covered"
    PERIOD_NOT_COVERED = "period_not_covered"
    EXPIRED = "mandate_expired"
    REVOKED = "mandate_revoked"
    NOT_APPROVED = "mandate_not_approved"


class TransitionError(ValueError):
    """A mandate transition that its status does not allow."""


@dataclass(frozen=True)
class MandateView:
    """What the read check needs of a mandate."""

    id: str
    status: MandateStatus
    services: frozenset[DataService]
    data_from: date
    data_to: date
    expires_at: datetime
    grantor_periods: tuple[Period, ...]  # the grantor's occupancy of the access point


@dataclass(frozen=True)
class Decision:
    """The outcome of a read check: the mandate that allows it, or the refusal."""

    mandate_id: str | None
    refusal: Refusal | None

    @property
    def allowed(self) -> bool:
        """Whether the read is allowed."""
        return self.refusal is None


def request_problems(
    services: Iterable[DataService], data_from: date, data_to: date, expires_at: datetime, now: datetime
) -> list[str]:
    """Why a mandate request is refused (empty: acceptable)."""
    problems = []
    if not list(services):
        problems.append("services: at least one data service")
    if data_to <= data_from:
        problems.append("data_to: must be after data_from")
    today = now.date()
    if data_from < today.replace(year=today.year - MAX_HISTORY_YEARS):
        problems.append(f"data_from: at most {MAX_HISTORY_YEARS} years back")
    if expires_at <= now:
        problems.append("expires_at: must be in the future")
    if expires_at > now + MAX_VALIDITY:
        problems.append(f"expires_at: at most {MAX_VALIDITY.days} days ahead")
    return problems


def parse_services(text: str) -> frozenset[DataService]:
    """The services of a stored ``services`` column (comma-separated values)."""
    return frozenset(DataService(value) for value in text.split(",") if value)


def services_text(services: Iterable[DataService]) -> str:
    """The stored form of ``services``: sorted values, comma-separated."""
    return ",".join(sorted({DataService(s).value for s in services}))


def decided(status: MandateStatus, approve: bool) -> MandateStatus:
    """The status after the grid user's decision; only a requested mandate can be decided."""
    if status is not MandateStatus.REQUESTED:
        raise TransitionError(f"a {status.value} mandate cannot be approved or refused")
    return MandateStatus.APPROVED if approve else MandateStatus.REFUSED


def revoked(status: MandateStatus) -> MandateStatus:
    """The status after revocation; only an approved (or still requested) mandate can be revoked."""
    if status not in (MandateStatus.APPROVED, MandateStatus.REQUESTED):
        raise TransitionError(f"a {status.value} mandate cannot be revoked")
    return MandateStatus.REVOKED


def is_expired(status: MandateStatus, expires_at: datetime, now: datetime) -> bool:
    """Whether a live mandate has passed its expiry at ``now``."""
    return status in (MandateStatus.APPROVED, MandateStatus.REQUESTED) and expires_at <= now


def due_for_reminder(
    status: MandateStatus, expires_at: datetime, reminded_at: datetime | None, now: datetime
) -> bool:
    """Whether both sides must now be reminded of the coming expiry (once, :data:`REMIND_BEFORE` ahead)."""
    return (
        status is MandateStatus.APPROVED and reminded_at is None and now < expires_at <= now + REMIND_BEFORE
    )


def within(periods: Iterable[Period], start: date, end: date) -> bool:
    """Whether [start, end) lies inside the union of ``periods``."""
    cursor = start
    for begin, finish in sorted(periods, key=lambda period: period[0]):
        if begin > cursor:
            break
        if finish is None or finish > cursor:
            cursor = finish if finish is not None else end
        if cursor >= end:
            return True
    return cursor >= end


def market_day_within(periods: Iterable[Period], instant: datetime) -> bool:
    """Whether the Europe/Brussels market day of ``instant`` lies in one of ``periods``."""
    day = instant.astimezone(BRUSSELS).date()
    return any(begin <= day and (end is None or day < end) for begin, end in periods)


def clipped(periods: Iterable[Period], start: date, end: date) -> list[tuple[date, date]]:
    """The parts of [start, end) inside ``periods``, in order."""
    parts = []
    for begin, finish in sorted(periods, key=lambda period: period[0]):
        low, high = max(begin, start), min(finish or end, end)
        if low < high:
            parts.append((low, high))
    return parts


def check_read(
    mandates: Sequence[MandateView], service: DataService, start: date, end: date, now: datetime
) -> Decision:
    """Whether a read of ``service`` for [start, end) is allowed by one of ``mandates`` (those of the
    reading contract covering the access point); the refusal names the closest miss."""
    if not mandates:
        return Decision(None, Refusal.NO_MANDATE)
    refusal = Refusal.NO_MANDATE
    for mandate in mandates:
        if mandate.status is MandateStatus.REVOKED:
            refusal = _closer(refusal, Refusal.REVOKED)
        elif mandate.status is not MandateStatus.APPROVED:
            refusal = _closer(refusal, Refusal.NOT_APPROVED)
        elif mandate.expires_at <= now:
            refusal = _closer(refusal, Refusal.EXPIRED)
        elif service not in mandate.services:
            refusal = _closer(refusal, Refusal.SERVICE_NOT_COVERED)
        elif not (
            mandate.data_from <= start
            and end <= mandate.data_to
            and within(mandate.grantor_periods, start, end)
        ):
            refusal = _closer(refusal, Refusal.PERIOD_NOT_COVERED)
        else:
            return Decision(mandate.id, None)
    return Decision(None, refusal)


_CLOSENESS: Final = (
    Refusal.NO_MANDATE,
    Refusal.NOT_APPROVED,
    Refusal.REVOKED,
    Refusal.EXPIRED,
    Refusal.SERVICE_NOT_COVERED,
    Refusal.PERIOD_NOT_COVERED,
)


def _closer(a: Refusal, b: Refusal) -> Refusal:
    return max(a, b, key=_CLOSENESS.index)
