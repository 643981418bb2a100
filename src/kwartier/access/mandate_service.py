"""Mandates in the registry: request, consent, revocation, expiry and the read check (issue 6; rules in
:mod:`kwartier.access.mandates`).

Flow: a provider requests a mandate and gets a consent link (``/consent/<token>``, shown once); the grid
user opens it in the portal and approves or refuses in one step; the provider is told at once by a
signed webhook (:mod:`kwartier.access.events`) and can poll ``updated_since``. A revocation takes effect
for the next read and is announced the same way. :func:`sweep` expires mandates and sends the reminders
(both sides, :data:`~kwartier.access.mandates.REMIND_BEFORE` ahead).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kwartier.access.accounts import Principal
from kwartier.access.codes import AccountRole, DataService, MandateStatus, SubjectKind
from kwartier.access.credentials import CONSENT_PREFIX, new_token, token_hash
from kwartier.access.events import queue_event
from kwartier.access.mandates import (
    Decision,
    MandateView,
    Refusal,
    check_read,
    clipped,
    decided,
    due_for_reminder,
    is_expired,
    parse_services,
    request_problems,
    revoked,
    services_text,
    within,
)
from kwartier.access.occupancy import customer_occupancy, grid_users_of
from kwartier.domain.ean import is_valid_ean
from kwartier.registry.access_points import AccessPoint
from kwartier.registry.data_access import Account, DataAccessContract, Mandate
from kwartier.registry.parties import Party

CONSENT_PATH: Final = "/consent/"
ENTERPRISE_DIGITS: Final = 10


class MandateError(ValueError):
    """A mandate request or decision that is refused; ``problems`` name the fields."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class NotFound(LookupError):  # noqa: N818 - reads as "mandate not found" where raised
    """No mandate the actor may see with that id or consent link."""


@dataclass(frozen=True)
class MandateRequest:
    """What a provider asks for."""

    subject_kind: SubjectKind
    subject: str
    services: frozenset[DataService]
    data_from: date
    data_to: date
    expires_at: datetime
    reference: str
    return_url: str | None = None
    renews: str | None = None


def request_mandate(
    session: Session, principal: Principal, request: MandateRequest, now: datetime
) -> tuple[Mandate, str]:
    """Record a provider's request; returns the mandate and its consent token (shown once)."""
    if principal.contract_id is None:
        raise MandateError(["only a provider's client requests mandates"])
    problems = request_problems(request.services, request.data_from, request.data_to, request.expires_at, now)
    if request.subject_kind is SubjectKind.ACCESS_POINT:
        if not is_valid_ean(request.subject) or session.get(AccessPoint, request.subject) is None:
            problems.append("subject: not a known access point (EAN-18)")
    elif not (request.subject.isdigit() and len(request.subject) == ENTERPRISE_DIGITS):
        problems.append("subject: an enterprise number has 10 digits")
    if request.return_url is not None and not request.return_url.startswith(("https://", "http://")):
        problems.append("return_url: an http(s) URL")
    if request.renews is not None:
        old = session.get(Mandate, request.renews)
        if old is None or old.contract_id != principal.contract_id:
            problems.append("renews: no such mandate of this contract")
    if problems:
        raise MandateError(problems)
    token = new_token(CONSENT_PREFIX)
    mandate = Mandate(
        id=str(uuid.uuid4()),
        contract_id=principal.contract_id,
        subject_kind=request.subject_kind,
        subject=request.subject,
        services=services_text(request.services),
        data_from=request.data_from,
        data_to=request.data_to,
        expires_at=request.expires_at,
        provider_reference=request.reference,
        return_url=request.return_url,
        status=MandateStatus.REQUESTED,
        consent_token_hash=token_hash(token),
        requested_at=now,
        decided_at=None,
        decided_by=None,
        ended_at=None,
        updated_at=now,
        renews=request.renews,
        reminded_at=None,
    )
    session.add(mandate)
    session.flush()
    return mandate, token


def document(mandate: Mandate, party_name: str | None = None) -> dict[str, Any]:
    """The mandate as the API and the webhooks show it."""
    body: dict[str, Any] = {
        "id": mandate.id,
        "status": mandate.status.value,
        "subject_kind": mandate.subject_kind.value,
        "subject": mandate.subject,
        "services": sorted(mandate.services.split(",")),
        "data_from": mandate.data_from.isoformat(),
        "data_to": mandate.data_to.isoformat(),
        "expires_at": mandate.expires_at.isoformat(),
        "reference": mandate.provider_reference,
        "requested_at": mandate.requested_at.isoformat(),
        "decided_at": mandate.decided_at.isoformat() if mandate.decided_at else None,
        "ended_at": mandate.ended_at.isoformat() if mandate.ended_at else None,
        "updated_at": mandate.updated_at.isoformat(),
        "renews": mandate.renews,
    }
    if party_name is not None:
        body["provider"] = party_name
    return body


