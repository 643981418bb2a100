"""The API's column-wise JSON of totals equals the plain row-by-row encoding (a second method)."""

from __future__ import annotations

import json
from datetime import UTC, date

import pyarrow as pa
import pytest

from kwartier.domain.channels import Channel, ReadingStatus, TariffPeriod
from kwartier.domain.timegrid import quarter_hours
from kwartier.exposure.export import TOTALS, Granularity, aggregate
from kwartier.exposure.json_rows import totals_json
from tests.exposure.tables import readings


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
