"""Who and what the quality indicators count: the days of the period, the access points, the slots.

Rules shared by the indicators (seed 000 §4.1.2 and §6.2.4):
- the period is the set of days in the expected-slot grid of an energy (``day``, ``start``, ``minutes``);
  for electricity a day is a market day (00:00-24:00 Europe/Brussels), for gas a gas day (06:00-06:00);
- an access point counts on a day when a row of its registry context (``ACCESS_POINT_CONTEXT``) of that
  energy and meter kind holds on it: ``valid_from <= day < valid_to`` (``valid_to`` null: open-ended);
- only versions recorded at or before ``as_of`` are known at ``as_of``;

Everything here builds Ibis expressions (no Python row loops), except :func:`grid_days`, which reads
the grid's day summary (one row per day) to attach the delivery deadlines to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import pyarrow as pa

from kwartier.domain.channels import Channel, Energy, energy_of
from kwartier.engine import load, to_arrow
from kwartier.schema import (
    AP,
    DAY,
    ENERGY,
    METER_KIND,
    UTC_MICROS,
    VALID_FROM,
    VALID_TO,
)

# meter kinds of ACCESS_POINT_CONTEXT.meter_kind
DIGITAL = "digital"
AMR = "amr"

SLOTS = "slots"
DEADLINE_PREFIX = "deadline_"


@dataclass(frozen=True)
class GridDay:
    """One day of the period: its date and the number of slots it should hold (92/96/100, 23/24/25)."""

    day: date
    slots: int


def grid_days(grid: Any) -> tuple[GridDay, ...]:
    """The days of ``grid`` with their slot count, in date order; a grid without days is an error."""
    summary = to_arrow(grid.group_by(DAY).aggregate(**{SLOTS: grid.count()}), sort_by=[DAY])
    days = tuple(
        GridDay(day=row[DAY], slots=int(row[SLOTS])) for row in summary.select([DAY, SLOTS]).to_pylist()
    )
    if not days:
        raise ValueError("the expected-slot grid holds no day: the period is empty")
    return days


def day_table(
    grid: Any, days: Iterable[GridDay], deadline: Callable[[date, int], datetime], horizons: int
) -> Any:
    """The days as a table on ``grid``'s backend: ``day``, ``slots``, ``deadline_1`` … ``deadline_<n>``.

    ``deadline(day, n)`` is the UTC instant by which a value of ``day`` counts as delivered on D+n.
    """
    listed = list(days)
    columns: dict[str, pa.Array] = {
        DAY: pa.array([d.day for d in listed], pa.date32()),
        SLOTS: pa.array([d.slots for d in listed], pa.int64()),
    }
    for n in range(1, horizons + 1):
        columns[f"{DEADLINE_PREFIX}{n}"] = pa.array([deadline(d.day, n) for d in listed], UTC_MICROS)
    return load(ibis.get_backend(grid), pa.table(columns))


def as_of_literal(as_of: datetime) -> Any:
    """``as_of`` as an Ibis UTC timestamp literal; a naive datetime is refused."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be an aware datetime (UTC)")
    return ibis.literal(as_of.astimezone(UTC), type=dt.Timestamp(timezone="UTC"))


def access_point_days(context: Any, days: Any, energy: Energy, meter_kinds: Iterable[str]) -> Any:
    """The distinct (``ap``, ``day``) on which an access point of ``energy`` has one of ``meter_kinds``."""
    kinds = list(meter_kinds)
    facts = context.filter(context[ENERGY] == energy.value, context[METER_KIND].isin(kinds))
    valid = facts.join(
        days,
        [
            facts[VALID_FROM] <= days[DAY],
            facts[VALID_TO].isnull() | (days[DAY] < facts[VALID_TO]),
        ],
    )
    return valid.select(valid[AP], valid[DAY]).distinct()


def channels_of(energy: Energy) -> list[str]:
    """All channels measuring ``energy`` (electricity: offtake, injection; gas: volume and energy)."""
    return [channel.value for channel in Channel if energy_of(channel) is energy]


def main_channel(energy: Energy) -> Channel:
    """The channel the availability indicators look at: electricity offtake, gas volume (seed 000 §6.2.4)."""
    return Channel.OFFTAKE if energy is Energy.ELECTRICITY else Channel.GAS_VOLUME


def scalar_row(expr: Any) -> dict[str, int]:
    """Execute a one-row aggregate and return its values as Python ints (null counts become 0)."""
    row = to_arrow(expr).to_pylist()[0]
    return {name: int(value or 0) for name, value in row.items()}
