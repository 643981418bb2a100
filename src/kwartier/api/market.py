"""``/api/v1/market``: the supply market for suppliers (issue 3 "Interfaces"), authenticated per party.

Rules:
- a caller is a supplier's account (role ``supplier``, linked to its party) with a personal token made by
  the operator (``kwartier access token``); every other role gets 403;
- a supplier sends messages only in its own name: a message whose ``sender`` is another party is refused
  (403) and changes nothing; otherwise it is applied exactly as ``kwartier market apply`` applies it
  (:func:`kwartier.market.service.apply_message`: idempotent by message id, the answer says accepted or
  the rejection code and text);
- a supplier reads only its own outbox messages and the register state of the access points it supplies
  on the day asked; the history of an access point (earlier suppliers and occupants) is never shown.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Body, Depends, HTTPException, Query, status
from pydantic import BaseModel

from kwartier.access.accounts import Principal
from kwartier.access.codes import AccountRole
from kwartier.api.auth import HubDep, admits
from kwartier.api.data import InstallationOut
from kwartier.api.mandates import Problem
from kwartier.hub import Hub
from kwartier.market import service
from kwartier.market.readings import StoreReadings
from kwartier.registry.parties import Party

router = APIRouter(prefix="/market", tags=["supply market"])
Supplier = Annotated[Principal, Depends(admits(AccountRole.SUPPLIER))]


class Answer(BaseModel):
    """The answer to one market message."""

    message_id: str | None = None
    accepted: bool
    process_id: str | None = None
    code: str | None = None
    text: str | None = None


def _party_code(hub: Hub, caller: Principal) -> str:
    with hub.sessions() as session:
        code = session.scalar(sa.select(Party.code).where(Party.id == caller.party_id))
    if code is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the account is not linked to a party")
    return code


@router.post("/messages", response_model=Answer, responses={403: {"model": Problem}})
def send(
    caller: Supplier,
    hub: HubDep,
    message: Annotated[dict[str, Any], Body(description="one market message (schemas: market/schemas/v1)")],
) -> Answer:
    """Apply one market message sent by the calling supplier; the answer is the register's."""
    if message.get("sender") != _party_code(hub, caller):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a supplier sends messages only in its own name")
    readings = StoreReadings(hub.store, hub.pseudonymiser)
    with hub.sessions() as session:
        answer = service.apply_message(session, json.dumps(message), readings)
    return Answer.model_validate(answer)


@router.get("/outbox", response_model=list[dict[str, Any]])
def outbox(
    caller: Supplier,
    hub: HubDep,
    after: Annotated[int, Query(ge=0, description="only messages after this outbox id")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> list[dict[str, Any]]:
    """The messages the register sent the calling supplier, oldest first (JSON Schemas under
    market/schemas/v1, one per type)."""
    code = _party_code(hub, caller)
    with hub.sessions() as session:
        return service.outbox(session, code, after, limit)


class SuppliedState(InstallationOut):
    """What the register says of an access point the caller supplies on ``day``: the installation data
    everyone with a mandate sees, plus its grid user and the open market processes."""

    grid_user: str | None
    open_processes: list[dict[str, Any]]


@router.get("/access-points/{ean}", response_model=SuppliedState, responses={404: {"model": Problem}})
def state(ean: str, caller: Supplier, hub: HubDep, day: date) -> SuppliedState:
    """The register state on ``day`` of an access point the caller supplies that day (404 otherwise)."""
    code = _party_code(hub, caller)
    with hub.sessions() as session:
        found = service.register_state(session, ean, day)
    if found is None or found.get("supplier") != code:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no access point supplied by you on that day")
    return SuppliedState.model_validate({**found, "ean": ean, "day": day})