def mandate_by_consent(session: Session, token: str) -> Mandate | None:
    """The mandate of a consent link."""
    return session.scalar(sa.select(Mandate).where(Mandate.consent_token_hash == token_hash(token)))


def may_decide(session: Session, account: Account, mandate: Mandate) -> bool:
    """Whether ``account`` is the grid user who can grant ``mandate``: for an access point, its grid user on
    some day of the requested data period (the approval only ever opens those days); for an enterprise
    number, the organisation with that number."""
    if account.role is not AccountRole.GRID_USER or account.customer_ref is None:
        return False
    if mandate.subject_kind is SubjectKind.ENTERPRISE:
        return account.customer_ref == mandate.subject
    held = customer_occupancy(session, account.customer_ref, [mandate.subject]).get(mandate.subject, [])
    return bool(clipped(held, mandate.data_from, mandate.data_to))


def decide(session: Session, account: Account, mandate: Mandate, approve: bool, now: datetime) -> Mandate:
    """The grid user approves or refuses ``mandate``; the provider's webhook event is queued."""
    if not may_decide(session, account, mandate):
        raise NotFound(mandate.id)
    if mandate.expires_at <= now:
        raise MandateError(["the request has expired"])
    mandate.status = decided(mandate.status, approve)
    mandate.decided_at = mandate.updated_at = now
    mandate.decided_by = account.id
    if approve and mandate.renews is not None:
        old = session.get(Mandate, mandate.renews)
        if old is not None and old.status is MandateStatus.APPROVED:
            _end(session, old, MandateStatus.EXPIRED, now, event="mandate.renewed")
    _announce(session, mandate, "mandate.approved" if approve else "mandate.refused", now)
    return mandate


def revoke(session: Session, mandate: Mandate, now: datetime) -> Mandate:
    """End ``mandate`` now (by its grid user or its provider); the next read is refused."""
    _end(session, mandate, revoked(mandate.status), now, event="mandate.revoked")
    return mandate


def may_revoke(session: Session, principal: Principal, mandate: Mandate) -> bool:
    """The provider of the mandate, or the grid user who granted it (or holds the enterprise number)."""
    if principal.contract_id is not None:
        return principal.contract_id == mandate.contract_id
    if principal.role is not AccountRole.GRID_USER or principal.customer_ref is None:
        return False
    if mandate.subject_kind is SubjectKind.ENTERPRISE:
        return principal.customer_ref == mandate.subject
    grantor = session.get(Account, mandate.decided_by) if mandate.decided_by is not None else None
    return grantor is not None and grantor.customer_ref == principal.customer_ref


def sweep(session: Session, now: datetime) -> dict[str, int]:
    """Expire mandates whose expiry passed and remind of those expiring soon; counts per action."""
    expired = reminded = 0
    live = session.scalars(
        sa.select(Mandate).where(Mandate.status.in_([MandateStatus.APPROVED, MandateStatus.REQUESTED]))
    )
    for mandate in live:
        if is_expired(mandate.status, mandate.expires_at, now):
            _end(session, mandate, MandateStatus.EXPIRED, now, event="mandate.expired")
            expired += 1
        elif due_for_reminder(mandate.status, mandate.expires_at, mandate.reminded_at, now):
            mandate.reminded_at = now
            _announce(session, mandate, "mandate.expiring", now)
            reminded += 1
    return {"expired": expired, "reminded": reminded}


def mandates_of_contract(
    session: Session, contract_id: int, updated_since: datetime | None = None, limit: int = 500
) -> list[Mandate]:
    """A contract's mandates, oldest change first, optionally only those changed at or after a moment."""
    query = sa.select(Mandate).where(Mandate.contract_id == contract_id)
    if updated_since is not None:
        query = query.where(Mandate.updated_at >= updated_since)
    return list(session.scalars(query.order_by(Mandate.updated_at, Mandate.id).limit(limit)))


@dataclass(frozen=True)
class GrantedAccess:
    """One line of "who has my data"."""

    mandate: Mandate
    party: str


