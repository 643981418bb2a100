"""One access point's data for the portal and the API (issue 6): energy by granularity, freshness, peaks,
installation data and sharing results.

Rules:
- these functions take an EAN and resolve its pseudonym ``ap`` themselves; callers have checked the
  occupancy (portal) or the mandate (API) first — the store is never read for an EAN that was not checked
  (issue 6 "Security": the API resolves pseudonyms only after the mandate check);
- periods are local days [start, end) (gas: gas days from 06:00), values integer Wh (gas volume dm³) as
  stored, the current version of each interval (:mod:`kwartier.store.versions`); ``recorded_since`` keeps
  only the intervals whose current version was recorded at or after it (incremental sync by insertion
  time);
- freshness: the last complete day is the latest local day, of the :data:`FRESHNESS_DAYS` before today,
  whose every quarter hour (gas: hour) holds a value on every channel of the day; a day is "still
  estimated" when any value in it is an estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.orm import Session

from kwartier.billing.billing_data import read_billing_peaks
from kwartier.domain.channels import Energy
from kwartier.domain.timegrid import BRUSSELS, expected_intervals, market_day_of
from kwartier.exposure.daily_totals import kept_days, with_status
from kwartier.exposure.export import END, ESTIMATED, QUARTERS, Granularity, aggregate, period_bounds
from kwartier.hub import Hub
from kwartier.market.register import market_day
from kwartier.market.service import register_state
from kwartier.registry.access_points import AccessPoint
from kwartier.registry.database import core
from kwartier.schema import AP, CHANNEL, MINUTES, RECORDED_AT, START, STATUS, TARIFF, UTC_MICROS, VALUE
from kwartier.sharing.settlement import MONTHLY

FRESHNESS_DAYS: Final = 35
_COLUMNS: Final = (CHANNEL, TARIFF, START, MINUTES, VALUE, STATUS, RECORDED_AT)  # what the totals need


@dataclass(frozen=True)
class Freshness:
    """How fresh an access point's data is (reference/data-access.md item 6)."""

    last_complete_day: date | None
    estimated_days: tuple[date, ...]


_ENERGY_OF: Final = sa.select(AccessPoint.energy).where(AccessPoint.ean == sa.bindparam("ean"))


def energy_of_access_point(session: Session, ean: str) -> Energy | None:
    """Electricity or gas, None for an EAN the registry does not know (a query built once: every API read
    of meter data runs it)."""
    energy: Energy | None = core(session).scalar(_ENERGY_OF, {"ean": ean})
    return energy


def readings(
    hub: Hub, ean: str, energy: Energy, start: date, end: date, *, recorded_since: datetime | None = None
) -> pa.Table:
    """The current stored readings of ``ean`` in the local days [start, end) (schema ``STORED_READINGS``)."""
    first, _ = period_bounds(start, Granularity.DAY, energy)
    last, _ = period_bounds(end, Granularity.DAY, energy)
    table = hub.store.read_access_point(hub.pseudonymiser.of(ean), first, last, columns=_COLUMNS)
    if recorded_since is not None:
        table = table.filter(
            pc.greater_equal(table[RECORDED_AT], pa.scalar(recorded_since, table[RECORDED_AT].type))
        )
    return table


def energy(
    hub: Hub,
    ean: str,
    energy: Energy,
    start: date,
    end: date,
    granularity: Granularity,
    *,
    recorded_since: datetime | None = None,
) -> pa.Table:
    """Totals of ``ean`` per channel, tariff and period of ``granularity`` in the local days [start, end)
    (schema :data:`kwartier.exposure.export.TOTALS`: channel, tariff, start, end, value, quarters,
    estimated, status). Electricity days and months come from the kept daily totals when they are at the
    store's current data version (:mod:`kwartier.exposure.daily_totals`), else they are summed live."""
    if (
        energy is Energy.ELECTRICITY
        and granularity in (Granularity.DAY, Granularity.MONTH)
        and recorded_since is None
    ):
        first, _ = period_bounds(start, Granularity.DAY, energy)
        last, _ = period_bounds(end, Granularity.DAY, energy)
        days = kept_days(hub.settings, hub.store, hub.pseudonymiser.of(ean), first, last)
        if days is not None:
            return days if granularity is Granularity.DAY else months_of_days(days)
    return aggregate(readings(hub, ean, energy, start, end, recorded_since=recorded_since), granularity)


