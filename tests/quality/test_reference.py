"""The engine's counts against the plain-Python reference on random inputs (both computation paths)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import pyarrow as pa
import pytest

from kwartier.domain.channels import Channel, Energy
from kwartier.quality.report import QualityReport

from .builders import context, readings, run, slots_of, utc, version
from .reference import reference_counts

DAYS = [date(2024, 3, 30), date(2024, 3, 31), date(2024, 4, 1)]  # the spring DST day has 92 quarters
AS_OF = utc(2024, 4, 4, 12)


def random_case(seed: int) -> tuple[pa.Table, pa.Table]:
    """Random versions (several per slot, all statuses, late and future ones) and registry facts."""
    rng = random.Random(seed)
    meters: list[tuple[str, Energy, str]] = []
    rows: list[dict[str, Any]] = []
    for number in range(12):
        energy = Energy.ELECTRICITY if number % 3 else Energy.GAS
        ap = f"ap{number}"
        meters.append((ap, energy, rng.choice(["digital", "digital", "amr", "classic"])))
        main = Channel.OFFTAKE if energy is Energy.ELECTRICITY else Channel.GAS_VOLUME
        minutes = 15 if energy is Energy.ELECTRICITY else 60
        for day in DAYS:
            mode = (
                "silent"
                if number in (4, 6)
                else rng.choice(["random", "measured", "estimated", "mixed", "silent"])
            )
            for start in slots_of(energy, day):
                statuses = _slot_statuses(rng, mode)
                for status in statuses:
                    delay = rng.choice(
                        [1, 20, 30, 50] if len(statuses) == 1 else [1, 20, 30, 50, 70, 90, 200]
                    )
                    rows.append(
                        version(
                            ap, start, status, start + timedelta(hours=delay), channel=main, minutes=minutes
                        )
                    )
    facts = pa.concat_tables(
        [context(meters[:10]), context(meters[10:], valid_from=DAYS[1], valid_to=DAYS[2])]
    )
    return readings(rows), facts


def _slot_statuses(rng: random.Random, mode: str) -> list[str]:
    """The statuses of a slot's versions, in a day's mode (a whole day measured, estimated, ...)."""
    if mode == "silent":
        return rng.choice([[], ["rejected"]])
    if mode == "random":
        return [rng.choice(["measured", "estimated", "rejected"]) for _ in range(rng.choice([0, 1, 1, 2, 3]))]
    first = rng.choice(["measured", "estimated"]) if mode == "mixed" else mode
    extra = [rng.choice(["measured", "estimated", "rejected"])] if rng.random() < 0.01 else []
    return [first, *extra]


def engine_counts(report: QualityReport, energy: Energy) -> dict[str, Any]:
    part = report.electricity if energy is Energy.ELECTRICITY else report.gas
    nc, tl, av = part.non_communicating, part.timeliness, part.availability
    return {
        "non_communicating": (nc.digital_meters, nc.non_communicating),
        "timeliness": (tl.expected_slots, tl.by_d1, tl.by_d2, tl.by_d3, tl.measured),
        "days": (
            av.access_points,
            av.access_point_days,
            {
                "fully_estimated": av.fully_estimated,
                "partly_estimated": av.partly_estimated,
                "fully_missing": av.fully_missing,
                "partly_missing": av.partly_missing,
            },
        ),
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_engine_matches_reference(duckdb_backend: Any, seed: int) -> None:
    versions, facts = random_case(seed)
    report = run(duckdb_backend, versions, facts, DAYS, DAYS, AS_OF)
    for energy in Energy:
        expected = reference_counts(versions, facts, energy, DAYS, AS_OF)
        assert engine_counts(report, energy) == expected
