""" "Who has my data": every party with access to the customer's data, what for and since when, with a
revoke button; the access log; and the full export of what the system holds on the customer (seed 001 art.
3.1.58 4°; GDPR right of access; seed 000 §6.2.2: the overview must be easy to find).

Rules:
- a customer sees the mandates on their enterprise number, and on their access points those they granted
  themselves or that still wait for a decision on a period they held it — never a predecessor's or
  successor's mandates (:func:`kwartier.access.mandate_service.mandates_of_customer`);
- the supplier of each access point is listed too, with the data the measurement regime gives it;
- the access log shows the reads of the customer's access points whose data period overlaps the days they
  held them (:func:`kwartier.access.access_log.entries_for_customer`);
- the export holds the account, the access points and periods, the mandates, the access log, the
  user-port requests, the personal tokens (never a hash) and the portal sessions (never a token): nothing
  of other occupants.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from kwartier.access import mandate_service
from kwartier.access.access_log import entries_for_customer
from kwartier.access.accounts import account_name, principal_of
from kwartier.access.codes import MandateStatus
from kwartier.access.mandates import TransitionError
from kwartier.access.occupancy import customer_occupancy
from kwartier.exposure import meter_data
from kwartier.market.register import market_day
from kwartier.portal.web import (
    CheckedForm,
    GridUser,
    HubDep,
    PortalError,
    Viewer,
    not_found,
    redirect,
    render,
    with_headers,
)
from kwartier.registry.data_access import Account, ApiToken, PortalSession, UserPortRequest
from kwartier.registry.parties import Party

router = APIRouter()


def own_account(session: Session, visitor: Viewer) -> Account:
    """The visitor's account row."""
    account = session.get(Account, visitor.account_id)
    if account is None:
        raise not_found()
    return account


def suppliers(hub: HubDep, session: Session, customer_ref: str, today: date) -> list[dict[str, Any]]:
    """Per access point held today: its supplier's name and measurement regime."""
    lines = []
    for ean, periods in sorted(customer_occupancy(session, customer_ref).items()):
        if not any(start <= today and (end is None or end > today) for start, end in periods):
            continue
        facts = meter_data.installation(session, ean, today) or {}
        code = facts.get("supplier")
        name = session.query(Party.name).filter(Party.code == code).scalar() if code else None
        regime = (facts.get("regime") or {}).get("regime")
        lines.append({"ean": ean, "supplier": name or code, "regime": regime})
    return lines


@router.get("/my-data")
def my_data(request: Request, hub: HubDep, visitor: GridUser, revoked: str | None = None) -> Response:
    """Every party with access, the supplier of each access point, and who read what when."""
    now = hub.now()
    with hub.transaction() as session:
        account = own_account(session, visitor)
        granted = mandate_service.mandates_of_customer(session, account)
        log = entries_for_customer(session, account)
        supplied = suppliers(hub, session, account.customer_ref or "", market_day(now))
    return render(
        request,
        visitor,
        "my_data.html",
        granted=granted,
        log=log,
        suppliers=supplied,
        revoked=revoked is not None,
        live=(MandateStatus.APPROVED, MandateStatus.REQUESTED),
        now=now,
    )


@router.post("/mandates/{mandate_id}/revoke")
def revoke(request: Request, hub: HubDep, visitor: GridUser, mandate_id: str, form: CheckedForm) -> Response:
    """End a mandate now; the provider is notified and its next read is refused."""
    with hub.transaction() as session:
        account = own_account(session, visitor)
        found = [
            g.mandate
            for g in mandate_service.mandates_of_customer(session, account)
            if g.mandate.id == mandate_id
        ]
        if not found or not mandate_service.may_revoke(session, principal_of(account), found[0]):
            raise not_found()
        try:
            mandate_service.revoke(session, found[0], hub.now())
        except TransitionError:
            raise PortalError(409, "mandate.not_live") from None
    return redirect(request, "/my-data?revoked=1")


def _iso(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@router.get("/my-data/export.json")
def export(request: Request, hub: HubDep, visitor: GridUser) -> Response:
    """Everything the system holds on the customer, as one JSON document (GDPR right of access)."""
    now = hub.now()
    with hub.transaction() as session:
        account = own_account(session, visitor)
        held = customer_occupancy(session, account.customer_ref or "")
        document = {
            "exported_at": now.isoformat(),
            "account": {
                "login": account.login,
                "name": account_name(hub.sealer, account),
                "role": account.role.value,
                "customer_ref": account.customer_ref,
                "language": account.language,
                "created_at": _iso(account.created_at),
                "sign_in": "password" if account.password_hash else "openid_connect",
            },
            "access_points": [
                {
                    "ean": ean,
                    "periods": [{"from": _iso(start), "to": _iso(end)} for start, end in sorted(periods)],
                }
                for ean, periods in sorted(held.items())
            ],
            "mandates": [
                mandate_service.document(g.mandate, g.party)
                for g in mandate_service.mandates_of_customer(session, account)
            ],
            "access_log": [
                {
                    "at": _iso(e.at),
                    "party": e.party,
                    "ean": e.ean,
                    "service": e.service,
                    "data_from": _iso(e.data_from),
                    "data_to": _iso(e.data_to),
                    "outcome": e.outcome.value,
                    "reason": e.reason,
                }
                for e in entries_for_customer(session, account, limit=10_000)
            ],
            "user_port_requests": [
                {
                    "ean": r.ean,
                    "action": r.action.value,
                    "status": r.status.value,
                    "requested_at": _iso(r.requested_at),
                    "due_at": _iso(r.due_at),
                    "done_at": _iso(r.done_at),
                    "open_until": _iso(r.open_until),
                }
                for r in session.query(UserPortRequest)
                .filter(UserPortRequest.account_id == account.id)
                .order_by(UserPortRequest.id)
            ],
            "personal_tokens": [
                {
                    "label": token.label,
                    "created_at": _iso(token.created_at),
                    "expires_at": _iso(token.expires_at),
                    "revoked_at": _iso(token.revoked_at),
                }
                for token in session.query(ApiToken)
                .filter(ApiToken.account_id == account.id)
                .order_by(ApiToken.created_at)
            ],
            "portal_sessions": [
                {
                    "created_at": _iso(s.created_at),
                    "expires_at": _iso(s.expires_at),
                    "ended_at": _iso(s.ended_at),
                }
                for s in session.query(PortalSession)
                .filter(PortalSession.account_id == account.id)
                .order_by(PortalSession.created_at)
            ],
        }
    body = json.dumps(document, ensure_ascii=False, indent=2)
    response = Response(
        body.encode("utf-8"),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="kwartier-my-data.json"'},
    )
    return with_headers(request, response)
