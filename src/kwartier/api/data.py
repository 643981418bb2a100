"""Meter data through the API (issue 6): energy, installation data, peaks and sharing results of one
access point.

Rules:
- every read is checked first (:func:`kwartier.access.mandate_service.check`: a provider needs a mandate
  covering the access point, the data service and the whole period; a household's personal token its own
  occupancy) and logged, allowed or refused, before any meter data is touched; a refusal is 403 with the
  reason and reveals nothing else;
- granularity quarter and hour are the data service ``quarter_hour``, day and month ``daily``; one call
  covers at most :data:`MAX_DAYS` days (a longer history goes through ``POST /api/v1/exports``);
- ``by=insertion`` with ``recorded_since`` returns only the intervals whose current version was recorded at
  or after that instant (incremental sync); values are integer Wh (gas volume dm³) with their status;
- ``shape=rows`` (default) gives one object per total; ``shape=series``, at granularity quarter only, one
  array of values per channel and tariff period on the metering intervals' grid
  (:mod:`kwartier.exposure.json_rows`): a year of quarter hours in about 0.2 MB instead of 5.6 MB.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Final

import orjson
from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel

from kwartier.access.access_log import log_read
from kwartier.access.accounts import Principal
from kwartier.access.codes import DataService
from kwartier.access.mandate_service import check
from kwartier.access.occupancy import customer_occupancy
from kwartier.api.auth import DataReader, GridUser, HubDep
from kwartier.api.mandates import Problem
from kwartier.domain.channels import Energy
from kwartier.domain.ean import is_valid_ean
from kwartier.exposure import meter_data
from kwartier.exposure.export import Granularity, period_bounds
from kwartier.exposure.json_rows import series_json, totals_json
from kwartier.hub import Hub

router = APIRouter(tags=["data"])

MAX_DAYS: Final = 400
EAN_PATH = Annotated[str, Path(pattern=r"^\d{18}$", description="EAN-18 of the access point")]
SERVICE_OF: Final = {
    Granularity.QUARTER: DataService.QUARTER_HOUR,
    Granularity.HOUR: DataService.QUARTER_HOUR,
    Granularity.DAY: DataService.DAILY,
    Granularity.MONTH: DataService.DAILY,
}
_REFUSED: Final[dict[int | str, dict[str, Any]]] = {403: {"model": Problem}, 422: {"model": Problem}}


class Basis(StrEnum):
    """Which time selects the values: the metering time, or the time the value was recorded."""

    MEASUREMENT = "measurement"
    INSERTION = "insertion"


class Shape(StrEnum):
    """How the values are laid out: an object per total, or arrays on a time grid."""

    ROWS = "rows"
    SERIES = "series"


class EnergyRow(BaseModel):
    """A total of one channel and tariff period over [start, end)."""

    channel: str
    tariff: str
    start: datetime
    end: datetime
    value_wh: int
    quarters: int
    estimated: int
    status: str


class EnergyOut(BaseModel):
    """Energy of one access point; ``value_wh`` in Wh (dm³ for gas_volume)."""

    ean: str
    granularity: Granularity
    data_from: date
    data_to: date
    rows: list[EnergyRow]


class EnergySeries(BaseModel):
    """The values of one channel and tariff period on a grid: ``value_wh[k]`` is the interval starting at
    ``start + k × resolution_minutes`` (null: no value of this channel and tariff period there);
    ``estimated_indexes`` lists the ``k`` whose value is an estimate."""

    channel: str
    tariff: str
    start: datetime
    end: datetime
    resolution_minutes: int
    value_wh: list[int | None]
    estimated_indexes: list[int]


class EnergySeriesOut(BaseModel):
    """Energy of one access point as series (``shape=series``); ``value_wh`` in Wh (dm³ for gas_volume)."""

    ean: str
    granularity: Granularity
    data_from: date
    data_to: date
    series: list[EnergySeries]


@dataclass(frozen=True)
class Authorised:
    """An allowed read: the access point's energy and the mandate that allows it (None: own data)."""

    energy: Energy
    mandate_id: str | None


def authorise(
    hub: Hub, caller: Principal, ean: str, service: DataService, start: date, end: date, route: str
) -> Authorised:
    """Check and log a read; what is needed to serve it when allowed, else 403 (nothing read)."""
    if not is_valid_ean(ean):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "not a valid EAN-18")
    if end <= start:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "to must be after from")
    now = hub.now()
    with hub.transaction() as session:
        decision = check(session, caller, ean, service, start, end, now)
        log_read(
            session,
            caller,
            ean=ean,
            service=service,
            data_from=start,
            data_to=end,
            decision=decision,
            route=route,
            now=now,
        )
        energy = meter_data.energy_of_access_point(session, ean) if decision.allowed else None
    if decision.refusal is not None or energy is None:
        reason = decision.refusal.value if decision.refusal is not None else "unknown_access_point"
        raise HTTPException(status.HTTP_403_FORBIDDEN, reason)
    return Authorised(energy, decision.mandate_id)


