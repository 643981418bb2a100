"""Small input tables for the estimation and day-rule tests, in the store's column names."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from kwartier.domain.channels import Channel, ReadingStatus, TariffPeriod, tariff_period
from kwartier.domain.timegrid import HOUR_MINUTES, QUARTER_MINUTES, gas_hours, quarter_hours
from kwartier.engine import load, to_arrow
from kwartier.estimation.estimate import estimate, estimation_days
from kwartier.schema import (
    AP,
    CHANNEL,
    DAY,
    INDEX_VALUE,
    MINUTES,
    READ_AT,
    STORED_READINGS,
    TARIFF,
    UTC_MICROS,
)
from kwartier.validation.grid import slot_grid

RECORDED = datetime(2030, 1, 1, tzinfo=UTC)
GAS = (Channel.GAS_VOLUME, Channel.GAS_ENERGY)

EXPECTED = pa.schema(
    [
        pa.field(AP, pa.string()),
        pa.field(CHANNEL, pa.string()),
        pa.field(MINUTES, pa.int16()),
        pa.field(DAY, pa.date32()),
    ]
)
REGISTERS = pa.schema(
    [
        pa.field(AP, pa.string()),
        pa.field(CHANNEL, pa.string()),
        pa.field(TARIFF, pa.string()),
        pa.field(READ_AT, UTC_MICROS),
        pa.field(INDEX_VALUE, pa.int64()),
    ]
)
ESTIMATE_ORDER = ["ap", "channel", "start", "tariff"]


def slots(day: date, channel: Channel = Channel.OFFTAKE) -> list[datetime]:
    """The interval starts of ``day`` for ``channel``: quarter hours, or gas hours of the gas day."""
    return gas_hours(day) if channel in GAS else quarter_hours(day)


def series(
    ap: str, channel: Channel, starts: Sequence[datetime], values: Sequence[int | None]
) -> list[dict[str, Any]]:
    """Reading rows for ``starts`` with ``values`` (None: no reading), tariff from the calendar."""
    gas = channel in GAS
    return [
        {
            "ap": ap,
            "channel": channel.value,
            "tariff": TariffPeriod.TOTAL.value if gas else tariff_period(start).value,
            "start": start,
            "minutes": HOUR_MINUTES if gas else QUARTER_MINUTES,
            "value": value,
            "status": ReadingStatus.MEASURED.value,
            "rule": None,
            "method": None,
            "batch": "b1",
            "recorded_at": RECORDED,
        }
        for start, value in zip(starts, values, strict=True)
        if value is not None
    ]


def readings(rows: Iterable[dict[str, Any]]) -> pa.Table:
    """A table of current readings in the ``STORED_READINGS`` schema."""
    return pa.Table.from_pylist(list(rows), schema=STORED_READINGS)


def expected(rows: Iterable[tuple[str, Channel, date]]) -> pa.Table:
    """Expected days (ap, channel, day); the resolution follows the channel."""
    return pa.Table.from_pylist(
        [
            {"ap": ap, "channel": c.value, "minutes": HOUR_MINUTES if c in GAS else QUARTER_MINUTES, "day": d}
            for ap, c, d in rows
        ],
        schema=EXPECTED,
    )


def registers(rows: Iterable[tuple[str, Channel, TariffPeriod, datetime, int]]) -> pa.Table:
    """Register readings (ap, channel, tariff, read_at, index_value)."""
    return pa.Table.from_pylist(
        [
            {"ap": ap, "channel": c.value, "tariff": t.value, "read_at": at, "index_value": index}
            for ap, c, t, at, index in rows
        ],
        schema=REGISTERS,
    )


def grid(days: Sequence[date], history_days: int = 28) -> pa.Table:
    """The slot grid of both resolutions over ``days`` and their history."""
    covered = estimation_days(days, history_days)
    return pa.concat_tables([slot_grid(covered, QUARTER_MINUTES), slot_grid(covered, HOUR_MINUTES)])


def run_estimate(
    backend: Any,
    current: pa.Table,
    wanted: pa.Table,
    days: Sequence[date],
    index: pa.Table | None = None,
    history_days: int = 28,
) -> list[dict[str, Any]]:
    """Run :func:`estimate` on ``backend`` and return its rows sorted by ap, channel, start."""
    result = estimate(
        load(backend, current),
        load(backend, wanted),
        load(backend, grid(days, history_days)),
        None if index is None else load(backend, index),
        history_days=history_days,
    )
    rows: list[dict[str, Any]] = to_arrow(result, sort_by=ESTIMATE_ORDER).to_pylist()
    return rows
