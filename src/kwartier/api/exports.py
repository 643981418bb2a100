"""``/api/v1/exports``: large history pulls as asynchronous jobs on the throttled lane (rules in
:mod:`kwartier.exposure.export_jobs`)."""

from __future__ import annotations

import time
import uuid
from datetime import date, datetime

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from kwartier.access.codes import ExportStatus
from kwartier.api.auth import HubDep, Provider
from kwartier.api.data import SERVICE_OF, authorise
from kwartier.api.mandates import Problem
from kwartier.exposure.export import Granularity
from kwartier.exposure.export_jobs import MAX_EXPORT_DAYS, export_path, run_export
from kwartier.registry.data_access import ExportJob

router = APIRouter(tags=["exports"])


class ExportIn(BaseModel):
    """A history export of one access point."""

    ean: str = Field(pattern=r"^\d{18}$")
    data_from: date
    data_to: date = Field(description="exclusive")
    granularity: Granularity = Granularity.QUARTER


class ExportOut(BaseModel):
    """An export job; when ``status`` is done the file is at ``/api/v1/exports/{id}/file``."""

    id: str
    ean: str
    granularity: Granularity
    data_from: date
    data_to: date
    status: ExportStatus
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    rows: int | None
    error: str | None


@router.post(
    "/exports",
    response_model=ExportOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={403: {"model": Problem}, 422: {"model": Problem}, 429: {"model": Problem}},
)
def create_export(body: ExportIn, request: Request, caller: Provider, hub: HubDep) -> ExportOut:
    """Queue a history export (checked against the mandate and logged now, run on the export lane)."""
    if (body.data_to - body.data_from).days > MAX_EXPORT_DAYS:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"at most {MAX_EXPORT_DAYS} days per export"
        )
    assert caller.client_id is not None
    wait = hub.export_limits.take(caller.client_id, time.monotonic())
    if wait:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "export lane limit exceeded",
            headers={"Retry-After": str(wait)},
        )
    service = SERVICE_OF[body.granularity]
    allowed = authorise(hub, caller, body.ean, service, body.data_from, body.data_to, request.url.path)
    assert allowed.mandate_id is not None  # a provider's read is always allowed by a mandate
    with hub.transaction() as session:
        job = ExportJob(
            id=str(uuid.uuid4()),
            client_id=caller.client_id,
            mandate_id=allowed.mandate_id,
            ean=body.ean,
            granularity=body.granularity.value,
            data_from=body.data_from,
            data_to=body.data_to,
            status=ExportStatus.QUEUED,
            created_at=hub.now(),
            started_at=None,
            finished_at=None,
            rows=None,
            error=None,
        )
        session.add(job)
    hub.export_lane.submit(run_export, hub.settings, job.id)
    return ExportOut.model_validate(job, from_attributes=True)


def _own(hub: HubDep, caller: Provider, job_id: str) -> ExportJob:
    with hub.sessions() as session:
        job = session.get(ExportJob, job_id)
    if job is None or job.client_id != caller.client_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such export")
    return job


@router.get("/exports/{job_id}", response_model=ExportOut, responses={404: {"model": Problem}})
def get_export(job_id: str, caller: Provider, hub: HubDep) -> ExportOut:
    """The status of an export job of the calling client."""
    return ExportOut.model_validate(_own(hub, caller, job_id), from_attributes=True)


@router.get(
    "/exports/{job_id}/file",
    response_class=FileResponse,
    responses={404: {"model": Problem}, 409: {"model": Problem}},
)
def export_file(job_id: str, caller: Provider, hub: HubDep) -> FileResponse:
    """The JSON file of a finished export (same rows as ``GET …/energy``)."""
    job = _own(hub, caller, job_id)
    path = export_path(hub.settings, job.id)
    if job.status is not ExportStatus.DONE or not path.exists():
        raise HTTPException(status.HTTP_409_CONFLICT, f"export is {job.status.value}")
    return FileResponse(path, media_type="application/json", filename=f"{job.ean}-{job.data_from}.json")
