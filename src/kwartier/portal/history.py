"""The consumption history of an access point as the portal shows it: pure functions over energy totals.

Rules (seed 001 art. 3.1.58 6°; seed 000 §6.1):
- the detailed history covers the :data:`DETAIL_MONTHS` months before today per tariff period by day, week,
  month and year; the cumulative history the :data:`CUMULATIVE_YEARS` calendar years before this one and
  this year so far;
- both are cut to the days on which the customer was the access point's grid user: a predecessor's or
  successor's consumption is never shown (``clipped``);
- a week is an ISO week (Monday to Sunday) named by its Monday, a year a calendar year; their totals add
  the day or month totals, and a period is estimated when any total in it is (measured < partly estimated
  < estimated is not kept apart beyond "holds estimates");
- a month the customer held only in part has its monthly peak recomputed from the quarter hours of the
  held days only; the billing peak ("gemiddelde maandpiek") is then the mean over the held months with a
  peak among the 12 ending with the month of max(monthly peak, 2.5 kW), rounded half up to the W
  (docs/billing.md): nobody pays for, or sees, a predecessor's peaks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final

from kwartier.access.mandates import Period, clipped
from kwartier.billing.capacity import MINIMUM_PEAK_W, POWER_PER_QUARTER_ENERGY, WINDOW_MONTHS
from kwartier.domain.channels import Channel, TariffPeriod
from kwartier.domain.timegrid import BRUSSELS
from kwartier.portal.charts import Point

DETAIL_MONTHS: Final = 24
CUMULATIVE_YEARS: Final = 3
COLUMN_ORDER: Final = tuple(
    (channel.value, tariff.value)
    for channel in Channel
    for tariff in (TariffPeriod.DAY, TariffPeriod.NIGHT, TariffPeriod.EXCLUSIVE_NIGHT, TariffPeriod.TOTAL)
)
OFFTAKE_CHANNELS: Final = frozenset({Channel.OFFTAKE.value, Channel.GAS_ENERGY.value})
INJECTION_CHANNELS: Final = frozenset({Channel.INJECTION.value})


def months_back(day: date, months: int) -> date:
    """The first day of the month ``months`` before the month of ``day``."""
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def next_month(day: date) -> date:
    """The first day of the month after ``day``'s."""
    return months_back(day, -1)


def detail_window(today: date) -> tuple[date, date]:
    """[start, end) of the detailed history: the :data:`DETAIL_MONTHS` months before today, today excluded."""
    return months_back(today, DETAIL_MONTHS), today


def cumulative_window(today: date) -> tuple[date, date]:
    """[start, end) of the cumulative history: the last :data:`CUMULATIVE_YEARS` years and this one so far."""
    return date(today.year - CUMULATIVE_YEARS, 1, 1), today


def visible(periods: Iterable[Period], start: date, end: date) -> list[tuple[date, date]]:
    """The parts of [start, end) on which the customer held the access point."""
    return clipped(periods, start, end) if start < end else []


@dataclass
class Row:
    """One period of the history table: totals per (channel, tariff) [Wh] and which of them are estimated."""

    start: date
    label: str
    values: dict[tuple[str, str], int] = field(default_factory=dict)
    estimated: set[tuple[str, str]] = field(default_factory=set)

    def total(self, channels: frozenset[str]) -> int:
        """The sum over ``channels`` (all tariffs) [Wh]."""
        return sum(value for (channel, _), value in self.values.items() if channel in channels)

    @property
    def any_estimated(self) -> bool:
        """Whether any total in the period holds estimated values."""
        return bool(self.estimated)


def local_day(instant: datetime) -> date:
    """The Europe/Brussels date of an instant."""
    return instant.astimezone(BRUSSELS).date()


def grouped(totals: Iterable[dict[str, Any]], key: str) -> list[Row]:
    """Day or month totals (rows of :data:`kwartier.exposure.export.TOTALS`) as table rows per ``key``
    period: ``day``, ``week`` (ISO, named by its Monday), ``month`` or ``year``, oldest first."""
    rows: dict[date, Row] = {}
    for total in totals:
        day = local_day(total["start"])
        if key == "week":
            first = day - timedelta(days=day.weekday())
            label = f"{first.isocalendar()[1]:02d} · {first.isoformat()}"
        elif key == "month":
            first, label = day.replace(day=1), f"{day:%Y-%m}"
        elif key == "year":
            first, label = date(day.year, 1, 1), f"{day.year}"
        else:
            first, label = day, day.isoformat()
        row = rows.setdefault(first, Row(first, label))
        column = (total["channel"], total["tariff"])
        row.values[column] = row.values.get(column, 0) + int(total["value"])
        if total["status"] != "measured":
            row.estimated.add(column)
    return [rows[start] for start in sorted(rows)]


