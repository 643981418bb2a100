"""Mandates through the API: request, poll, read, end (issue 6; flow in
:mod:`kwartier.access.mandate_service`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import AnyHttpUrl, AwareDatetime, BaseModel, Field

from kwartier.access.codes import DataService, MandateStatus, SubjectKind
from kwartier.access.mandate_service import (
    CONSENT_PATH,
    MandateError,
    MandateRequest,
    document,
    mandates_of_contract,
    may_revoke,
    request_mandate,
    revoke,
)
from kwartier.access.mandates import TransitionError
from kwartier.api.auth import HubDep, Provider
from kwartier.registry.data_access import Mandate

router = APIRouter(tags=["mandates"])


class MandateIn(BaseModel):
    """A provider's mandate request."""

    subject_kind: SubjectKind = SubjectKind.ACCESS_POINT
    subject: str = Field(min_length=1, max_length=32, description="EAN-18 or enterprise number (10 digits)")
    services: list[DataService] = Field(min_length=1)
    data_from: date
    data_to: date = Field(description="exclusive")
    expires_at: AwareDatetime
    reference: str = Field(min_length=1, max_length=100, description="the provider's own reference")
    return_url: AnyHttpUrl | None = None
    renews: str | None = Field(default=None, max_length=36, description="id of the mandate this one renews")


class MandateOut(BaseModel):
    """A mandate as its provider sees it."""

    id: str
    status: MandateStatus
    subject_kind: SubjectKind
    subject: str
    services: list[DataService]
    data_from: date
    data_to: date
    expires_at: datetime
    reference: str
    requested_at: datetime
    decided_at: datetime | None
    ended_at: datetime | None
    updated_at: datetime
    renews: str | None


class MandateCreated(BaseModel):
    """A recorded request and the link the customer opens to decide."""

    mandate: MandateOut
    consent_url: str


class Problem(BaseModel):
    """Why a request is refused."""

    detail: str | list[Any]


def _out(mandate: Mandate) -> MandateOut:
    return MandateOut.model_validate(document(mandate))


@router.post(
    "/mandates",
    response_model=MandateCreated,
    status_code=status.HTTP_201_CREATED,
    responses={422: {"model": Problem}},
)
def create_mandate(body: MandateIn, request: Request, caller: Provider, hub: HubDep) -> MandateCreated:
    """Request a mandate; send the customer to ``consent_url`` (approval in the portal)."""
    ask = MandateRequest(
        subject_kind=body.subject_kind,
        subject=body.subject,
        services=frozenset(body.services),
        data_from=body.data_from,
        data_to=body.data_to,
        expires_at=body.expires_at,
        reference=body.reference,
        return_url=str(body.return_url) if body.return_url else None,
        renews=body.renews,
    )
    try:
        with hub.transaction() as session:
            mandate, token = request_mandate(session, caller, ask, hub.now())
            out = _out(mandate)
    except MandateError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, error.problems) from error
    return MandateCreated(mandate=out, consent_url=str(request.base_url).rstrip("/") + CONSENT_PATH + token)


@router.get("/mandates", response_model=list[MandateOut])
def list_mandates(
    caller: Provider,
    hub: HubDep,
    updated_since: Annotated[
        AwareDatetime | None, Query(description="only mandates changed at or after")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 500,
) -> list[MandateOut]:
    """The contract's mandates, oldest change first (poll with ``updated_since``)."""
    assert caller.contract_id is not None  # a provider's principal always has its contract
    with hub.sessions() as session:
        return [_out(m) for m in mandates_of_contract(session, caller.contract_id, updated_since, limit)]


def _own(session: Any, caller: Any, mandate_id: str) -> Mandate:
    mandate = session.get(Mandate, mandate_id)
    if mandate is None or mandate.contract_id != caller.contract_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such mandate")
    return mandate  # type: ignore[no-any-return]


@router.get("/mandates/{mandate_id}", response_model=MandateOut, responses={404: {"model": Problem}})
def get_mandate(mandate_id: str, caller: Provider, hub: HubDep) -> MandateOut:
    """One of the contract's mandates."""
    with hub.sessions() as session:
        return _out(_own(session, caller, mandate_id))


@router.delete(
    "/mandates/{mandate_id}",
    response_model=MandateOut,
    responses={404: {"model": Problem}, 409: {"model": Problem}},
)
def end_mandate(mandate_id: str, caller: Provider, hub: HubDep) -> MandateOut:
    """End a mandate (the provider no longer needs it): revoked at once."""
    with hub.transaction() as session:
        mandate = _own(session, caller, mandate_id)
        if not may_revoke(session, caller, mandate):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such mandate")
        try:
            revoke(session, mandate, hub.now())
        except TransitionError as error:
            raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
        return _out(mandate)
