"""Small hand-built inputs for the quality indicators: grids, versions, registry context."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from kwartier.domain.channels import Channel, Energy
from kwartier.domain.timegrid import gas_hours, quarter_hours
from kwartier.engine import load
from kwartier.quality.report import QualityReport, compute_quality
from kwartier.schema import ACCESS_POINT_CONTEXT, STORED_READINGS, UTC_MICROS

GRID_SCHEMA = pa.schema(
    [pa.field("day", pa.date32()), pa.field("start", UTC_MICROS), pa.field("minutes", pa.int16())]
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """An aware UTC datetime."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def slots_of(energy: Energy, day: date) -> list[datetime]:
    """The expected slot starts of ``day``: quarter hours of the market day, or hours of the gas day."""
    return quarter_hours(day) if energy is Energy.ELECTRICITY else gas_hours(day)


def grid(energy: Energy, days: Iterable[date]) -> pa.Table:
    """The expected-slot grid (day, start, minutes) of ``days``."""
    minutes = 15 if energy is Energy.ELECTRICITY else 60
    rows = [{"day": d, "start": s, "minutes": minutes} for d in days for s in slots_of(energy, d)]
    return pa.Table.from_pylist(rows, schema=GRID_SCHEMA)


def day_versions(
    ap: str,
    day: date,
    status: str,
    recorded_at: datetime,
    *,
    energy: Energy = Energy.ELECTRICITY,
    channel: Channel | None = None,
    only: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """Versions for the slots of ``day`` (all, or the slot indexes in ``only``), one per slot."""
    starts = slots_of(energy, day)
    chosen = starts if only is None else [starts[i] for i in only]
    main = Channel.OFFTAKE if energy is Energy.ELECTRICITY else Channel.GAS_VOLUME
    minutes = 15 if energy is Energy.ELECTRICITY else 60
    return [
        version(ap, start, status, recorded_at, channel=channel or main, minutes=minutes) for start in chosen
    ]


def version(
    ap: str,
    start: datetime,
    status: str,
    recorded_at: datetime,
    *,
    channel: Channel = Channel.OFFTAKE,
    minutes: int = 15,
) -> dict[str, Any]:
    """One stored version (value 100 Wh or dm³)."""
    return {
        "ap": ap,
        "channel": channel.value,
        "tariff": "total",
        "start": start,
        "minutes": minutes,
        "value": 100,
        "status": status,
        "rule": "spike" if status == "rejected" else None,
        "method": "profile" if status == "estimated" else None,
        "batch": f"b-{recorded_at:%Y%m%d%H%M%S}",
        "recorded_at": recorded_at,
    }


def readings(rows: Iterable[dict[str, Any]]) -> pa.Table:
    """Versions as a ``STORED_READINGS`` table."""
    return pa.Table.from_pylist(list(rows), schema=STORED_READINGS)


def context(
    rows: Iterable[tuple[str, Energy, str]], valid_from: date = date(2024, 1, 1), valid_to: date | None = None
) -> pa.Table:
    """``ACCESS_POINT_CONTEXT`` rows (ap, energy, meter kind), all valid from ``valid_from``."""
    return pa.Table.from_pylist(
        [
            {
                "ap": ap,
                "energy": energy.value,
                "meter_kind": kind,
                "regime": "SMR3",
                "capacity": 9.2 if energy is Energy.ELECTRICITY else 6.0,
                "has_production": False,
                "valid_from": valid_from,
                "valid_to": valid_to,
            }
            for ap, energy, kind in rows
        ],
        schema=ACCESS_POINT_CONTEXT,
    )


def run(
    backend: Any,
    versions: pa.Table,
    facts: pa.Table,
    electricity_days: Iterable[date],
    gas_days: Iterable[date],
    as_of: datetime,
) -> QualityReport:
    """Load the inputs into ``backend`` and compute the report."""
    return compute_quality(
        load(backend, versions),
        load(backend, facts),
        load(backend, grid(Energy.ELECTRICITY, electricity_days)),
        load(backend, grid(Energy.GAS, gas_days)),
        as_of,
    )
