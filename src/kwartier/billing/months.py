"""Local calendar months (Europe/Brussels) as the billing calculations number and bound them.

A month is numbered ``year × 12 + (month − 1)`` (the *month index*) so that "the 12 months ending with M"
is the integer range ``[M − 11, M]`` on every engine. Its bounds are the UTC instants of its first local
midnight and of the next month's; a month with a DST change is an hour shorter or longer (2976 ± 4
quarter hours in March and October).
"""

from __future__ import annotations

from datetime import date, datetime

from kwartier.domain.timegrid import QUARTER, local_midnight_utc

QUARTER_SECONDS = int(QUARTER.total_seconds())


def month_index(month: date) -> int:
    """The month index of the month holding ``month``: year × 12 + month − 1."""
    return month.year * 12 + month.month - 1


def month_of_index(index: int) -> date:
    """The first day of the month with month index ``index``."""
    return date(index // 12, index % 12 + 1, 1)


def month_start(day: date) -> date:
    """The first day of the calendar month holding ``day``."""
    return day.replace(day=1)


def next_month(month: date) -> date:
    """The first day of the month after ``month``."""
    return month_of_index(month_index(month) + 1)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """UTC bounds [start, end) of the local calendar month holding ``month``."""
    first = month_start(month)
    return local_midnight_utc(first), local_midnight_utc(next_month(first))


def months_between(first: date, last: date) -> list[date]:
    """The first days of the months from the month of ``first`` to that of ``last``, both included."""
    return [month_of_index(i) for i in range(month_index(first), month_index(last) + 1)]


def quarter_index(instant: datetime) -> int:
    """Quarter hours since the Unix epoch of an aware instant on the quarter-hour grid."""
    return int(instant.timestamp()) // QUARTER_SECONDS


def month_quarter_bounds(months: list[date]) -> list[tuple[int, int, int]]:
    """Per month: its month index and the quarter indexes [first, end) of its local bounds."""
    bounds = []
    for month in months:
        start, end = month_bounds(month)
        bounds.append((month_index(month), quarter_index(start), quarter_index(end)))
    return bounds
