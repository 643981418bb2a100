"""The three quality indicators on small hand-built cases, counted by hand."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pyarrow as pa
import pytest
from rich.console import Console

from kwartier.domain.channels import Channel, Energy
from kwartier.quality.non_communicating import NonCommunicating
from kwartier.quality.report import render
from kwartier.quality.timeliness import delivery_deadline

from .builders import context, day_versions, readings, run, utc, version

D10, D11 = date(2024, 1, 10), date(2024, 1, 11)
DAYS = [D10, D11]
ELEC, GAS = Energy.ELECTRICITY, Energy.GAS
LATE = utc(2025, 1, 1)


def test_deadlines_are_local_midnight_and_gas_day_end() -> None:
    assert delivery_deadline(D10, 1, ELEC) == utc(2024, 1, 11, 23)  # 12 Jan 00:00 CET
    assert delivery_deadline(D10, 3, ELEC) == utc(2024, 1, 13, 23)
    assert delivery_deadline(date(2024, 7, 10), 1, ELEC) == utc(2024, 7, 11, 22)  # CEST
    assert delivery_deadline(date(2024, 10, 26), 1, ELEC) == utc(2024, 10, 27, 23)  # across the DST change
    assert delivery_deadline(D10, 1, GAS) == utc(2024, 1, 12, 5)  # 12 Jan 06:00 CET ends gas day D+1


@pytest.mark.parametrize(
    ("energy", "meters", "silent", "passed"),
    [
        (ELEC, 100, 3, True),
        (ELEC, 100, 4, False),
        (GAS, 100, 6, True),
        (GAS, 100, 7, False),
        (GAS, 0, 0, True),
    ],
)
def test_threshold(energy: Energy, meters: int, silent: int, passed: bool) -> None:
    limit = {ELEC: 3, GAS: 6}[energy]
    assert NonCommunicating(energy, meters, silent, limit).passed is passed


def test_non_communicating(duckdb_backend: Any) -> None:
    rows = [
        *day_versions("a", D10, "measured", utc(2024, 1, 11)),  # communicates
        *day_versions("b", D10, "rejected", utc(2024, 1, 11)),  # rejected still reached the DSO
        *day_versions("c", D10, "estimated", utc(2024, 1, 11)),  # only estimates: silent
        *day_versions("e", D11, "measured", utc(2024, 2, 2)),  # recorded after as_of: silent
        version("k", utc(2024, 1, 10, 12), "measured", utc(2024, 1, 11), channel=Channel.INJECTION),
        *day_versions("f", D10, "measured", utc(2024, 1, 11)),  # AMR: not counted
        *day_versions("h", D10, "measured", utc(2024, 1, 11), energy=GAS),
    ]
    meters = [(ap, ELEC, "digital") for ap in "abcdek"] + [("f", ELEC, "amr"), ("g", ELEC, "classic")]
    facts = pa.concat_tables(
        [
            context([*meters, ("h", GAS, "digital"), ("i", GAS, "digital")]),
            context([("j", ELEC, "digital")], valid_from=date(2024, 1, 12)),  # after the period
        ]
    )
    report = run(duckdb_backend, readings(rows), facts, DAYS, DAYS, utc(2024, 2, 1))
    electricity, gas = report.electricity.non_communicating, report.gas.non_communicating
    assert (electricity.digital_meters, electricity.non_communicating) == (6, 3)  # c, d, e of a b c d e k
    assert electricity.share == 0.5
    assert not electricity.passed
    assert (gas.digital_meters, gas.non_communicating, gas.threshold_percent) == (2, 1, 6)


def _timeliness_case() -> pa.Table:
    return readings(
        [
            *day_versions("a", D10, "measured", utc(2024, 1, 11, 2)),  # D+1
            *day_versions("a", D11, "measured", utc(2024, 1, 12, 22, 59)),  # D+1 (ends 12 Jan 23:00 UTC)
            *day_versions("b", D10, "measured", utc(2024, 1, 11, 23)),  # at the end of D+1: D+2
            *day_versions("b", D11, "estimated", utc(2024, 1, 12, 10)),
            *day_versions("b", D11, "measured", utc(2024, 1, 15, 10)),  # after D+3 (ends 14 Jan 23:00 UTC)
            *day_versions("c", D10, "measured", utc(2024, 1, 13, 22), only=range(48)),  # D+3, half the day
            *day_versions("c", D11, "rejected", utc(2024, 1, 12)),  # rejected: never measured
        ]
    )


def test_timeliness_shares(duckdb_backend: Any) -> None:
    facts = context([(ap, ELEC, "digital") for ap in "abc"])
    report = run(duckdb_backend, _timeliness_case(), facts, DAYS, DAYS, utc(2024, 1, 20))
    timely = report.electricity.timeliness
    assert timely.expected_slots == 3 * 2 * 96
    assert (timely.by_d1, timely.by_d2, timely.by_d3, timely.later, timely.not_yet) == (
        192,
        288,
        336,
        96,
        144,
    )
    shares = report.as_dict()["electricity"]["timeliness"]
    assert shares["share_by_d1"] == 0.3333  # 192 / 576
    assert (shares["share_by_d2"], shares["share_by_d3"], shares["share_all"]) == (0.5, 0.5833, 0.75)


def test_as_of_ignores_later_versions(duckdb_backend: Any) -> None:
    facts = context([(ap, ELEC, "digital") for ap in "abc"])
    report = run(duckdb_backend, _timeliness_case(), facts, DAYS, DAYS, utc(2024, 1, 12, 12))
    timely = report.electricity.timeliness
    assert (timely.by_d1, timely.by_d2, timely.by_d3, timely.measured) == (96, 192, 192, 192)
    days = report.electricity.availability
    # b on 11 Jan is still estimated, a on 11 Jan and c on 10 Jan not yet delivered, c on 11 Jan rejected
    assert (days.fully_estimated, days.fully_missing, days.partly_missing) == (1, 3, 0)


def test_days_per_access_point(duckdb_backend: Any) -> None:
    rows = [
        *day_versions("p", D10, "measured", utc(2024, 1, 11)),
        *day_versions("p", D11, "estimated", utc(2024, 1, 12)),  # fully estimated
        *day_versions("q", D10, "estimated", utc(2024, 1, 11), only=range(50)),
        *day_versions("q", D10, "measured", utc(2024, 1, 11), only=range(50, 96)),  # partly estimated
        *day_versions("q", D11, "measured", utc(2024, 1, 12), only=range(95)),  # partly missing
        *day_versions("r", D11, "rejected", utc(2024, 1, 12)),  # r: both days fully missing
        *day_versions("s", D10, "estimated", utc(2024, 1, 11)),
        *day_versions("s", D10, "measured", utc(2024, 1, 14)),  # measured later: complete
        *day_versions("s", D11, "measured", utc(2024, 1, 12)),
        *day_versions("s", D11, "estimated", utc(2024, 1, 13)),  # estimate replaced the value: estimated
        *day_versions("t", D10, "estimated", utc(2024, 1, 11)),  # classic meter: not counted
    ]
    facts = context(
        [("p", ELEC, "digital"), ("q", ELEC, "digital"), ("r", ELEC, "digital"), ("s", ELEC, "amr")]
    )
    facts = pa.concat_tables([facts, context([("t", ELEC, "classic")])])
    report = run(duckdb_backend, readings(rows), facts, DAYS, DAYS, LATE)
    days = report.electricity.availability
    assert (days.access_points, days.access_point_days) == (4, 8)
    assert (days.fully_estimated, days.partly_estimated, days.fully_missing, days.partly_missing) == (
        2,
        1,
        2,
        1,
    )
    kinds = report.as_dict()["electricity"]["days_per_access_point"]
    assert kinds["fully_estimated"] == {"days": 2, "per_access_point": 0.5}
    assert kinds["partly_missing"] == {"days": 1, "per_access_point": 0.25}


def test_tie_between_measured_and_estimated_goes_to_measured(duckdb_backend: Any) -> None:
    moment = utc(2024, 1, 11)
    rows = day_versions("p", D10, "estimated", moment) + day_versions("p", D10, "measured", moment)
    report = run(duckdb_backend, readings(rows), context([("p", ELEC, "digital")]), [D10], [D10], LATE)
    days = report.electricity.availability
    assert (days.access_point_days, days.fully_estimated, days.partly_estimated, days.fully_missing) == (
        1,
        0,
        0,
        0,
    )


def test_validity_limits_the_days(duckdb_backend: Any) -> None:
    facts = context([("p", ELEC, "digital")], valid_from=D11)
    report = run(duckdb_backend, readings([]), facts, DAYS, DAYS, LATE)
    assert report.electricity.availability.access_point_days == 1
    assert report.electricity.timeliness.expected_slots == 96
    assert report.electricity.non_communicating.non_communicating == 1


def test_autumn_dst_day_has_100_quarter_hours(duckdb_backend: Any) -> None:
    dst = date(2024, 10, 27)
    rows = [
        *day_versions("p", dst, "estimated", utc(2024, 10, 28)),
        *day_versions("q", dst, "measured", utc(2024, 10, 28), only=range(96)),
        *day_versions("r", dst, "measured", utc(2024, 10, 28, 22, 59)),  # D+1 ends 28 Oct 23:00 UTC (CET)
    ]
    facts = context([(ap, ELEC, "digital") for ap in "pqr"])
    report = run(duckdb_backend, readings(rows), facts, [dst], [dst], LATE)
    days, timely = report.electricity.availability, report.electricity.timeliness
    assert (days.fully_estimated, days.partly_missing) == (1, 1)  # 96 of 100 is partly missing
    assert timely.expected_slots == 300
    assert (timely.by_d1, timely.measured) == (196, 196)


def test_gas_day_ends_at_six_local(duckdb_backend: Any) -> None:
    rows = [
        *day_versions("g1", D10, "measured", utc(2024, 1, 12, 4, 59, 59), energy=GAS),  # D+1
        *day_versions("g2", D10, "measured", utc(2024, 1, 12, 5), energy=GAS),  # 06:00 local: D+2
        *day_versions("g3", D10, "measured", utc(2024, 1, 12, 5), energy=GAS, only=range(23)),
    ]
    facts = context([(ap, GAS, "digital") for ap in ("g1", "g2", "g3")])
    report = run(duckdb_backend, readings(rows), facts, [D10], [D10], LATE)
    timely, days = report.gas.timeliness, report.gas.availability
    assert (timely.expected_slots, timely.by_d1, timely.by_d2) == (72, 24, 71)
    assert (days.partly_missing, days.fully_missing) == (1, 0)
    assert report.electricity.timeliness.expected_slots == 0


def test_report_dict_is_json_and_renders(duckdb_backend: Any) -> None:
    facts = context([("a", ELEC, "digital"), ("b", ELEC, "digital"), ("h", GAS, "digital")])
    report = run(duckdb_backend, _timeliness_case(), facts, DAYS, DAYS, utc(2024, 1, 20))
    document = json.loads(json.dumps(report.as_dict()))
    assert document["as_of"] == "2024-01-20T00:00:00+00:00"
    assert document["electricity"]["period"] == {"first_day": "2024-01-10", "last_day": "2024-01-11"}
    assert document["gas"]["non_communicating"] == {
        "digital_meters": 1,
        "non_communicating": 1,
        "share": 1.0,
        "threshold": 0.06,
        "passed": False,
    }
    tables = render(report)
    assert [table.row_count for table in tables] == [2, 2, 2]
    console = Console(record=True, width=200)
    for table in tables:
        console.print(table)
    text = console.export_text()
    assert "FAIL" in text
    assert "50.00 %" in text  # electricity D+1: a delivered its 192 of the 384 expected slots on time


def test_naive_as_of_and_empty_grid_are_refused(duckdb_backend: Any) -> None:
    facts = context([("a", ELEC, "digital")])
    with pytest.raises(ValueError, match="aware"):
        run(duckdb_backend, readings([]), facts, DAYS, DAYS, utc(2024, 1, 20).replace(tzinfo=None))
    with pytest.raises(ValueError, match="no day"):
        run(duckdb_backend, readings([]), facts, DAYS, [], utc(2024, 1, 20))
