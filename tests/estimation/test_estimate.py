"""Estimation on DuckDB: each method on small hand-computed cases, DST days, gas hours, index scaling."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from kwartier.domain.channels import Channel, TariffPeriod
from kwartier.domain.timegrid import BRUSSELS, gas_day_bounds, local_midnight_utc
from tests.estimation.builders import expected, readings, registers, run_estimate, series, slots

E1 = "E1-INTERPOLATION"
E2 = "E2-LIKE-DAY"
E3 = "E3-PROFILE"
WEDNESDAY = date(2024, 1, 10)
OFFTAKE = Channel.OFFTAKE


def by_slot(rows: list[dict[str, Any]], day: date, channel: Channel = OFFTAKE) -> dict[int, tuple[int, str]]:
    """Estimates of ``day`` as {slot index: (value, method)}."""
    index = {start: slot for slot, start in enumerate(slots(day, channel))}
    return {index[row["start"]]: (row["value"], row["method"]) for row in rows}


def day_values(fill: int, gaps: Mapping[int, int | None], count: int = 96) -> list[int | None]:
    """``count`` values ``fill``, with the slots of ``gaps`` set to their value (None: missing)."""
    return [gaps.get(slot, fill) for slot in range(count)]


def test_short_gap_is_interpolated(duckdb_backend: Any) -> None:
    values = day_values(100, {10: None, 11: None, 12: 130})
    current = readings(series("A", OFFTAKE, slots(WEDNESDAY), values))
    rows = run_estimate(duckdb_backend, current, expected([("A", OFFTAKE, WEDNESDAY)]), [WEDNESDAY])
    assert by_slot(rows, WEDNESDAY) == {10: (110, E1), 11: (120, E1)}
    assert {(row["tariff"], row["minutes"]) for row in rows} == {("night", 15)}  # 02:30 local


def test_interpolation_rounds_half_away_from_zero(duckdb_backend: Any) -> None:
    gaps = {20: 100, 21: None, 22: 101, 40: 101, 41: None, 42: 100, 50: 100, 51: None, 52: None, 53: 101}
    current = readings(series("A", OFFTAKE, slots(WEDNESDAY), day_values(7, gaps)))
    rows = run_estimate(duckdb_backend, current, expected([("A", OFFTAKE, WEDNESDAY)]), [WEDNESDAY])
    # 100.5 → 101 both ways; 100 1/3 → 100 and 100 2/3 → 101
    assert by_slot(rows, WEDNESDAY) == {21: (101, E1), 41: (101, E1), 51: (100, E1), 52: (101, E1)}


def test_gaps_longer_than_two_hours_are_not_interpolated(duckdb_backend: Any) -> None:
    gaps: dict[int, int | None] = {9: 100, **dict.fromkeys(range(10, 18)), 18: 190}
    gaps |= {29: 100, **dict.fromkeys(range(30, 39)), 39: 190}
    current = readings(
        series("A", OFFTAKE, slots(WEDNESDAY), day_values(7, gaps))
        + series("B", OFFTAKE, slots(WEDNESDAY), [50] * 96)
    )
    rows = run_estimate(duckdb_backend, current, expected([("A", OFFTAKE, WEDNESDAY)]), [WEDNESDAY])
    eight = {slot: (100 + 10 * (slot - 9), E1) for slot in range(10, 18)}
    nine = dict.fromkeys(range(30, 39), (50, E3))  # no history: the only other meter's value
    assert by_slot(rows, WEDNESDAY) == eight | nine


def test_gap_across_midnight_uses_the_neighbouring_days(duckdb_backend: Any) -> None:
    before, after = WEDNESDAY - timedelta(days=1), WEDNESDAY + timedelta(days=1)
    values = (
        series("A", OFFTAKE, slots(before), day_values(100, {94: None, 95: None}))
        + series("A", OFFTAKE, slots(WEDNESDAY), day_values(150, {0: None, 1: None, 94: None, 95: None}))
        + series("A", OFFTAKE, slots(after), day_values(180, {}))
    )
    rows = run_estimate(duckdb_backend, readings(values), expected([("A", OFFTAKE, WEDNESDAY)]), [WEDNESDAY])
    # 100 at 23:15, four missing quarters, 150 at 00:30: 110, 120 | 130, 140; then 150, _, _, 180
    assert by_slot(rows, WEDNESDAY) == {0: (130, E1), 1: (140, E1), 94: (160, E1), 95: (170, E1)}


def like_day_history(day: date, weeks: dict[int, int], gaps: range) -> list[dict[str, Any]]:
    """A complete day of 500 with ``gaps`` missing, and full days ``weeks`` (weeks back → value)."""
    rows = series("A", OFFTAKE, slots(day), day_values(500, dict.fromkeys(gaps)))
    for back, value in weeks.items():
        rows += series("A", OFFTAKE, slots(day - timedelta(weeks=back)), [value] * 96)
    rows += series("A", OFFTAKE, slots(day - timedelta(days=1)), [5000] * 96)  # another weekday
    return rows


def test_like_day_mean_of_the_previous_weeks(duckdb_backend: Any) -> None:
    day = date(2024, 1, 31)
    history = like_day_history(day, {1: 100, 2: 200, 4: 301, 5: 1000}, range(40, 60))
    rows = run_estimate(duckdb_backend, readings(history), expected([("A", OFFTAKE, day)]), [day])
    # 28 days back: weeks 1, 2 and 4 have values; (100 + 200 + 301) / 3 = 200.33
    assert by_slot(rows, day) == dict.fromkeys(range(40, 60), (200, E2))


def test_like_day_takes_the_four_most_recent_weeks_with_a_value(duckdb_backend: Any) -> None:
    day = date(2024, 1, 31)
    wanted = expected([("A", OFFTAKE, day)])
    three_of_five = like_day_history(day, {1: 100, 2: 200, 4: 301, 5: 1000}, range(40, 60))
    rows = run_estimate(duckdb_backend, readings(three_of_five), wanted, [day], history_days=35)
    assert by_slot(rows, day) == dict.fromkeys(range(40, 60), (400, E2))  # 1601 / 4 = 400.25
    five = like_day_history(day, {1: 100, 2: 200, 3: 400, 4: 301, 5: 1000}, range(40, 60))
    rows = run_estimate(duckdb_backend, readings(five), wanted, [day], history_days=35)
    assert by_slot(rows, day) == dict.fromkeys(range(40, 60), (250, E2))  # 1001 / 4 = 250.25


def wall_clock_slot(start: datetime) -> int:
    """Quarter of the local day (0-95) at which ``start`` begins."""
    local = start.astimezone(BRUSSELS)
    return local.hour * 4 + local.minute // 15


def test_like_day_on_dst_days_matches_the_wall_clock(duckdb_backend: Any) -> None:
    for day, quarters in ((date(2024, 10, 27), 100), (date(2024, 3, 31), 92)):
        history = []
        for back in range(1, 5):  # like day value: 10 × wall-clock quarter + weeks back
            like = day - timedelta(weeks=back)
            history += series(
                "A", OFFTAKE, slots(like), [10 * wall_clock_slot(s) + back for s in slots(like)]
            )
        rows = run_estimate(duckdb_backend, readings(history), expected([("A", OFFTAKE, day)]), [day])
        assert len(rows) == quarters
        # mean of + 1, + 2, + 3, + 4 is + 2.5, rounded away from zero to + 3
        assert [row["value"] for row in rows] == [10 * wall_clock_slot(s) + 3 for s in slots(day)]
        assert {row["method"] for row in rows} == {E2}


def test_like_day_counts_both_passes_of_the_repeated_autumn_hour(duckdb_backend: Any) -> None:
    day = date(2024, 11, 3)  # a week after the autumn DST day
    autumn = date(2024, 10, 27)
    repeated = {9: 1000, 13: 2000}  # 02:15 summer time and 02:15 winter time
    history = series("A", OFFTAKE, slots(autumn), day_values(100, repeated, 100))
    for back in (2, 3, 4):
        history += series("A", OFFTAKE, slots(day - timedelta(weeks=back)), [100] * 96)
    history += series("A", OFFTAKE, slots(day), day_values(7, dict.fromkeys(range(0, 20))))
    rows = run_estimate(duckdb_backend, readings(history), expected([("A", OFFTAKE, day)]), [day])
    estimates = by_slot(rows, day)
    assert estimates[9] == ((1000 + 2000 + 3 * 100) // 5, E2)
    assert estimates[8] == (100, E2)


def test_gas_hours(duckdb_backend: Any) -> None:
    gas = Channel.GAS_VOLUME
    hours = slots(WEDNESDAY, gas)
    values = day_values(7, {4: 10, 5: None, 6: None, 7: 40, 12: None, 13: None, 14: None}, 24)
    history = series("G", gas, hours, values)
    for back in (1, 2):
        history += series("G", gas, slots(WEDNESDAY - timedelta(weeks=back), gas), [9 * back] * 24)
    rows = run_estimate(duckdb_backend, readings(history), expected([("G", gas, WEDNESDAY)]), [WEDNESDAY])
    assert by_slot(rows, WEDNESDAY, gas) == {
        5: (20, E1),
        6: (30, E1),
        12: (14, E2),
        13: (14, E2),
        14: (14, E2),
    }
    assert {(row["tariff"], row["minutes"]) for row in rows} == {("total", 60)}
    assert rows[0]["start"] == gas_day_bounds(WEDNESDAY)[0] + timedelta(hours=5)  # 11:00 local


def test_non_communicating_meter_gets_the_median_of_the_others(duckdb_backend: Any) -> None:
    autumn_gas_day = date(2024, 10, 26)  # 25 hours
    gas = Channel.GAS_ENERGY
    hours = slots(autumn_gas_day, gas)
    others = series("A", gas, hours, [100] * 25) + series("C", gas, hours, [300] * 25)
    others += series("D", gas, hours[:10], [200] * 10)
    wanted = expected([("B", gas, autumn_gas_day), ("A", gas, autumn_gas_day)])
    rows = run_estimate(duckdb_backend, readings(others), wanted, [autumn_gas_day])
    # 100, 200, 300 → 200 in the first ten hours; 100, 300 → 200 after; no estimate for complete A
    assert by_slot(rows, autumn_gas_day, gas) == dict.fromkeys(range(25), (200, E3))
    assert {row["ap"] for row in rows} == {"B"}
    odd = series("A", gas, hours, [100] * 25) + series("C", gas, hours, [301] * 25)
    rows = run_estimate(duckdb_backend, readings(odd), wanted, [autumn_gas_day])
    assert by_slot(rows, autumn_gas_day, gas) == dict.fromkeys(range(25), (201, E3))  # 200.5


def test_injection_without_history_is_zero(duckdb_backend: Any) -> None:
    injection = Channel.INJECTION
    current = series("A", injection, slots(WEDNESDAY), [500] * 96)
    current += series("B", injection, slots(WEDNESDAY - timedelta(days=3)), [40] * 96)  # B injected before
    wanted = expected([("B", injection, WEDNESDAY), ("N", injection, WEDNESDAY)])
    rows = run_estimate(duckdb_backend, readings(current), wanted, [WEDNESDAY])
    assert {(row["ap"], row["value"], row["method"]) for row in rows} == {("B", 500, E3), ("N", 0, E3)}
    assert len(rows) == 2 * 96


def test_interpolation_before_the_zero_of_a_silent_injector_and_the_zero_before_the_median(
    duckdb_backend: Any,
) -> None:
    injection = Channel.INJECTION
    # S injects on the day itself but not in the 28 days before: "silent"; P injects 500 everywhere
    values = day_values(40, {49: 30, 50: None, 51: None, 52: 60, **dict.fromkeys(range(60, 72))})
    current = series("S", injection, slots(WEDNESDAY), values)
    current += series("P", injection, slots(WEDNESDAY), [500] * 96)
    rows = run_estimate(
        duckdb_backend, readings(current), expected([("S", injection, WEDNESDAY)]), [WEDNESDAY]
    )
    # 30, _, _, 60 → 40, 50 by E1; the twelve-quarter gap is too long for E1: 0, not the median 500
    assert by_slot(rows, WEDNESDAY) == {50: (40, E1), 51: (50, E1)} | dict.fromkeys(range(60, 72), (0, E3))


def test_a_gap_no_method_can_fill_gets_no_estimate(duckdb_backend: Any) -> None:
    # the only access point, no history, nothing after 23:15: slots 94 and 95 have no neighbour after
    # them, no like day and no other meter's value
    values = day_values(100, {10: None, 11: None, 12: 160, 94: None, 95: None})
    rows = run_estimate(
        duckdb_backend,
        readings(series("A", OFFTAKE, slots(WEDNESDAY), values)),
        expected([("A", OFFTAKE, WEDNESDAY)]),
        [WEDNESDAY],
    )
    assert by_slot(rows, WEDNESDAY) == {10: (120, E1), 11: (140, E1)}


def test_scaling_makes_the_day_add_up_to_the_index_delta(duckdb_backend: Any) -> None:
    # Wednesday: night quarters 0-27 and 88-95, day quarters 28-87
    values = day_values(100, {**dict.fromkeys(range(40, 50)), 4: 0, 5: None, 6: None, 7: None, 8: 4})
    current = series("A", OFFTAKE, slots(WEDNESDAY), values)
    for back in range(1, 5):
        current += series("A", OFFTAKE, slots(WEDNESDAY - timedelta(weeks=back)), [100] * 96)
    midnight, next_midnight = local_midnight_utc(WEDNESDAY), local_midnight_utc(WEDNESDAY + timedelta(days=1))
    measured_day, measured_night = 50 * 100, 31 * 100 + 0 + 4
    index = registers(
        [
            ("A", OFFTAKE, TariffPeriod.DAY, midnight, 70_000),
            ("A", OFFTAKE, TariffPeriod.DAY, next_midnight, 70_000 + measured_day + 1003),
            ("A", OFFTAKE, TariffPeriod.NIGHT, midnight, 10_000),
            ("A", OFFTAKE, TariffPeriod.NIGHT, next_midnight, 10_000 + measured_night + 10),
        ]
    )
    wanted = expected([("A", OFFTAKE, WEDNESDAY)])
    rows = run_estimate(duckdb_backend, readings(current), wanted, [WEDNESDAY], index)
    # day: ten like-day estimates of 100 share 1003: 100.3 each, the first three by start get 101
    # night: interpolated 1, 2, 3 share 10: 1.67, 3.33, 5 → 1, 3, 5 and the largest remainder +1
    expected_rows = {slot: (101 if slot < 43 else 100, E2 + "+INDEX") for slot in range(40, 50)}
    expected_rows |= {5: (2, E1 + "+INDEX"), 6: (3, E1 + "+INDEX"), 7: (5, E1 + "+INDEX")}
    assert by_slot(rows, WEDNESDAY) == expected_rows
    for tariff, opening, closing in (
        ("day", 70_000, 70_000 + measured_day + 1003),
        ("night", 10_000, 10_000 + measured_night + 10),
    ):
        measured = sum(
            row["value"]
            for row in current
            if row["tariff"] == tariff and row["start"] >= midnight and row["start"] < next_midnight
        )
        estimated = sum(row["value"] for row in rows if row["tariff"] == tariff)
        assert measured + estimated == closing - opening


def test_no_scaling_when_the_index_is_below_the_measured_sum(duckdb_backend: Any) -> None:
    values = day_values(100, {5: None, 6: None, 7: 130})
    current = readings(series("A", OFFTAKE, slots(WEDNESDAY), values))
    midnight, next_midnight = local_midnight_utc(WEDNESDAY), local_midnight_utc(WEDNESDAY + timedelta(days=1))
    index = registers(
        [
            ("A", OFFTAKE, TariffPeriod.NIGHT, midnight, 10_000),
            ("A", OFFTAKE, TariffPeriod.NIGHT, next_midnight, 10_000 + 100),
        ]
    )
    rows = run_estimate(duckdb_backend, current, expected([("A", OFFTAKE, WEDNESDAY)]), [WEDNESDAY], index)
    assert by_slot(rows, WEDNESDAY) == {5: (110, E1), 6: (120, E1)}


def test_zero_estimates_get_the_remainder_evenly(duckdb_backend: Any) -> None:
    injection = Channel.INJECTION
    saturday = date(2024, 1, 13)  # night all day
    current = readings(series("A", injection, slots(saturday), day_values(0, dict.fromkeys(range(60, 64)))))
    midnight, next_midnight = local_midnight_utc(saturday), local_midnight_utc(saturday + timedelta(days=1))
    index = registers(
        [
            ("A", injection, TariffPeriod.NIGHT, midnight, 3_000),
            ("A", injection, TariffPeriod.NIGHT, next_midnight, 3_010),
        ]
    )
    rows = run_estimate(duckdb_backend, current, expected([("A", injection, saturday)]), [saturday], index)
    scaled = E1 + "+INDEX"
    assert by_slot(rows, saturday) == {60: (3, scaled), 61: (3, scaled), 62: (2, scaled), 63: (2, scaled)}


def test_gas_day_scaling_uses_the_index_at_six(duckdb_backend: Any) -> None:
    gas = Channel.GAS_VOLUME
    hours = slots(WEDNESDAY, gas)
    current = readings(series("G", gas, hours, day_values(10, {3: None, 4: None}, 24)))
    opening, closing = gas_day_bounds(WEDNESDAY)
    index = registers(
        [("G", gas, TariffPeriod.TOTAL, opening, 500), ("G", gas, TariffPeriod.TOTAL, closing, 745)]
    )
    rows = run_estimate(duckdb_backend, current, expected([("G", gas, WEDNESDAY)]), [WEDNESDAY], index)
    # 22 × 10 measured, 25 left for two estimates of 10: 12.5 each → 13 (earlier start) and 12
    assert by_slot(rows, WEDNESDAY, gas) == {3: (13, E1 + "+INDEX"), 4: (12, E1 + "+INDEX")}


def test_never_estimates_a_slot_that_has_a_value(duckdb_backend: Any) -> None:
    generator = random.Random(20240110)
    days = [WEDNESDAY, WEDNESDAY + timedelta(days=1)]
    current, present = [], set()
    for ap in ("A", "B", "C"):
        for day in days:
            for start in slots(day):
                if ap == "C" or generator.random() < 0.7:
                    current += series(ap, OFFTAKE, [start], [generator.randrange(0, 400)])
                    present.add((ap, start))
    wanted = expected([(ap, OFFTAKE, day) for ap in ("A", "B") for day in days])
    rows = run_estimate(duckdb_backend, readings(current), wanted, days)
    estimated = {(row["ap"], row["start"]) for row in rows}
    all_slots = {(ap, start) for ap in ("A", "B") for day in days for start in slots(day)}
    assert estimated == all_slots - present
    assert len(rows) == len(estimated)