def months_of_days(days: pa.Table) -> pa.Table:
    """Daily totals (schema ``TOTALS``) summed into local calendar months, as :func:`aggregate` would."""
    sums: dict[tuple[str, str, date], list[int]] = {}
    for channel, tariff, begin, value, quarters, estimated in zip(
        *(days[c].to_pylist() for c in (CHANNEL, TARIFF, START, VALUE, QUARTERS, ESTIMATED)), strict=True
    ):
        key = (channel, tariff, begin.astimezone(BRUSSELS).date().replace(day=1))
        total = sums.setdefault(key, [0, 0, 0])
        total[0] += value
        total[1] += quarters
        total[2] += estimated
    keys = sorted(sums)
    bounds = [period_bounds(first, Granularity.MONTH, Energy.ELECTRICITY) for _, _, first in keys]
    table = pa.table(
        {
            CHANNEL: [k[0] for k in keys],
            TARIFF: [k[1] for k in keys],
            START: pa.array([b[0] for b in bounds], UTC_MICROS),
            END: pa.array([b[1] for b in bounds], UTC_MICROS),
            VALUE: pa.array([sums[k][0] for k in keys], pa.int64()),
            QUARTERS: pa.array([sums[k][1] for k in keys], pa.int64()),
            ESTIMATED: pa.array([sums[k][2] for k in keys], pa.int64()),
        }
    )
    return with_status(table)


def freshness(hub: Hub, ean: str, energy: Energy, now: datetime) -> Freshness:
    """The last complete day and the days still estimated among the :data:`FRESHNESS_DAYS` before today."""
    today = market_day(now)
    start = today - timedelta(days=FRESHNESS_DAYS)
    days = energy_totals_by_day(hub, ean, energy, start, today)
    complete = [
        day for day, (intervals, channels, expected, _) in days.items() if intervals == channels * expected
    ]
    estimated = tuple(sorted(day for day, (_, _, _, estimates) in days.items() if estimates))
    return Freshness(max(complete, default=None), estimated)


def energy_totals_by_day(
    hub: Hub, ean: str, energy: Energy, start: date, end: date
) -> dict[date, tuple[int, int, int, int]]:
    """Per local day: (stored intervals, channels, expected intervals per channel, estimated intervals)."""
    table = readings(hub, ean, energy, start, end)
    minutes = 60 if energy is Energy.GAS else 15
    shift = timedelta(hours=6) if energy is Energy.GAS else timedelta(0)
    per_day: dict[date, tuple[set[str], int, int]] = {}
    for instant, channel, status in zip(
        table[START].to_pylist(), table[CHANNEL].to_pylist(), table[STATUS].to_pylist(), strict=True
    ):
        day = market_day_of(instant - shift)
        channels, count, estimates = per_day.get(day, (set(), 0, 0))
        channels.add(channel)
        per_day[day] = (channels, count + 1, estimates + (status == "estimated"))
    return {
        day: (count, len(channels), expected_intervals(day, minutes), estimates)
        for day, (channels, count, estimates) in sorted(per_day.items())
    }


def peaks(hub: Hub, ean: str) -> list[dict[str, Any]]:
    """The kept monthly and billing peaks of ``ean``, by month (see :mod:`kwartier.billing.billing_data`);
    empty when none are kept (a gas access point, or before the first ``kwartier billing-refresh``)."""
    table = read_billing_peaks(hub.settings, hub.pseudonymiser.of(ean))
    if table.num_rows == 0:
        return []
    return [
        {key: value for key, value in row.items() if key not in (AP, "month_index")}
        for row in table.to_pylist()
    ]


def installation(session: Session, ean: str, day: date) -> dict[str, Any] | None:
    """What the access register says of ``ean`` on ``day``: status, supplier, balance responsible party,
    measurement regime, meter, connection capacity and production installations (not the grid user)."""
    state = register_state(session, ean, day)
    if state is None:
        return None
    return {
        key: state[key]
        for key in ("day", "status", "supplier", "brp", "regime", "meter", "capacity", "installations")
    }


def sharing_results(hub: Hub, ean: str) -> list[dict[str, Any]]:
    """The monthly sharing results of ``ean`` per group, month and tariff period [Wh], from the newest
    settlement run of each group and range (:mod:`kwartier.sharing.settlement`)."""
    ap = hub.pseudonymiser.of(ean)
    rows: list[dict[str, Any]] = []
    for run in _newest_runs(hub.settings.home / "sharing"):
        table = pq.read_table(run / "monthly.parquet", filters=[(AP, "=", ap)], schema=MONTHLY)
        rows.extend({k: v for k, v in row.items() if k != AP} for row in table.to_pylist())
    return sorted(rows, key=lambda row: (row["group"], row["month"], row["tariff"]))


def _newest_runs(root: Path) -> list[Path]:
    """Per group and range, the run directory with the latest ``as-of``."""
    newest = []
    for period in sorted(root.glob("*/*_*")):
        runs = sorted(p for p in period.glob("as-of-*") if (p / "monthly.parquet").exists())
        if runs:
            newest.append(runs[-1])
    return newest
