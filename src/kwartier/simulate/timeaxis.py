"""The intervals of the simulated period, for electricity (market days) and gas (gas days).

Built from :mod:`kwartier.domain.timegrid` (quarter hours of market days, hours of gas days) and
:func:`kwartier.domain.channels.tariff_period`, once per run: everything else indexes into it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from kwartier.domain.channels import TariffPeriod, tariff_period
from kwartier.domain.timegrid import (
    BRUSSELS,
    gas_day_bounds,
    gas_hours,
    local_midnight_utc,
    quarter_hours,
)
from kwartier.simulate.arrays import FloatArray, IntArray

TARIFFS: tuple[TariffPeriod, ...] = (TariffPeriod.DAY, TariffPeriod.NIGHT, TariffPeriod.TOTAL)


@dataclass(frozen=True)
class IntervalGrid:
    """The intervals of ``days`` consecutive (market or gas) days, in UTC order.

    ``day_offsets[d]`` is the first interval of period day ``d`` and ``day_offsets[days]`` the count;
    ``boundary_text[d]`` the local ISO-8601 instant day ``d`` starts (``days + 1`` of them, for the
    register readings).
    """

    minutes: int
    first_day: date
    starts: list[datetime]
    start_text: pa.Array
    day: IntArray
    day_offsets: IntArray
    local_hour: FloatArray  # wall-clock hour of the interval start, 0.0-23.75
    local_wall: npt.NDArray[np.datetime64]  # naive wall-clock start, minute precision
    tariff: IntArray  # index into TARIFFS
    boundary_text: list[str]

    @property
    def days(self) -> int:
        """Number of period days."""
        return len(self.day_offsets) - 1

    @property
    def size(self) -> int:
        """Number of intervals."""
        return len(self.starts)

    def day_date(self, index: int) -> date:
        """The calendar date of period day ``index``."""
        return self.first_day + timedelta(days=index)


def _iso_local(instant: datetime) -> str:
    return instant.astimezone(BRUSSELS).isoformat()


def _grid(first_day: date, days: int, minutes: int, per_day: list[list[datetime]]) -> IntervalGrid:
    starts = [instant for day in per_day for instant in day]
    local = [instant.astimezone(BRUSSELS) for instant in starts]
    offsets = np.concatenate([[0], np.cumsum([len(day) for day in per_day])]).astype(np.int64)
    if minutes == 15:
        tariff = [TARIFFS.index(tariff_period(instant)) for instant in starts]
    else:
        tariff = [TARIFFS.index(TariffPeriod.TOTAL)] * len(starts)
    if minutes == 15:
        bounds = [local_midnight_utc(first_day + timedelta(days=d)) for d in range(days + 1)]
    else:
        bounds = [gas_day_bounds(first_day + timedelta(days=d))[0] for d in range(days + 1)]
    return IntervalGrid(
        minutes=minutes,
        first_day=first_day,
        starts=starts,
        start_text=pa.array([_iso_local(instant) for instant in starts], pa.string()),
        day=np.repeat(np.arange(days, dtype=np.int64), np.diff(offsets)),
        day_offsets=offsets,
        local_hour=np.array([t.hour + t.minute / 60 for t in local], dtype=np.float64),
        local_wall=np.array([t.replace(tzinfo=None) for t in local], dtype="datetime64[m]"),
        tariff=np.array(tariff, dtype=np.int64),
        boundary_text=[_iso_local(instant) for instant in bounds],
    )


def electricity_grid(first_day: date, days: int) -> IntervalGrid:
    """Quarter hours of the market days ``first_day`` … ``first_day + days - 1`` (92/96/100 a day)."""
    per_day = [quarter_hours(first_day + timedelta(days=d)) for d in range(days)]
    return _grid(first_day, days, 15, per_day)


def gas_grid(first_day: date, days: int) -> IntervalGrid:
    """Hours of the gas days starting at 06:00 local on ``first_day`` … (23/24/25 a gas day)."""
    per_day = [gas_hours(first_day + timedelta(days=d)) for d in range(days)]
    return _grid(first_day, days, 60, per_day)
