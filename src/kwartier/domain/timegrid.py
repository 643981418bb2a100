"""The quarter-hour grid: market days in Europe/Brussels, instants stored in UTC.

Rules (design.md "Time"; seed 001 art. 3.1.57 for quarter-hour electricity and hourly gas values):
- electricity is measured per quarter hour (15 min) and gas per hour (60 min);
- a market day runs from 00:00 to 24:00 local time in Europe/Brussels, so it holds 96 quarter hours,
  92 on the spring DST day and 100 on the autumn DST day;
- a gas day runs from 06:00 local time to 06:00 local time the next day, so it holds 24 hours, 23 or 25
  on the gas days that contain a DST change;
- every interval is identified by its start instant in UTC; Belgium's UTC offsets are whole hours, so a
  start is on the grid when it is a whole multiple of the resolution in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

BRUSSELS = ZoneInfo("Europe/Brussels")
QUARTER = timedelta(minutes=15)
HOUR = timedelta(hours=1)
QUARTER_MINUTES = 15
HOUR_MINUTES = 60
DAY_MINUTES = 1440
GAS_DAY_START = time(6, 0)


def local_midnight_utc(day: date) -> datetime:
    """Start of market day ``day`` (00:00 Europe/Brussels) as an aware UTC datetime."""
    return datetime.combine(day, time(0, 0), tzinfo=BRUSSELS).astimezone(UTC)


def market_day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of market day ``day`` in UTC."""
    return local_midnight_utc(day), local_midnight_utc(day + timedelta(days=1))


def gas_day_bounds(gas_day: date) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the gas day that starts at 06:00 local time on ``gas_day``."""
    start = datetime.combine(gas_day, GAS_DAY_START, tzinfo=BRUSSELS).astimezone(UTC)
    end = datetime.combine(gas_day + timedelta(days=1), GAS_DAY_START, tzinfo=BRUSSELS)
    return start, end.astimezone(UTC)


def intervals(start: datetime, end: datetime, minutes: int) -> list[datetime]:
    """UTC starts of the intervals of ``minutes`` minutes in [start, end)."""
    step = timedelta(minutes=minutes)
    count = int((end - start) / step)
    return [start + i * step for i in range(count)]


def quarter_hours(day: date) -> list[datetime]:
    """UTC starts of the quarter hours of market day ``day`` (92, 96 or 100 of them)."""
    return intervals(*market_day_bounds(day), QUARTER_MINUTES)


def gas_hours(gas_day: date) -> list[datetime]:
    """UTC starts of the hours of gas day ``gas_day`` (23, 24 or 25 of them)."""
    return intervals(*gas_day_bounds(gas_day), HOUR_MINUTES)


def quarters_in_day(day: date) -> int:
    """Number of quarter hours in market day ``day``: 96, or 92 / 100 on DST days."""
    start, end = market_day_bounds(day)
    return int((end - start) / QUARTER)


def hours_in_gas_day(gas_day: date) -> int:
    """Number of hours in gas day ``gas_day``: 24, or 23 / 25 when it holds a DST change."""
    start, end = gas_day_bounds(gas_day)
    return int((end - start) / HOUR)


def expected_intervals(day: date, minutes: int) -> int:
    """Intervals a complete day holds at resolution ``minutes`` (15: market day; 60: gas day; 1440: 1)."""
    if minutes == QUARTER_MINUTES:
        return quarters_in_day(day)
    if minutes == HOUR_MINUTES:
        return hours_in_gas_day(day)
    if minutes == DAY_MINUTES:
        return 1
    raise ValueError(f"no grid of {minutes} minutes")


def market_day_of(instant: datetime) -> date:
    """The market day (Europe/Brussels) that contains ``instant``."""
    return instant.astimezone(BRUSSELS).date()


def gas_day_of(instant: datetime) -> date:
    """The gas day (starting 06:00 Europe/Brussels) that contains ``instant``."""
    return (instant.astimezone(BRUSSELS) - timedelta(hours=6)).date()


def is_on_grid(instant: datetime, minutes: int) -> bool:
    """True when ``instant`` starts an interval of ``minutes`` minutes (15 or 60) on the UTC grid."""
    if instant.tzinfo is None:
        raise ValueError("a naive datetime has no place on the grid: give a time zone")
    epoch_seconds = int(instant.timestamp())
    return instant.microsecond == 0 and epoch_seconds % (minutes * 60) == 0


def local_to_utc(day: date, wall_clock: time, *, first_pass: bool = True) -> datetime:
    """Convert a Brussels wall-clock time to UTC.

    On the autumn DST day the wall-clock hour 02:00-02:59 happens twice; ``first_pass`` picks the first
    occurrence (summer time, UTC+2) or the second (winter time, UTC+1). A wall-clock time that does
    not exist (spring DST day, 02:00-02:59) raises ``ValueError``.
    """
    local = datetime.combine(day, wall_clock, tzinfo=BRUSSELS).replace(fold=0 if first_pass else 1)
    utc = local.astimezone(UTC)
    if utc.astimezone(BRUSSELS).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise ValueError(f"{day} {wall_clock} does not exist in Europe/Brussels (spring DST gap)")
    return utc


def is_ambiguous(day: date, wall_clock: time) -> bool:
    """True when the Brussels wall-clock time occurs twice (autumn DST day, 02:00-02:59)."""
    first = local_to_utc(day, wall_clock, first_pass=True)
    second = datetime.combine(day, wall_clock, tzinfo=BRUSSELS).replace(fold=1).astimezone(UTC)
    return first != second
