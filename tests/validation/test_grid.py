"""The slot grid: quarter hours of market days and hours of gas days, DST days by wall clock."""

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pyarrow as pa
import pytest

from kwartier.validation.grid import SLOT_GRID, slot_grid


@pytest.mark.parametrize(
    ("day", "count", "local_slots"),
    [
        # spring: 02:00-02:59 does not exist, so wall-clock quarters 8-11 are skipped
        (date(2024, 3, 31), 92, [*range(8), *range(12, 96)]),
        (date(2026, 3, 29), 92, [*range(8), *range(12, 96)]),
        # autumn: 02:00-02:59 happens twice, so wall-clock quarters 8-11 come twice
        (date(2024, 10, 27), 100, [*range(12), *range(8, 96)]),
        (date(2026, 10, 25), 100, [*range(12), *range(8, 96)]),
        (date(2024, 1, 10), 96, list(range(96))),
    ],
)
def test_quarter_hour_grid_of_a_market_day(day: date, count: int, local_slots: list[int]) -> None:
    grid = slot_grid([day], 15)
    assert grid.schema == SLOT_GRID
    assert grid.num_rows == count
    rows = grid.to_pylist()
    assert [row["slot"] for row in rows] == list(range(count))
    assert [row["local_slot"] for row in rows] == local_slots
    assert {row["day"] for row in rows} == {day}
    assert {row["minutes"] for row in rows} == {15}
    assert {row["weekday"] for row in rows} == {6 if day.month != 1 else 2}  # DST days are Sundays
    assert all(b["start"] - a["start"] == timedelta(minutes=15) for a, b in pairwise(rows))


def test_market_day_starts_at_local_midnight_in_utc() -> None:
    summer = slot_grid([date(2024, 10, 27)], 15).column("start").to_pylist()
    assert summer[0] == datetime(2024, 10, 26, 22, tzinfo=UTC)  # 00:00 CEST
    assert summer[-1] == datetime(2024, 10, 27, 22, 45, tzinfo=UTC)  # 23:45 CET


def test_tariff_follows_the_day_night_calendar() -> None:
    weekday = slot_grid([date(2024, 1, 10)], 15).to_pylist()  # Wednesday, UTC+1
    tariffs = [row["tariff"] for row in weekday]
    # 07:00-22:00 local is day: quarters 28 (07:00) up to 87 (21:45)
    assert tariffs == ["night"] * 28 + ["day"] * 60 + ["night"] * 8
    saturday = slot_grid([date(2024, 1, 13)], 15).column("tariff").to_pylist()
    assert set(saturday) == {"night"}


@pytest.mark.parametrize(
    ("gas_day", "hours", "local_slots", "first_start"),
    [
        # 06:00 local is 05:00 UTC in winter, 04:00 UTC in summer
        (date(2024, 3, 30), 23, [*range(6, 24), 0, 1, 3, 4, 5], datetime(2024, 3, 30, 5, tzinfo=UTC)),
        (date(2024, 10, 26), 25, [*range(6, 24), 0, 1, 2, 2, 3, 4, 5], datetime(2024, 10, 26, 4, tzinfo=UTC)),
        (date(2024, 1, 10), 24, [*range(6, 24), *range(6)], datetime(2024, 1, 10, 5, tzinfo=UTC)),
    ],
)
def test_hour_grid_of_a_gas_day(
    gas_day: date, hours: int, local_slots: list[int], first_start: datetime
) -> None:
    rows = slot_grid([gas_day], 60).to_pylist()
    assert len(rows) == hours
    assert [row["slot"] for row in rows] == list(range(hours))
    assert [row["local_slot"] for row in rows] == local_slots
    assert {row["tariff"] for row in rows} == {"total"}
    assert {row["weekday"] for row in rows} == {gas_day.weekday()}
    assert rows[0]["start"] == first_start
    assert all(b["start"] - a["start"] == timedelta(hours=1) for a, b in pairwise(rows))


def test_several_days_are_sorted_and_deduplicated() -> None:
    grid = slot_grid([date(2024, 1, 11), date(2024, 1, 10), date(2024, 1, 11)], 60)
    assert grid.num_rows == 48
    days = grid.column("day").to_pylist()
    assert days == sorted(days)


def test_only_quarter_hours_and_gas_hours() -> None:
    with pytest.raises(ValueError, match="1440"):
        slot_grid([date(2024, 1, 10)], 1440)
    assert slot_grid([], 15).equals(pa.table({f.name: [] for f in SLOT_GRID}, schema=SLOT_GRID))