def columns_of(rows: Sequence[Row]) -> list[tuple[str, str]]:
    """The (channel, tariff) columns present in ``rows``, offtake before injection, day before night."""
    present = {column for row in rows for column in row.values}
    known = [column for column in COLUMN_ORDER if column in present]
    return known + sorted(present - set(known))


def chart_points(rows: Sequence[Row]) -> list[Point]:
    """Chart slots of table rows: offtake and injection totals, estimated when any total is."""
    every = max(1, len(rows) // 8)
    return [
        Point(
            row.label,
            row.total(OFFTAKE_CHANNELS),
            row.total(INJECTION_CHANNELS),
            row.any_estimated,
            row.label if index % every == 0 else None,
        )
        for index, row in enumerate(rows)
    ]


@dataclass(frozen=True)
class Quarter:
    """One quarter hour (or gas hour) of a day: local start, offtake and injection [Wh], estimated."""

    start: datetime
    offtake_wh: int
    injection_wh: int
    estimated: bool


def quarters(totals: Iterable[dict[str, Any]]) -> list[Quarter]:
    """Quarter totals (any tariff added) per interval, in time order."""
    by_start: dict[datetime, list[int]] = {}
    for total in totals:
        slot = by_start.setdefault(total["start"], [0, 0, 0])
        if total["channel"] in INJECTION_CHANNELS:
            slot[1] += int(total["value"])
        else:
            slot[0] += int(total["value"])
        slot[2] |= total["status"] != "measured"
    return [
        Quarter(start.astimezone(BRUSSELS), off, inj, bool(est))
        for start, (off, inj, est) in sorted(by_start.items())
    ]


def quarter_points(day_quarters: Sequence[Quarter]) -> list[Point]:
    """Chart slots of a day's quarters, with an axis label every three hours."""
    points = []
    for quarter in day_quarters:
        local = quarter.start
        tick = f"{local:%H}h" if local.minute == 0 and local.hour % 3 == 0 else None
        points.append(
            Point(f"{local:%H:%M}", quarter.offtake_wh, quarter.injection_wh, quarter.estimated, tick)
        )
    return points


@dataclass(frozen=True)
class MonthPeak:
    """A monthly peak as the portal shows it [W]; ``partial``: recomputed from the held days only."""

    month: date
    peak_w: int
    peak_start: datetime | None
    estimated: bool
    partial: bool
    billing_peak_w: int | None = None
    months_counted: int | None = None


def peak_of_quarters(day_quarters: Iterable[Quarter]) -> tuple[int, datetime | None, bool]:
    """(peak power [W], start of its quarter, estimated) of quarter-hour offtake: the highest offtake × 4,
    the earliest of equal quarters (docs/billing.md)."""
    best: tuple[int, datetime | None, bool] = (0, None, False)
    for quarter in day_quarters:
        power = quarter.offtake_wh * POWER_PER_QUARTER_ENERGY
        if best[1] is None or power > best[0]:
            best = (power, quarter.start, quarter.estimated)
    return best


def with_billing_peaks(months: Sequence[MonthPeak]) -> list[MonthPeak]:
    """``months`` (the held months, any order) each with the billing peak over the held months with a peak
    among the 12 ending with it: mean of max(peak, 2.5 kW), rounded half up to the W."""
    ordered = sorted(months, key=lambda m: m.month)
    result = []
    for peak in ordered:
        first = months_back(peak.month, WINDOW_MONTHS - 1)
        window = [max(m.peak_w, MINIMUM_PEAK_W) for m in ordered if first <= m.month <= peak.month]
        billing = (sum(window) * 2 + len(window)) // (len(window) * 2)
        result.append(
            MonthPeak(
                peak.month, peak.peak_w, peak.peak_start, peak.estimated, peak.partial, billing, len(window)
            )
        )
    return result


def held_months(periods: Iterable[Period], start: date, end: date) -> tuple[list[date], list[date]]:
    """(months held in full, months held in part) among the months overlapping [start, end)."""
    full, part = [], []
    month = start.replace(day=1)
    parts = visible(periods, start, end)
    while month < end:
        following = next_month(month)
        inside = sum(
            ((min(b, following) - max(a, month)).days for a, b in parts if a < following and b > month)
        )
        if inside == (following - month).days:
            full.append(month)
        elif inside > 0:
            part.append(month)
        month = following
    return full, part
