"""The quarter-hour grid in Europe/Brussels, the gas day and DST."""

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

import pytest

from kwartier.domain.timegrid import (
    expected_intervals,
    gas_day_bounds,
    gas_day_of,
    gas_hours,
    hours_in_gas_day,
    is_ambiguous,
    is_on_grid,
    local_to_utc,
    market_day_bounds,
    market_day_of,
    quarter_hours,
    quarters_in_day,
)


@pytest.mark.parametrize(
    ("day", "count"),
    [
        (date(2024, 3, 31), 92),
        (date(2024, 10, 27), 100),
        (date(2026, 3, 29), 92),
        (date(2026, 10, 25), 100),
        (date(2024, 3, 30), 96),
        (date(2024, 10, 28), 96),
        (date(2026, 11, 23), 96),
        (date(2024, 2, 29), 96),
    ],
)
def test_quarters_per_day(day: date, count: int) -> None:
    assert quarters_in_day(day) == count
    grid = quarter_hours(day)
    assert len(grid) == count
    assert all(b - a == timedelta(minutes=15) for a, b in pairwise(grid))
    assert all(market_day_of(q) == day for q in grid)
    assert expected_intervals(day, 15) == count


def test_market_day_bounds_in_utc() -> None:
    assert market_day_bounds(date(2026, 10, 25)) == (
        datetime(2026, 10, 24, 22, tzinfo=UTC),
        datetime(2026, 10, 25, 23, tzinfo=UTC),
    )
    assert market_day_bounds(date(2026, 1, 15))[0] == datetime(2026, 1, 14, 23, tzinfo=UTC)


@pytest.mark.parametrize(
    ("gas_day", "hours"),
    [
        (date(2024, 3, 30), 23),  # 06:00 Sat → 06:00 Sun 31 March spans the spring change
        (date(2024, 3, 31), 24),
        (date(2024, 10, 26), 25),  # 06:00 Sat → 06:00 Sun 27 October spans the autumn change
        (date(2024, 10, 27), 24),
        (date(2026, 3, 28), 23),
        (date(2026, 10, 24), 25),
        (date(2026, 11, 23), 24),
    ],
)
def test_gas_day(gas_day: date, hours: int) -> None:
    assert hours_in_gas_day(gas_day) == hours
    assert len(gas_hours(gas_day)) == hours
    start, _ = gas_day_bounds(gas_day)
    assert start.astimezone(UTC).hour in (4, 5)  # 06:00 local is 04:00 or 05:00 UTC
    assert all(gas_day_of(h) == gas_day for h in gas_hours(gas_day))
    assert expected_intervals(gas_day, 60) == hours


def test_gas_day_boundary() -> None:
    # 05:59 local belongs to the previous gas day; 06:00 local starts the new one (winter: UTC+1)
    assert gas_day_of(datetime(2026, 1, 15, 4, 59, tzinfo=UTC)) == date(2026, 1, 14)
    assert gas_day_of(datetime(2026, 1, 15, 5, 0, tzinfo=UTC)) == date(2026, 1, 15)


def test_on_grid() -> None:
    assert is_on_grid(datetime(2026, 1, 1, 0, 15, tzinfo=UTC), 15)
    assert not is_on_grid(datetime(2026, 1, 1, 0, 15, tzinfo=UTC), 60)
    assert not is_on_grid(datetime(2026, 1, 1, 0, 16, tzinfo=UTC), 15)
    assert not is_on_grid(datetime(2026, 1, 1, 0, 15, 1, tzinfo=UTC), 15)
    with pytest.raises(ValueError, match="naive"):
        is_on_grid(datetime(2026, 1, 1), 15)  # noqa: DTZ001


def test_autumn_wall_clock_passes() -> None:
    day = date(2023, 10, 29)
    first = local_to_utc(day, time(2, 15), first_pass=True)
    second = local_to_utc(day, time(2, 15), first_pass=False)
    assert first == datetime(2023, 10, 29, 0, 15, tzinfo=UTC)  # summer time, UTC+2
    assert second == datetime(2023, 10, 29, 1, 15, tzinfo=UTC)  # winter time, UTC+1
    assert is_ambiguous(day, time(2, 45))
    assert not is_ambiguous(day, time(3, 0))


def test_spring_gap_does_not_exist() -> None:
    with pytest.raises(ValueError, match="does not exist"):
        local_to_utc(date(2024, 3, 31), time(2, 30))
