"""The grid user's access points: the list with freshness, one access point's history, quarter hours, peaks,
register facts, sharing results, the Mijn Fluvius download and the user port (issue 6; seed 001 art.
3.1.58).

Rules:
- an access point is shown only to a customer the access register names its grid user, and only for the
  days they held it (:mod:`kwartier.access.occupancy`); any other EAN is answered 404 with no data, and the
  store is never read for it;
- the download is a Mijn Fluvius export (quarter hours of electricity, hours of gas) of the held days in
  the asked range, at most :data:`MAX_DOWNLOAD_DAYS` days, and is written to the access log as a read by
  the customer;
- a user-port request is accepted only from the current grid user.
"""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from typing import Any, Final

import pyarrow as pa
from fastapi import APIRouter, Request
from fastapi.responses import Response

from kwartier.access import user_port
from kwartier.access.access_log import log_read
from kwartier.access.accounts import principal_of
from kwartier.access.codes import DataService, PortAction
from kwartier.access.mandates import Decision, Period
from kwartier.access.occupancy import customer_occupancy
from kwartier.domain.channels import Energy
from kwartier.domain.ean import is_valid_ean
from kwartier.domain.timegrid import local_midnight_utc
from kwartier.exposure import meter_data
from kwartier.exposure.export import ExportFormat, Granularity, export_readings
from kwartier.market.register import market_day
from kwartier.portal import history
from kwartier.portal.charts import bar_chart
from kwartier.portal.web import (
    CheckedForm,
    GridUser,
    HubDep,
    PortalError,
    Viewer,
    form_text,
    not_found,
    redirect,
    render,
    with_headers,
)
from kwartier.registry.data_access import Account
from kwartier.registry.parties import Party

router = APIRouter()

VIEWS: Final = ("day", "week", "month", "year")
MAX_DOWNLOAD_DAYS: Final = 3 * 366


def held_periods(hub: HubDep, visitor: Viewer, ean: str) -> tuple[list[Period], Energy]:
    """The periods in which the visitor held ``ean`` and its energy; 404 when they never did."""
    if not is_valid_ean(ean) or visitor.customer_ref is None:
        raise not_found()
    with hub.transaction() as session:
        periods = customer_occupancy(session, visitor.customer_ref, [ean]).get(ean)
        energy = meter_data.energy_of_access_point(session, ean)
    if not periods or energy is None:
        raise not_found()
    return periods, energy


def _parse_day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise PortalError(400, "error.400") from None


def _parse_month(text: str | None) -> date | None:
    try:
        return date.fromisoformat(f"{text}-01") if text else None
    except ValueError:
        raise PortalError(400, "error.400") from None


def _current(periods: list[Period], today: date) -> bool:
    return any(start <= today and (end is None or end > today) for start, end in periods)


def _last_held_day(periods: list[Period], today: date) -> date:
    """Today when held now, else the last day held."""
    if _current(periods, today):
        return today
    ends = [end - timedelta(days=1) for _, end in periods if end is not None and end <= today]
    return max(ends, default=min(start for start, _ in periods))


