"""Mandate requests: the pending list and the consent page, approve or refuse in one step (issue 6; seed
000 §7.3; reference/data-access.md: the provider is told at once).

Rules:
- the consent page shows exactly what is asked: provider, data services, access point or enterprise number,
  data period, expiry and the provider's reference;
- only a grid user who may grant the mandate sees it (:func:`kwartier.access.mandate_service.may_decide`);
  anyone else gets 404, the same as an unknown link; a consent link opened while signed out passes
  through sign-in and comes back;
- after the decision the customer returns to the provider's return URL with ``mandate_id`` and ``status``
  added to its query (or to "who has my data" when there is none); the signed webhook is queued in the same
  transaction as the decision.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from kwartier.access import mandate_service
from kwartier.access.mandates import TransitionError, parse_services
from kwartier.portal.my_data import own_account
from kwartier.portal.web import (
    CheckedForm,
    GridUser,
    HubDep,
    PortalError,
    form_text,
    not_found,
    redirect,
    render,
)
from kwartier.registry.data_access import DataAccessContract, Mandate
from kwartier.registry.parties import Party

router = APIRouter()


def with_result(url: str, mandate_id: str, status: str) -> str:
    """``url`` with ``mandate_id`` and ``status`` added to its query (its fragment dropped)."""
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), ("mandate_id", mandate_id), ("status", status)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def _party(session: Session, mandate: Mandate) -> str:
    contract = session.get(DataAccessContract, mandate.contract_id)
    party = session.get(Party, contract.party_id) if contract is not None else None
    return party.name if party is not None else "?"


@router.get("/mandates")
def pending(request: Request, hub: HubDep, visitor: GridUser) -> Response:
    """The requests waiting for the customer's decision."""
    with hub.transaction() as session:
        account = own_account(session, visitor)
        waiting = mandate_service.pending_mandates(session, account)
    return render(request, visitor, "mandates.html", waiting=waiting, parse_services=parse_services)


def _show(request: Request, hub: HubDep, visitor: GridUser, mandate: Mandate | None, action: str) -> Response:
    with hub.transaction() as session:
        account = own_account(session, visitor)
        if mandate is None or not mandate_service.may_decide(session, account, mandate):
            raise not_found()
        party = _party(session, mandate)
    return render(
        request,
        visitor,
        "consent.html",
        mandate=mandate,
        party=party,
        services=sorted(s.value for s in parse_services(mandate.services)),
        action=action,
        expired=mandate.expires_at <= hub.now(),
    )


def _decide(
    request: Request, hub: HubDep, visitor: GridUser, token: str | None, mandate_id: str | None, decision: str
) -> Response:
    if decision not in ("approve", "refuse"):
        raise PortalError(400, "error.400")
    with hub.transaction() as session:
        account = own_account(session, visitor)
        mandate = (
            mandate_service.mandate_by_consent(session, token)
            if token is not None
            else session.get(Mandate, mandate_id)
        )
        if mandate is None:
            raise not_found()
        try:
            mandate_service.decide(session, account, mandate, decision == "approve", hub.now())
        except mandate_service.NotFound:
            raise not_found() from None
        except mandate_service.MandateError:
            raise PortalError(410, "consent.expired") from None
        except TransitionError:
            raise PortalError(409, "consent.already") from None
        target = (
            with_result(mandate.return_url, mandate.id, mandate.status.value)
            if mandate.return_url
            else "/my-data"
        )
    return redirect(request, target)


@router.get("/consent/{token}")
def consent_page(request: Request, hub: HubDep, visitor: GridUser, token: str) -> Response:
    """What a provider's consent link asks, with approve and refuse."""
    with hub.transaction() as session:
        mandate = mandate_service.mandate_by_consent(session, token)
    return _show(request, hub, visitor, mandate, f"/consent/{token}")


@router.post("/consent/{token}")
def consent(request: Request, hub: HubDep, visitor: GridUser, token: str, form: CheckedForm) -> Response:
    """Approve or refuse (form field ``decision``); back to the provider's return URL."""
    return _decide(request, hub, visitor, token, None, form_text(form, "decision"))


@router.get("/mandates/{mandate_id}")
def request_page(request: Request, hub: HubDep, visitor: GridUser, mandate_id: str) -> Response:
    """The same consent page, opened from the pending list."""
    with hub.transaction() as session:
        mandate = session.get(Mandate, mandate_id)
    return _show(request, hub, visitor, mandate, f"/mandates/{mandate_id}")


@router.post("/mandates/{mandate_id}")
def decide_request(
    request: Request, hub: HubDep, visitor: GridUser, mandate_id: str, form: CheckedForm
) -> Response:
    """Approve or refuse a request from the pending list."""
    return _decide(request, hub, visitor, None, mandate_id, form_text(form, "decision"))
