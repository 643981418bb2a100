"""Totals per hour, day and month, checked by hand on small inputs: tariffs, estimates, DST, gas days."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pyarrow as pa
import pytest

from kwartier.domain.channels import Channel, Energy, ReadingStatus, TariffPeriod, tariff_period
from kwartier.domain.timegrid import BRUSSELS, gas_hours, quarter_hours
from kwartier.exposure.export import TOTALS, Granularity, aggregate, period_bounds
from tests.exposure.tables import Reading, readings, utc

M, E = ReadingStatus.MEASURED, ReadingStatus.ESTIMATED
OFFTAKE, INJECTION = Channel.OFFTAKE, Channel.INJECTION
GAS_VOLUME, GAS_ENERGY = Channel.GAS_VOLUME, Channel.GAS_ENERGY
DAY, NIGHT, TOTAL = TariffPeriod.DAY, TariffPeriod.NIGHT, TariffPeriod.TOTAL

Row = tuple[str, str, datetime, datetime, int, int, int, str]


def rows_of(totals: pa.Table) -> list[Row]:
    assert totals.schema == TOTALS
    return [tuple(row.values()) for row in totals.to_pylist()]


def test_day_and_night_are_summed_apart_per_channel() -> None:
    # Monday 6 November 2023 (UTC+1): 06:30 and 06:45 local are night, 07:00 and 07:15 day;
    # Saturday 11 November 10:00 local is night (weekend)
    table = readings(
        [
            (OFFTAKE, NIGHT, utc(2023, 11, 6, 5, 30), 15, 100, M),
            (OFFTAKE, NIGHT, utc(2023, 11, 6, 5, 45), 15, 200, M),
            (OFFTAKE, DAY, utc(2023, 11, 6, 6, 0), 15, 300, M),
            (OFFTAKE, DAY, utc(2023, 11, 6, 6, 15), 15, 400, M),
            (INJECTION, DAY, utc(2023, 11, 6, 6, 0), 15, 50, M),
            (OFFTAKE, NIGHT, utc(2023, 11, 11, 9, 0), 15, 25, M),
        ]
    )
    assert rows_of(aggregate(table, Granularity.HOUR)) == [
        ("injection", "day", utc(2023, 11, 6, 6), utc(2023, 11, 6, 7), 50, 1, 0, "measured"),
        ("offtake", "day", utc(2023, 11, 6, 6), utc(2023, 11, 6, 7), 700, 2, 0, "measured"),
        ("offtake", "night", utc(2023, 11, 6, 5), utc(2023, 11, 6, 6), 300, 2, 0, "measured"),
        ("offtake", "night", utc(2023, 11, 11, 9), utc(2023, 11, 11, 10), 25, 1, 0, "measured"),
    ]
    monday, saturday = (
        (utc(2023, 11, 5, 23), utc(2023, 11, 6, 23)),
        (utc(2023, 11, 10, 23), utc(2023, 11, 11, 23)),
    )
    assert rows_of(aggregate(table, Granularity.DAY)) == [
        ("injection", "day", *monday, 50, 1, 0, "measured"),
        ("offtake", "day", *monday, 700, 2, 0, "measured"),
        ("offtake", "night", *monday, 300, 2, 0, "measured"),
        ("offtake", "night", *saturday, 25, 1, 0, "measured"),
    ]


def test_month_sums_follow_brussels_calendar_months() -> None:
    # 31 Oct 23:45 local is October; 1 Nov 00:00 local (still 31 Oct in UTC) is November;
    # 31 Dec 23:45 local is December of 2023
    table = readings(
        [
            (OFFTAKE, NIGHT, utc(2023, 10, 31, 22, 45), 15, 5, M),
            (OFFTAKE, NIGHT, utc(2023, 10, 31, 23, 0), 15, 7, M),
            (OFFTAKE, NIGHT, utc(2023, 11, 15, 2, 0), 15, 11, E),
            (OFFTAKE, NIGHT, utc(2023, 12, 31, 22, 45), 15, 3, M),
        ]
    )
    assert rows_of(aggregate(table, Granularity.MONTH)) == [
        ("offtake", "night", utc(2023, 9, 30, 22), utc(2023, 10, 31, 23), 5, 1, 0, "measured"),
        ("offtake", "night", utc(2023, 10, 31, 23), utc(2023, 11, 30, 23), 18, 2, 1, "partly-estimated"),
        ("offtake", "night", utc(2023, 11, 30, 23), utc(2023, 12, 31, 23), 3, 1, 0, "measured"),
    ]


def test_a_whole_month_holds_the_extra_dst_hour() -> None:
    # October 2023: 31 days of 96 quarters plus 4 on the 29th; 22 weekdays of 60 day quarters
    starts = [q for d in range(1, 32) for q in quarter_hours(date(2023, 10, d))]
    table = readings([(OFFTAKE, tariff_period(s), s, 15, 1, M) for s in starts])
    totals = rows_of(aggregate(table, Granularity.MONTH))
    october = (utc(2023, 9, 30, 22), utc(2023, 10, 31, 23))
    assert totals == [
        ("offtake", "day", *october, 1320, 1320, 0, "measured"),
        ("offtake", "night", *october, 1660, 1660, 0, "measured"),
    ]


def test_one_estimated_quarter_makes_its_hour_and_day_partly_estimated() -> None:
    # 10:00-11:00 local: one of four estimated; 11:00-12:00 all four; 12:00-13:00 none
    values = [
        (10, M),
        (20, E),
        (30, M),
        (40, M),
        (1, E),
        (2, E),
        (3, E),
        (4, E),
        (5, M),
        (5, M),
        (5, M),
        (5, M),
    ]
    table = readings(
        [
            (OFFTAKE, DAY, utc(2023, 11, 6, 9) + i * timedelta(minutes=15), 15, v, s)
            for i, (v, s) in enumerate(values)
        ]
    )
    assert rows_of(aggregate(table, Granularity.HOUR)) == [
        ("offtake", "day", utc(2023, 11, 6, 9), utc(2023, 11, 6, 10), 100, 4, 1, "partly-estimated"),
        ("offtake", "day", utc(2023, 11, 6, 10), utc(2023, 11, 6, 11), 10, 4, 4, "estimated"),
        ("offtake", "day", utc(2023, 11, 6, 11), utc(2023, 11, 6, 12), 20, 4, 0, "measured"),
    ]
    assert rows_of(aggregate(table, Granularity.DAY)) == [
        ("offtake", "day", utc(2023, 11, 5, 23), utc(2023, 11, 6, 23), 130, 12, 5, "partly-estimated"),
    ]
    quarters = rows_of(aggregate(table, Granularity.QUARTER))
    assert [(r[4], r[5], r[6], r[7]) for r in quarters[:2]] == [
        (10, 1, 0, "measured"),
        (20, 1, 1, "estimated"),
    ]
    assert [r[3] - r[2] for r in quarters] == [timedelta(minutes=15)] * 12


def test_autumn_dst_day_has_100_quarters_and_25_hours_with_the_repeated_hour_twice() -> None:
    starts = quarter_hours(date(2023, 10, 29))  # a Sunday: night all day
    table = readings([(OFFTAKE, NIGHT, s, 15, i + 1, M) for i, s in enumerate(starts)])
    assert rows_of(aggregate(table, Granularity.DAY)) == [
        ("offtake", "night", utc(2023, 10, 28, 22), utc(2023, 10, 29, 23), 5050, 100, 0, "measured"),
    ]
    hours = rows_of(aggregate(table, Granularity.HOUR))
    assert len(hours) == 25
    assert [r[5] for r in hours] == [4] * 25
    assert [r[4] for r in hours] == [16 * k + 10 for k in range(25)]  # (4k+1) + … + (4k+4)
    assert [r[2].astimezone(BRUSSELS).hour for r in hours] == [0, 1, 2, 2, *range(3, 24)]
    repeated = [r for r in hours if r[2].astimezone(BRUSSELS).hour == 2]
    assert [(r[2], r[3]) for r in repeated] == [
        (utc(2023, 10, 29, 0), utc(2023, 10, 29, 1)),  # 02:00 summer time (UTC+2)
        (utc(2023, 10, 29, 1), utc(2023, 10, 29, 2)),  # 02:00 winter time (UTC+1)
    ]


def test_spring_dst_day_has_92_quarters_and_23_hours() -> None:
    starts = quarter_hours(date(2024, 3, 31))
    table = readings([(OFFTAKE, NIGHT, s, 15, 2, M) for s in starts])
    assert rows_of(aggregate(table, Granularity.DAY)) == [
        ("offtake", "night", utc(2024, 3, 30, 23), utc(2024, 3, 31, 22), 184, 92, 0, "measured"),
    ]
    hours = rows_of(aggregate(table, Granularity.HOUR))
    assert [r[2].astimezone(BRUSSELS).hour for r in hours] == [0, 1, *range(3, 24)]
    assert [r[4] for r in hours] == [8] * 23


def test_gas_days_run_from_six_to_six_local_time() -> None:
    # 04:00, 05:00 local belong to the gas day of 5 November, 06:00 and 07:00 to that of 6 November
    starts = [utc(2023, 11, 6, h) for h in (3, 4, 5, 6)]
    gas = readings([(GAS_VOLUME, TOTAL, s, 60, v, M) for s, v in zip(starts, (1, 2, 4, 8), strict=True)])
    assert rows_of(aggregate(gas, Granularity.DAY)) == [
        ("gas_volume", "total", utc(2023, 11, 5, 5), utc(2023, 11, 6, 5), 3, 2, 0, "measured"),
        ("gas_volume", "total", utc(2023, 11, 6, 5), utc(2023, 11, 7, 5), 12, 2, 0, "measured"),
    ]
    # the same instants in electricity lie on one market day
    electricity = readings([(OFFTAKE, NIGHT, s, 15, v, M) for s, v in zip(starts, (1, 2, 4, 8), strict=True)])
    assert rows_of(aggregate(electricity, Granularity.DAY)) == [
        ("offtake", "night", utc(2023, 11, 5, 23), utc(2023, 11, 6, 23), 15, 4, 0, "measured"),
    ]


def test_gas_days_around_dst_have_25_and_23_hours() -> None:
    autumn = gas_hours(date(2023, 10, 28)) + gas_hours(date(2023, 10, 29))
    spring = gas_hours(date(2024, 3, 30))
    table = readings([(GAS_ENERGY, TOTAL, s, 60, 10, M) for s in autumn + spring])
    assert rows_of(aggregate(table, Granularity.DAY)) == [
        ("gas_energy", "total", utc(2023, 10, 28, 4), utc(2023, 10, 29, 5), 250, 25, 0, "measured"),
        ("gas_energy", "total", utc(2023, 10, 29, 5), utc(2023, 10, 30, 5), 240, 24, 0, "measured"),
        ("gas_energy", "total", utc(2024, 3, 30, 5), utc(2024, 3, 31, 4), 230, 23, 0, "measured"),
    ]


def test_gas_months_start_at_six_on_the_first() -> None:
    # 1 November 05:00 local is still the October gas month, 06:00 opens November
    table = readings(
        [
            (GAS_VOLUME, TOTAL, utc(2023, 11, 1, 4), 60, 3, M),
            (GAS_VOLUME, TOTAL, utc(2023, 11, 1, 5), 60, 4, E),
            (GAS_ENERGY, TOTAL, utc(2023, 11, 1, 4), 60, 30, M),
            (GAS_ENERGY, TOTAL, utc(2023, 11, 1, 5), 60, 40, E),
        ]
    )
    october, november = (utc(2023, 10, 1, 4), utc(2023, 11, 1, 5)), (utc(2023, 11, 1, 5), utc(2023, 12, 1, 5))
    assert rows_of(aggregate(table, Granularity.MONTH)) == [
        ("gas_energy", "total", *october, 30, 1, 0, "measured"),
        ("gas_energy", "total", *november, 40, 1, 1, "estimated"),
        ("gas_volume", "total", *october, 3, 1, 0, "measured"),
        ("gas_volume", "total", *november, 4, 1, 1, "estimated"),
    ]


def test_quarter_and_hour_on_gas_keep_the_stored_hours() -> None:
    starts = gas_hours(date(2023, 10, 28))
    table = readings([(GAS_VOLUME, TOTAL, s, 60, i, M) for i, s in enumerate(starts)])
    expected = [
        ("gas_volume", "total", s, s + timedelta(hours=1), i, 1, 0, "measured") for i, s in enumerate(starts)
    ]
    assert rows_of(aggregate(table, Granularity.QUARTER)) == expected
    assert rows_of(aggregate(table, Granularity.HOUR)) == expected


@pytest.mark.parametrize(
    ("day", "granularity", "energy", "bounds"),
    [
        (
            date(2024, 2, 10),
            Granularity.MONTH,
            Energy.ELECTRICITY,
            (utc(2024, 1, 31, 23), utc(2024, 2, 29, 23)),
        ),
        (date(2024, 3, 1), Granularity.MONTH, Energy.GAS, (utc(2024, 3, 1, 5), utc(2024, 4, 1, 4))),
        (
            date(2023, 12, 31),
            Granularity.MONTH,
            Energy.ELECTRICITY,
            (utc(2023, 11, 30, 23), utc(2023, 12, 31, 23)),
        ),
        (
            date(2024, 3, 31),
            Granularity.DAY,
            Energy.ELECTRICITY,
            (utc(2024, 3, 30, 23), utc(2024, 3, 31, 22)),
        ),
        (date(2023, 10, 28), Granularity.DAY, Energy.GAS, (utc(2023, 10, 28, 4), utc(2023, 10, 29, 5))),
    ],
)
def test_period_bounds(
    day: date, granularity: Granularity, energy: Energy, bounds: tuple[datetime, datetime]
) -> None:
    assert period_bounds(day, granularity, energy) == bounds


def test_period_bounds_only_for_days_and_months() -> None:
    with pytest.raises(ValueError, match="days and months"):
        period_bounds(date(2024, 1, 1), Granularity.HOUR, Energy.GAS)


def test_no_readings_give_no_totals() -> None:
    assert aggregate(readings([]), Granularity.MONTH).equals(TOTALS.empty_table())


QUARTER_0 = (OFFTAKE, NIGHT, utc(2023, 11, 6, 0), 15, 1, M)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            pa.concat_tables([readings([QUARTER_0]), readings([QUARTER_0], ap="fedcba9876543210")]),
            "2 access points",
        ),
        (readings([QUARTER_0, (OFFTAKE, NIGHT, utc(2023, 11, 6, 0), 15, 2, E)]), "2 versions"),
        (readings([(OFFTAKE, NIGHT, utc(2023, 11, 6, 0), 15, 1, ReadingStatus.REJECTED)]), "rejected"),
        (readings([(OFFTAKE, NIGHT, utc(2023, 11, 6, 0), 1440, 1, M)]), "1440 minutes"),
        (readings([QUARTER_0]).drop_columns(["status"]), "status"),
    ],
)
def test_refused_input(table: pa.Table, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        aggregate(table, Granularity.HOUR)


def test_unknown_channel_is_refused() -> None:
    table = readings([QUARTER_0]).set_column(1, "channel", pa.array(["reactive"]))
    with pytest.raises(ValueError, match="reactive"):
        aggregate(table, Granularity.DAY)


def test_a_daily_value_fits_its_market_day() -> None:
    day: Reading = (OFFTAKE, NIGHT, utc(2023, 11, 5, 23), 1440, 9, M)
    assert rows_of(aggregate(readings([day]), Granularity.DAY)) == [
        ("offtake", "night", utc(2023, 11, 5, 23), utc(2023, 11, 6, 23), 9, 1, 0, "measured"),
    ]