def _totals(
    hub: HubDep, ean: str, energy: Energy, parts: list[tuple[date, date]], granularity: Granularity
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for start, end in parts:
        rows.extend(meter_data.energy(hub, ean, energy, start, end, granularity).to_pylist())
    return rows


def _fresh(
    hub: HubDep, ean: str, energy: Energy, periods: list[Period], now: datetime
) -> meter_data.Freshness | None:
    """How fresh the data of an access point held today is, counting only the days of this occupancy;
    None when the customer no longer holds it."""
    today = market_day(now)
    if not _current(periods, today):
        return None
    since = max(start for start, _ in periods)
    found = meter_data.freshness(hub, ean, energy, now)
    last = found.last_complete_day
    return meter_data.Freshness(
        last if last is not None and last >= since else None,
        tuple(day for day in found.estimated_days if day >= since),
    )


@router.get("/access-points")
def list_access_points(request: Request, hub: HubDep, visitor: GridUser) -> Response:
    """The customer's access points (all of an organisation's), each with how fresh its data is."""
    assert visitor.customer_ref is not None
    now = hub.now()
    today = market_day(now)
    with hub.transaction() as session:
        held = customer_occupancy(session, visitor.customer_ref)
        energies = {ean: meter_data.energy_of_access_point(session, ean) for ean in held}
    points = []
    for ean in sorted(held, key=lambda e: (not _current(held[e], today), e)):
        periods = sorted(held[ean], key=lambda p: p[0])
        energy = energies[ean] or Energy.ELECTRICITY
        fresh = _fresh(hub, ean, energy, periods, now)
        points.append({"ean": ean, "energy": energy.value, "periods": periods, "fresh": fresh})
    return render(request, visitor, "access_points.html", points=points)


@router.get("/access-points/{ean}")
def access_point(
    request: Request,
    hub: HubDep,
    visitor: GridUser,
    ean: str,
    view: str = "month",
    month: str | None = None,
    year: int | None = None,
    day: str | None = None,
) -> Response:
    """One access point: register facts, freshness, history, a day's quarter hours, peaks, sharing, port."""
    periods, energy = held_periods(hub, visitor, ean)
    if view not in VIEWS:
        raise PortalError(400, "error.400")
    now = hub.now()
    today = market_day(now)
    last_day = _last_held_day(periods, today)
    detail_start, detail_end = history.detail_window(today)
    if view == "day":
        first = _parse_month(month) or (last_day - timedelta(days=1)).replace(day=1)
        start, end = max(first, detail_start), min(history.next_month(first), detail_end)
        rows = _rows(hub, ean, energy, periods, (start, end), Granularity.DAY, "day")
    elif view == "week":
        chosen = year or (last_day - timedelta(days=1)).year
        start = max(date(chosen, 1, 1) - timedelta(days=date(chosen, 1, 1).weekday()), detail_start)
        end = min(date(chosen + 1, 1, 1), detail_end)
        rows = _rows(hub, ean, energy, periods, (start, end), Granularity.DAY, "week")
    elif view == "month":
        start, end = detail_start, detail_end
        rows = _rows(hub, ean, energy, periods, (start, end), Granularity.MONTH, "month")
    else:
        start, end = history.cumulative_window(today)
        rows = _rows(hub, ean, energy, periods, (start, end), Granularity.MONTH, "year")
    fresh = _fresh(hub, ean, energy, periods, now)
    shown_day = _parse_day(day) or (fresh and fresh.last_complete_day) or (last_day - timedelta(days=1))
    day_parts = history.visible(periods, shown_day, shown_day + timedelta(days=1))
    day_quarters = history.quarters(_totals(hub, ean, energy, day_parts, Granularity.QUARTER))
    with hub.transaction() as session:
        facts = meter_data.installation(session, ean, last_day)
        supplier = None
        if facts and facts.get("supplier"):
            supplier = session.query(Party.name).filter(Party.code == facts["supplier"]).scalar()
        port = user_port.port_state(session, ean, now) if _current(periods, today) else None
        port_requests = user_port.requests_of(session, ean, since=_since(periods)) if port else []
    months_of_peaks = _peaks(hub, ean, energy, periods, today) if energy is Energy.ELECTRICITY else []
    sharing = _sharing(hub, ean, periods, today)
    return render(
        request,
        visitor,
        "access_point.html",
        ean=ean,
        energy=energy.value,
        periods=sorted(periods, key=lambda p: p[0]),
        current=_current(periods, today),
        view=view,
        views=VIEWS,
        month=(start.replace(day=1) if view == "day" else None),
        year=(year or (last_day - timedelta(days=1)).year),
        months=_month_choices(detail_start, detail_end),
        years=sorted({m.year for m in _month_choices(detail_start, detail_end)}, reverse=True),
        rows=rows,
        columns=history.columns_of(rows),
        history_chart=bar_chart(history.chart_points(rows)) if rows else None,
        offtake=history.OFFTAKE_CHANNELS,
        injection=history.INJECTION_CHANNELS,
        day=shown_day,
        quarters=day_quarters,
        quarter_chart=bar_chart(history.quarter_points(day_quarters)) if day_quarters else None,
        estimated_quarters=sum(q.estimated for q in day_quarters),
        facts=facts,
        supplier=supplier,
        peaks=months_of_peaks,
        sharing=sharing,
        fresh=fresh,
        port=port,
        port_requests=port_requests,
        reminder=port is not None and user_port.expiring(port.open_until, today),
        today=today,
        download_from=max(shown_day.replace(day=1), min(p[0] for p in periods)),
        download_to=today,
    )


def _rows(
    hub: HubDep,
    ean: str,
    energy: Energy,
    periods: list[Period],
    window: tuple[date, date],
    granularity: Granularity,
    key: str,
) -> list[history.Row]:
    """The history table of the held days of ``window``: ``granularity`` totals grouped per ``key``."""
    parts = history.visible(periods, *window)
    return history.grouped(_totals(hub, ean, energy, parts, granularity), key)


def _since(periods: list[Period]) -> datetime:
    """The first instant of the current occupancy (the port history shown starts there)."""
    return local_midnight_utc(max(start for start, _ in periods))


def _month_choices(start: date, end: date) -> list[date]:
    months, month = [], start.replace(day=1)
    while month < end:
        months.append(month)
        month = history.next_month(month)
    return list(reversed(months))


def _peaks(
    hub: HubDep, ean: str, energy: Energy, periods: list[Period], today: date
) -> list[history.MonthPeak]:
    """Monthly peaks of the held months of the detailed window, with the occupant's billing peaks."""
    start, _ = history.detail_window(today)
    full, part = history.held_months(periods, start, history.next_month(today))
    kept = {row["month"]: row for row in meter_data.peaks(hub, ean)}
    months = [
        history.MonthPeak(
            month,
            int(kept[month]["peak_w"]),
            kept[month]["peak_start"],
            bool(kept[month]["estimated"]),
            partial=False,
        )
        for month in full
        if month in kept
    ]
    for month in part + [m for m in full if m not in kept and m < today]:
        parts = history.visible(periods, month, min(history.next_month(month), today))
        own = history.quarters(_totals(hub, ean, energy, parts, Granularity.QUARTER))
        offtake_only = [
            history.Quarter(q.start, q.offtake_wh, 0, q.estimated) for q in own if q.offtake_wh or q.estimated
        ]
        if offtake_only:
            power, at, estimated = history.peak_of_quarters(offtake_only)
            months.append(history.MonthPeak(month, power, at, estimated, partial=True))
    return list(reversed(history.with_billing_peaks(months)))


def _sharing(hub: HubDep, ean: str, periods: list[Period], today: date) -> list[dict[str, Any]]:
    """The sharing results of the months the customer held in full."""
    start, _ = history.cumulative_window(today)
    full, _ = history.held_months(periods, start, history.next_month(today))
    held = set(full)
    return [row for row in meter_data.sharing_results(hub, ean) if row["month"] in held]


@router.get("/access-points/{ean}/download.csv")
def download(
    request: Request,
    hub: HubDep,
    visitor: GridUser,
    ean: str,
    start: str | None = None,
    end: str | None = None,
) -> Response:
    """The held days of [start, end) as a Mijn Fluvius CSV export (it imports back into kwartier)."""
    periods, energy = held_periods(hub, visitor, ean)
    today = market_day(hub.now())
    first = _parse_day(start) or today.replace(day=1)
    last = min(_parse_day(end) or today, today)
    if last <= first or (last - first).days > MAX_DOWNLOAD_DAYS:
        raise PortalError(400, "error.400")
    parts = history.visible(periods, first, last)
    tables = [meter_data.readings(hub, ean, energy, a, b) for a, b in parts]
    with hub.transaction() as session:
        facts = meter_data.installation(session, ean, _last_held_day(periods, today))
        account = session.get(Account, visitor.account_id)
        assert account is not None
        log_read(
            session,
            principal_of(account),
            ean=ean,
            service=DataService.QUARTER_HOUR,
            data_from=first,
            data_to=last,
            decision=Decision(None, None),
            route="portal:download.csv",
            now=hub.now(),
        )
    readings = pa.concat_tables(tables) if tables else meter_data.readings(hub, ean, energy, first, first)
    meter = ((facts or {}).get("meter") or {}).get("serial", "")
    out = io.StringIO(newline="")
    native = Granularity.QUARTER if energy is Energy.ELECTRICITY else Granularity.HOUR
    export_readings(
        readings,
        ean=ean,
        meter=meter,
        energy=energy,
        granularity=native,
        fmt=ExportFormat.MIJN_FLUVIUS,
        out=out,
        language=visitor.language,
    )
    name = f"{ean}_{first.isoformat()}_{last.isoformat()}.csv"
    response = Response(
        out.getvalue().encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
    return with_headers(request, response)


@router.post("/access-points/{ean}/user-port")
def request_user_port(
    request: Request, hub: HubDep, visitor: GridUser, ean: str, form: CheckedForm
) -> Response:
    """Ask to open (optionally until a day) or close the user port; carried out within 24 hours."""
    periods, _ = held_periods(hub, visitor, ean)
    now = hub.now()
    if not _current(periods, market_day(now)):
        raise not_found()
    try:
        action = PortAction(form_text(form, "action"))
    except ValueError:
        raise PortalError(400, "error.400") from None
    until = _parse_day(form_text(form, "open_until")) if action is PortAction.OPEN else None
    assert visitor.account_id is not None
    try:
        with hub.transaction() as session:
            user_port.request_change(
                session, ean=ean, account_id=visitor.account_id, action=action, now=now, open_until=until
            )
    except user_port.PortError:
        raise PortalError(400, "port.problem") from None
    return redirect(request, f"/access-points/{ean}?port=requested#port")