@router.get("/access-points/{ean}/energy", response_model=EnergyOut | EnergySeriesOut, responses=_REFUSED)
def energy(
    ean: EAN_PATH,
    request: Request,
    caller: DataReader,
    hub: HubDep,
    data_from: Annotated[date, Query(alias="from")],
    data_to: Annotated[date, Query(alias="to", description="exclusive")],
    granularity: Granularity = Granularity.DAY,
    by: Basis = Basis.MEASUREMENT,
    recorded_since: AwareDatetime | None = None,
    shape: Shape = Shape.ROWS,
) -> Response:
    """Offtake and injection (gas: volume and energy) per channel and tariff period of ``ean``."""
    if (data_to - data_from).days > MAX_DAYS:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"at most {MAX_DAYS} days per call: use POST /api/v1/exports",
        )
    if by is Basis.INSERTION and recorded_since is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "by=insertion needs recorded_since")
    if shape is Shape.SERIES and granularity is not Granularity.QUARTER:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "shape=series needs granularity=quarter")
    carrier = authorise(
        hub, caller, ean, SERVICE_OF[granularity], data_from, data_to, request.url.path
    ).energy
    since = recorded_since if by is Basis.INSERTION else None
    totals = meter_data.energy(hub, ean, carrier, data_from, data_to, granularity, recorded_since=since)
    head = orjson.dumps(
        {"ean": ean, "granularity": granularity.value, "data_from": data_from, "data_to": data_to}
    )
    if shape is Shape.ROWS:
        body = b',"rows":' + totals_json(totals)
    else:
        first, _ = period_bounds(data_from, Granularity.DAY, carrier)
        end, _ = period_bounds(data_to, Granularity.DAY, carrier)
        try:
            body = b',"series":' + series_json(totals, first, end)
        except ValueError as off_grid:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(off_grid)) from off_grid
    return Response(head[:-1] + body + b"}", media_type="application/json")


class InstallationOut(BaseModel):
    """What the access register says of the access point on ``day`` (not who its grid user is)."""

    ean: str
    day: date
    status: str | None
    supplier: str | None
    brp: str | None
    regime: dict[str, Any] | None
    meter: dict[str, Any] | None
    capacity: dict[str, Any] | None
    installations: list[dict[str, Any]]


@router.get("/access-points/{ean}/installation", response_model=InstallationOut, responses=_REFUSED)
def installation(
    ean: EAN_PATH, request: Request, caller: DataReader, hub: HubDep, day: date
) -> InstallationOut:
    """Meter, measurement regime, supplier, capacity and production installations on ``day``."""
    authorise(hub, caller, ean, DataService.INSTALLATION, day, day + timedelta(days=1), request.url.path)
    with hub.sessions() as session:
        state = meter_data.installation(session, ean, day)
    if state is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "unknown_access_point")
    return InstallationOut.model_validate({**state, "ean": ean, "day": day})


class MonthPeak(BaseModel):
    """The monthly peak and the billing peak of one month [W] (capacity tariff, docs/billing.md)."""

    month: date
    peak_w: int
    peak_start: datetime | None
    estimated: bool
    quarters: int
    estimated_quarters: int
    billing_peak_w: int
    months_counted: int
    data_as_of: datetime
    stale: bool


class PeaksOut(BaseModel):
    """Monthly and billing peaks of an access point (W)."""

    ean: str
    months: list[MonthPeak]


@router.get("/access-points/{ean}/peaks", response_model=PeaksOut, responses=_REFUSED)
def peaks(
    ean: EAN_PATH,
    request: Request,
    caller: DataReader,
    hub: HubDep,
    data_from: Annotated[date, Query(alias="from", description="first month (any day of it)")],
    data_to: Annotated[date, Query(alias="to", description="exclusive")],
) -> PeaksOut:
    """The capacity tariff's monthly peaks and billing peaks of the months in [from, to)."""
    first = data_from.replace(day=1)
    authorise(hub, caller, ean, DataService.PEAKS, first, data_to, request.url.path)
    months = [
        MonthPeak.model_validate(row) for row in meter_data.peaks(hub, ean) if first <= row["month"] < data_to
    ]
    return PeaksOut(ean=ean, months=months)


class SharingMonth(BaseModel):
    """Energy-sharing result of one group, month and tariff period [Wh] (docs/sharing.md)."""

    group: str
    month: date
    tariff: str
    offtake_wh: int
    injection_wh: int
    shared_wh: int
    net_offtake_wh: int
    net_injection_wh: int
    given_wh: int
    estimated_quarters: int
    missing_quarters: int


class SharingOut(BaseModel):
    """Energy-sharing results of an access point."""

    ean: str
    months: list[SharingMonth]


@router.get("/access-points/{ean}/sharing", response_model=SharingOut, responses=_REFUSED)
def sharing(
    ean: EAN_PATH,
    request: Request,
    caller: DataReader,
    hub: HubDep,
    data_from: Annotated[date, Query(alias="from")],
    data_to: Annotated[date, Query(alias="to", description="exclusive")],
) -> SharingOut:
    """Shared, net offtake and net injection per group, month and tariff period in [from, to)."""
    first = data_from.replace(day=1)
    authorise(hub, caller, ean, DataService.SHARING, first, data_to, request.url.path)
    months = [
        SharingMonth.model_validate(row)
        for row in meter_data.sharing_results(hub, ean)
        if first <= row["month"] < data_to
    ]
    return SharingOut(ean=ean, months=months)


class HeldPeriod(BaseModel):
    """A period in which the caller is the access point's grid user."""

    ean: str
    data_from: date
    data_to: date | None


@router.get("/me/access-points", response_model=list[HeldPeriod])
def my_access_points(caller: GridUser, hub: HubDep) -> list[HeldPeriod]:
    """A household's own access points and the periods it holds them (personal token)."""
    assert caller.customer_ref is not None  # a grid user's account always names its customer
    with hub.sessions() as session:
        held = customer_occupancy(session, caller.customer_ref)
    return [
        HeldPeriod(ean=ean, data_from=start, data_to=end)
        for ean, periods in sorted(held.items())
        for start, end in periods
    ]