def mandates_of_customer(session: Session, account: Account) -> list[GrantedAccess]:
    """The mandates that concern the account (any status), newest first: those it decided, those on its
    enterprise number, and requests still open on one of its access points for a period it held it. A
    predecessor's or successor's mandates on the same access point are never shown."""
    if account.customer_ref is None:
        return []
    held = customer_occupancy(session, account.customer_ref)
    eans = list(held)
    query = (
        sa.select(Mandate, Party.name)
        .join(DataAccessContract, DataAccessContract.id == Mandate.contract_id)
        .join(Party, Party.id == DataAccessContract.party_id)
        .where(
            sa.or_(
                sa.and_(Mandate.subject_kind == SubjectKind.ACCESS_POINT, Mandate.subject.in_(eans)),
                sa.and_(
                    Mandate.subject_kind == SubjectKind.ENTERPRISE, Mandate.subject == account.customer_ref
                ),
            )
        )
        .order_by(Mandate.requested_at.desc())
    )
    return [
        GrantedAccess(mandate, party)
        for mandate, party in session.execute(query)
        if mandate.subject_kind is SubjectKind.ENTERPRISE
        or mandate.decided_by == account.id
        or (_decided_by_same_customer(session, mandate, account))
        or (
            mandate.status is MandateStatus.REQUESTED
            and bool(clipped(held.get(mandate.subject, []), mandate.data_from, mandate.data_to))
        )
    ]


def _decided_by_same_customer(session: Session, mandate: Mandate, account: Account) -> bool:
    if mandate.decided_by is None:
        return False
    grantor = session.get(Account, mandate.decided_by)
    return grantor is not None and grantor.customer_ref == account.customer_ref


def pending_mandates(session: Session, account: Account) -> list[GrantedAccess]:
    """The requests waiting for the account's decision."""
    return [g for g in mandates_of_customer(session, account) if g.mandate.status is MandateStatus.REQUESTED]


def check(
    session: Session,
    principal: Principal,
    ean: str,
    service: DataService,
    start: date,
    end: date,
    now: datetime,
) -> Decision:
    """Whether ``principal`` may read ``service`` of ``ean`` for the local days [start, end).

    A provider's client needs a covering mandate of its contract (:func:`~kwartier.access.mandates.
    check_read`); a grid user (portal or personal token) needs to have been the grid user on every day."""
    if principal.contract_id is None:
        if principal.role is not AccountRole.GRID_USER or principal.customer_ref is None:
            return Decision(None, Refusal.NO_MANDATE)
        held = customer_occupancy(session, principal.customer_ref, [ean]).get(ean, [])
        return (
            Decision(None, None) if within(held, start, end) else Decision(None, Refusal.PERIOD_NOT_COVERED)
        )
    return check_read(_views(session, principal.contract_id, ean), service, start, end, now)


def _views(session: Session, contract_id: int, ean: str) -> list[MandateView]:
    grid_users = grid_users_of(session, ean)
    rows = session.execute(
        sa.select(Mandate, Account.customer_ref)
        .join(Account, Account.id == Mandate.decided_by, isouter=True)
        .where(
            Mandate.contract_id == contract_id,
            sa.or_(
                sa.and_(Mandate.subject_kind == SubjectKind.ACCESS_POINT, Mandate.subject == ean),
                sa.and_(Mandate.subject_kind == SubjectKind.ENTERPRISE, Mandate.subject.in_(grid_users)),
            ),
        )
    )
    views = []
    for mandate, grantor in rows:
        customer = mandate.subject if mandate.subject_kind is SubjectKind.ENTERPRISE else grantor
        periods = customer_occupancy(session, customer, [ean]).get(ean, []) if customer else []
        views.append(
            MandateView(
                id=mandate.id,
                status=mandate.status,
                services=parse_services(mandate.services),
                data_from=mandate.data_from,
                data_to=mandate.data_to,
                expires_at=mandate.expires_at,
                grantor_periods=tuple(periods),
            )
        )
    return views


def _end(session: Session, mandate: Mandate, status: MandateStatus, now: datetime, *, event: str) -> None:
    mandate.status = status
    mandate.ended_at = mandate.updated_at = now
    _announce(session, mandate, event, now)


def _announce(session: Session, mandate: Mandate, event: str, now: datetime) -> None:
    contract = session.get(DataAccessContract, mandate.contract_id)
    if contract is not None:
        queue_event(session, contract, event, {"mandate": document(mandate)}, now)
