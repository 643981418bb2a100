"""Day-level rules V01-COMPLETENESS and V05-REGISTER-DELTA on DuckDB."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pyarrow as pa
import pytest

from kwartier.config import EngineName
from kwartier.domain.channels import Channel, TariffPeriod
from kwartier.domain.timegrid import gas_day_bounds, local_midnight_utc
from kwartier.engine import connect, load, to_arrow
from kwartier.validation.day_rules import completeness_findings, register_delta_findings
from tests.estimation.builders import expected, readings, registers, series, slots
from tests.estimation.builders import grid as slot_grids

OFFTAKE = Channel.OFFTAKE
WEDNESDAY = date(2024, 1, 10)
FINDING_ORDER = ["ap", "channel", "day", "rule", "detail"]


@pytest.fixture
def backend() -> Any:
    """An in-memory DuckDB backend."""
    return connect(EngineName.DUCKDB)


def completeness(
    backend: Any, current: list[dict[str, Any]], wanted: pa.Table, days: list[date]
) -> list[Any]:
    """V01 findings as (ap, channel, day, detail) tuples."""
    findings = completeness_findings(
        load(backend, readings(current)), load(backend, wanted), load(backend, slot_grids(days, 0))
    )
    rows = to_arrow(findings, sort_by=FINDING_ORDER).to_pylist()
    assert {row["rule"] for row in rows} <= {"V01-COMPLETENESS"}
    return [(row["ap"], row["channel"], row["day"], row["detail"]) for row in rows]


def test_incomplete_days_are_reported(backend: Any) -> None:
    gas, autumn = Channel.GAS_VOLUME, date(2024, 10, 27)
    current = series("A", OFFTAKE, slots(WEDNESDAY)[:87], [1] * 87)
    current += series("A", OFFTAKE, slots(autumn)[1:], [1] * 99)  # 100-quarter day, one missing
    current += series("B", OFFTAKE, slots(WEDNESDAY), [1] * 96)  # complete
    wanted = expected(
        [("A", OFFTAKE, WEDNESDAY), ("A", OFFTAKE, autumn), ("B", OFFTAKE, WEDNESDAY), ("G", gas, WEDNESDAY)]
    )
    assert completeness(backend, current, wanted, [WEDNESDAY, autumn]) == [
        ("A", "offtake", WEDNESDAY, "87 of 96 quarters"),
        ("A", "offtake", autumn, "99 of 100 quarters"),
        ("G", "gas_volume", WEDNESDAY, "0 of 24 hours"),
    ]


def test_only_expected_days_count_and_a_start_counts_once(backend: Any) -> None:
    thursday = WEDNESDAY + timedelta(days=1)
    current = series("A", OFFTAKE, slots(WEDNESDAY), [1] * 96)
    doubled = series("A", OFFTAKE, slots(thursday)[:10], [1] * 10)
    current += doubled + [{**row, "tariff": "excl_night"} for row in doubled]
    assert completeness(backend, current, expected([("A", OFFTAKE, thursday)]), [WEDNESDAY, thursday]) == [
        ("A", "offtake", thursday, "10 of 96 quarters")
    ]


def register_deltas(
    backend: Any, current: list[dict[str, Any]], index: pa.Table, days: list[date], tolerance: int = 1
) -> list[tuple[Any, ...]]:
    """V05 findings as (ap, channel, day, detail) tuples."""
    findings = register_delta_findings(
        load(backend, readings(current)), load(backend, index), load(backend, slot_grids(days, 0)), tolerance
    )
    rows = to_arrow(findings, sort_by=FINDING_ORDER).to_pylist()
    assert {row["rule"] for row in rows} <= {"V05-REGISTER-DELTA"}
    return [(row["ap"], row["channel"], row["day"], row["detail"]) for row in rows]


def wednesday_index(ap: str, day_delta: int, night_delta: int) -> list[tuple[Any, ...]]:
    midnight, next_midnight = local_midnight_utc(WEDNESDAY), local_midnight_utc(WEDNESDAY + timedelta(days=1))
    return [
        (ap, OFFTAKE, TariffPeriod.DAY, midnight, 1_000),
        (ap, OFFTAKE, TariffPeriod.DAY, next_midnight, 1_000 + day_delta),
        (ap, OFFTAKE, TariffPeriod.NIGHT, midnight, 5_000),
        (ap, OFFTAKE, TariffPeriod.NIGHT, next_midnight, 5_000 + night_delta),
    ]


def test_interval_sum_against_the_index_delta(backend: Any) -> None:
    # Wednesday: 60 day quarters and 36 night quarters of 10 Wh: 600 Wh day, 360 Wh night
    current = series("A", OFFTAKE, slots(WEDNESDAY), [10] * 96)
    current += series("B", OFFTAKE, slots(WEDNESDAY), [10] * 96)
    current += series("C", OFFTAKE, slots(WEDNESDAY), [10] * 96)
    index = registers(
        wednesday_index("A", 600, 360)  # equal
        + wednesday_index("B", 600 + 61, 360 - 37)  # tolerance 60 + 1 and 36 + 1: both at the edge
        + wednesday_index("C", 600 + 62, 360 - 38)  # one more: both reported
    )
    assert register_deltas(backend, current, index, [WEDNESDAY]) == [
        ("C", "offtake", WEDNESDAY, "day: interval sum 600 Wh, index delta 662 Wh (tolerance 61 Wh)"),
        ("C", "offtake", WEDNESDAY, "night: interval sum 360 Wh, index delta 322 Wh (tolerance 37 Wh)"),
    ]
    assert len(register_deltas(backend, current, index, [WEDNESDAY], tolerance=0)) == 4


def test_incomplete_series_or_missing_index_is_not_checked(backend: Any) -> None:
    current = series("A", OFFTAKE, slots(WEDNESDAY)[1:], [10] * 95)  # 00:00 (night) missing
    current += series("B", OFFTAKE, slots(WEDNESDAY), [10] * 96)
    index = registers(wednesday_index("A", 9_999, 9_999) + wednesday_index("B", 9_999, 9_999)[:3])
    # A: day complete and wrong, night incomplete; B: night has no closing index, day is wrong
    assert [detail.split(":")[0] for *_, detail in register_deltas(backend, current, index, [WEDNESDAY])] == [
        "day",
        "day",
    ]


def test_gas_day_register_at_six_local(backend: Any) -> None:
    gas, spring = Channel.GAS_VOLUME, date(2024, 3, 30)  # 23 hours
    current = series("G", gas, slots(spring, gas), [100] * 23)
    opening, closing = gas_day_bounds(spring)
    index = registers(
        [("G", gas, TariffPeriod.TOTAL, opening, 10_000), ("G", gas, TariffPeriod.TOTAL, closing, 12_400)]
    )
    assert register_deltas(backend, current, index, [spring]) == [
        ("G", "gas_volume", spring, "total: interval sum 2300 dm3, index delta 2400 dm3 (tolerance 24 dm3)")
    ]
