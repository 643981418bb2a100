"""The API's column-wise JSON of totals equals the plain row-by-row encoding (a second method), and its
series shape holds exactly the same values, each at its place on the grid."""

from __future__ import annotations

import json
from datetime import UTC, date, timedelta

import pyarrow as pa
import pytest

from kwartier.domain.channels import Channel, Energy, ReadingStatus, TariffPeriod
from kwartier.domain.timegrid import quarter_hours
from kwartier.exposure.export import TOTALS, Granularity, aggregate, period_bounds
from kwartier.exposure.json_rows import column_wise_json, few_rows_json, series_json, totals_json
from tests.exposure.tables import readings, utc


def _autumn_dst_day_with_an_estimate() -> pa.Table:
    starts = quarter_hours(date(2023, 10, 29))  # 100 quarters
    rows = [
        (
            Channel.OFFTAKE,
            TariffPeriod.NIGHT,
            s,
            15,
            i + 1,
            ReadingStatus.ESTIMATED if i == 7 else ReadingStatus.MEASURED,
        )
        for i, s in enumerate(starts)
    ]
    rows += [(Channel.INJECTION, TariffPeriod.NIGHT, s, 15, 3, ReadingStatus.MEASURED) for s in starts[40:60]]
    return readings(rows)


@pytest.mark.parametrize("granularity", list(Granularity))
def test_column_wise_json_equals_row_by_row(granularity: Granularity) -> None:
    totals = aggregate(_autumn_dst_day_with_an_estimate(), granularity)
    assert totals.num_rows > 0
    expected = [
        {
            "channel": row["channel"],
            "tariff": row["tariff"],
            "start": row["start"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": row["end"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "value_wh": row["value"],
            "quarters": row["quarters"],
            "estimated": row["estimated"],
            "status": row["status"],
        }
        for row in totals.to_pylist()
    ]
    assert json.loads(totals_json(totals)) == expected


@pytest.mark.parametrize("granularity", list(Granularity))
def test_both_ways_to_json_write_the_same_text(granularity: Granularity) -> None:
    totals = aggregate(_autumn_dst_day_with_an_estimate(), granularity)
    assert few_rows_json(totals) == column_wise_json(totals)


def test_empty_totals_and_a_value_that_would_need_escaping() -> None:
    assert totals_json(TOTALS.empty_table()) == b"[]"
    row = {
        c: [v]
        for c, v in zip(TOTALS.names, ['off"take', "day", 0, 900_000_000, 1, 1, 0, "measured"], strict=True)
    }
    row["start"] = pa.array([0], pa.timestamp("us", tz="UTC"))
    row["end"] = pa.array([900_000_000], pa.timestamp("us", tz="UTC"))
    with pytest.raises(ValueError, match="code-list"):
        totals_json(pa.table(row, schema=TOTALS))


def _day_of_gas() -> pa.Table:
    """A gas day (hourly volume) with two hours missing and one estimated."""
    first, _ = period_bounds(date(2024, 3, 31), Granularity.DAY, Energy.GAS)  # spring DST: 23 hours
    rows = [
        (
            Channel.GAS_VOLUME,
            TariffPeriod.TOTAL,
            first + timedelta(hours=h),
            60,
            100 + h,
            ReadingStatus.ESTIMATED if h == 5 else ReadingStatus.MEASURED,
        )
        for h in range(23)
        if h not in (3, 4)
    ]
    return readings(rows)


@pytest.mark.parametrize(
    ("table", "day", "energy"),
    [
        (_autumn_dst_day_with_an_estimate(), date(2023, 10, 29), Energy.ELECTRICITY),
        (_day_of_gas(), date(2024, 3, 31), Energy.GAS),
    ],
)
def test_series_hold_every_row_at_its_place(table: pa.Table, day: date, energy: Energy) -> None:
    totals = aggregate(table, Granularity.QUARTER)
    first, _ = period_bounds(day, Granularity.DAY, energy)
    end, _ = period_bounds(day + timedelta(days=1), Granularity.DAY, energy)
    series = json.loads(series_json(totals, first, end))
    found: dict[tuple[str, str, str], tuple[int, bool]] = {}
    for one in series:
        assert one["start"] == first.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert one["end"] == end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        step = timedelta(minutes=one["resolution_minutes"])
        assert len(one["value_wh"]) == (end - first) // step
        for k, value in enumerate(one["value_wh"]):
            if value is not None:
                instant = (first + k * step).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                found[(one["channel"], one["tariff"], instant)] = (value, k in one["estimated_indexes"])
    rows = json.loads(totals_json(totals))
    assert found == {
        (r["channel"], r["tariff"], r["start"]): (r["value_wh"], r["estimated"] == 1) for r in rows
    }


def test_series_of_nothing_and_of_intervals_off_one_grid() -> None:
    first, end = utc(2025, 1, 1, 23), utc(2025, 1, 2, 23)
    assert series_json(TOTALS.empty_table(), first, end) == b"[]"
    mixed = readings(
        [
            (Channel.OFFTAKE, TariffPeriod.DAY, utc(2025, 1, 2, 8), 15, 1, ReadingStatus.MEASURED),
            (Channel.OFFTAKE, TariffPeriod.DAY, utc(2025, 1, 2, 9), 60, 4, ReadingStatus.MEASURED),
        ]
    )
    with pytest.raises(ValueError, match="several lengths or off the grid"):
        series_json(aggregate(mixed, Granularity.QUARTER), first, end)
