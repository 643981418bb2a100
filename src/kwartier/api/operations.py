"""Routes for the DSO's operators and providers' own administration (issue 6): data-access contracts,
client rotation, the webhook delivery log, API usage; and the public status (freshness, incidents)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Final

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, status
from pydantic import AnyHttpUrl, BaseModel, Field

from kwartier.access.contracts import ContractError, register_contract, rotate_client
from kwartier.access.events import deliveries
from kwartier.access.usage import usage_dashboard
from kwartier.api.auth import HubDep, Operator, Provider
from kwartier.api.mandates import Problem
from kwartier.registry.batches import Batch
from kwartier.registry.codes import BatchStatus
from kwartier.registry.data_access import Incident

router = APIRouter()
INCIDENT_HISTORY: Final = timedelta(days=30)


class ContractIn(BaseModel):
    """A data-access contract the operator registers for a provider (GLN-13)."""

    party_code: str = Field(pattern=r"^\d{13}$")
    reference: str = Field(min_length=1, max_length=64)
    valid_from: date
    valid_to: date | None = None
    webhook_url: AnyHttpUrl | None = None


class CredentialsOut(BaseModel):
    """Credentials shown once: keep them safe, they are not stored in the clear."""

    contract_id: int
    client_id: str
    client_secret: str
    webhook_secret: str


@router.post(
    "/contracts",
    response_model=CredentialsOut,
    status_code=status.HTTP_201_CREATED,
    tags=["operators"],
    responses={422: {"model": Problem}},
)
def create_contract(body: ContractIn, caller: Operator, hub: HubDep) -> CredentialsOut:
    """Register a data-access contract; returns the provider's first client and webhook secret."""
    try:
        with hub.transaction() as session:
            credentials = register_contract(
                session,
                hub.sealer,
                party_code=body.party_code,
                reference=body.reference,
                valid_from=body.valid_from,
                valid_to=body.valid_to,
                webhook_url=str(body.webhook_url) if body.webhook_url else None,
                now=hub.now(),
                registered_by=caller.account_id,
            )
    except ContractError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    return CredentialsOut(**vars(credentials))


class RotatedOut(BaseModel):
    """New client credentials; the old client keeps working until ``old_client_expires_at``."""

    client_id: str
    client_secret: str
    old_client_expires_at: datetime


@router.post("/clients/rotate", response_model=RotatedOut, tags=["authorisation"])
def rotate(caller: Provider, hub: HubDep) -> RotatedOut:
    """Rotate the calling client's secret (a new client id and secret)."""
    assert caller.client_id is not None  # a provider's principal is its client
    with hub.transaction() as session:
        client_id, secret = rotate_client(session, caller.client_id, hub.now())
    return RotatedOut(
        client_id=client_id, client_secret=secret, old_client_expires_at=hub.now() + timedelta(days=7)
    )


class DeliveryOut(BaseModel):
    """One webhook delivery of the contract."""

    event_id: str
    event: str
    created_at: datetime
    attempts: int
    delivered_at: datetime | None
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None


@router.get("/webhooks/deliveries", response_model=list[DeliveryOut], tags=["mandates"])
def delivery_log(caller: Provider, hub: HubDep) -> list[DeliveryOut]:
    """The contract's webhook delivery log, newest first."""
    assert caller.contract_id is not None
    with hub.sessions() as session:
        return [
            DeliveryOut.model_validate(d, from_attributes=True)
            for d in deliveries(session, caller.contract_id)
        ]


class UsageOut(BaseModel):
    """API calls of one provider, call type and API version over the last 30 days."""

    provider: str
    call: str
    version: str
    calls: int
    refused: int


@router.get("/operator/usage", response_model=list[UsageOut], tags=["operators"])
def usage(caller: Operator, hub: HubDep) -> list[UsageOut]:
    """API use per provider, call type and version over a rolling 30 days (seed 000 §7.2)."""
    hub.usage.flush(hub.sessions)
    with hub.sessions() as session:
        return [
            UsageOut.model_validate(line, from_attributes=True)
            for line in usage_dashboard(session, hub.now())
        ]


class IncidentOut(BaseModel):
    """An outage or degradation."""

    title: str
    detail: str
    started_at: datetime
    resolved_at: datetime | None


class StatusOut(BaseModel):
    """Public status: whether there is an open incident, and how fresh the data is."""

    status: str
    last_delivery_committed_at: datetime | None
    incidents: list[IncidentOut]


@router.get("/status", response_model=StatusOut, tags=["status"])
def public_status(hub: HubDep) -> StatusOut:
    """Open incidents and those of the last 30 days, and the last committed head-end delivery."""
    now = hub.now()
    with hub.sessions() as session:
        last = session.scalar(
            sa.select(sa.func.max(Batch.committed_at)).where(Batch.status == BatchStatus.COMMITTED)
        )
        rows = session.scalars(
            sa.select(Incident)
            .where(sa.or_(Incident.resolved_at.is_(None), Incident.resolved_at > now - INCIDENT_HISTORY))
            .order_by(Incident.started_at.desc())
        ).all()
        incidents = [IncidentOut.model_validate(i, from_attributes=True) for i in rows]
    degraded = any(i.resolved_at is None for i in incidents)
    return StatusOut(
        status="degraded" if degraded else "operational", last_delivery_committed_at=last, incidents=incidents
    )
