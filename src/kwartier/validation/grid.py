"""The slot grid: every interval a complete day holds, as an Arrow table to join with readings.

A market day (Europe/Brussels, 00:00-24:00) holds 92, 96 or 100 quarter hours of electricity; a gas day
(06:00-06:00 local) holds 23, 24 or 25 hours of gas (design.md "Time", :mod:`kwartier.domain.timegrid`).
Each row of the grid is one interval with:

- ``day``: the market day (gas day for 60-minute gas intervals);
- ``start`` (UTC) and ``minutes`` (15 or 60);
- ``slot``: the 0-based position of the interval within its day;
- ``tariff``: for quarter hours the tariff period of :func:`kwartier.domain.channels.tariff_period`
  (day or night); ``total`` for gas hours;
- ``local_slot``: local wall-clock minutes since local midnight divided by the resolution, used to match
  the same time of day on other days (like days). On DST days it follows the wall clock: the spring day
  has no local slots 8-11 (02:00-02:59 does not exist) and the autumn day has them twice. For gas it is
  the local hour (0-23), so the hours 00:00-05:59 of a gas day carry local slots 0-5;
- ``weekday``: weekday of ``day``, 0 = Monday.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pyarrow as pa

from kwartier.domain.channels import TariffPeriod, tariff_period
from kwartier.domain.timegrid import BRUSSELS, HOUR_MINUTES, QUARTER_MINUTES, gas_hours, quarter_hours
from kwartier.schema import DAY, MINUTES, START, TARIFF, UTC_MICROS

SLOT = "slot"
LOCAL_SLOT = "local_slot"
WEEKDAY = "weekday"

SLOT_GRID = pa.schema(
    [
        pa.field(DAY, pa.date32(), nullable=False),
        pa.field(START, UTC_MICROS, nullable=False),
        pa.field(MINUTES, pa.int16(), nullable=False),
        pa.field(SLOT, pa.int16(), nullable=False),
        pa.field(TARIFF, pa.string(), nullable=False),
        pa.field(LOCAL_SLOT, pa.int16(), nullable=False),
        pa.field(WEEKDAY, pa.int16(), nullable=False),
    ]
)


def slot_grid(days: Sequence[date], minutes: int) -> pa.Table:
    """The intervals of ``days`` at resolution ``minutes``: quarter hours of market days (15) or hours
    of gas days (60), one row per interval, in the schema :data:`SLOT_GRID`.

    Raises ``ValueError`` for any other resolution.
    """
    if minutes not in (QUARTER_MINUTES, HOUR_MINUTES):
        raise ValueError(f"no slot grid of {minutes} minutes: 15 (electricity) or 60 (gas)")
    columns: dict[str, list[object]] = {field.name: [] for field in SLOT_GRID}
    for day in sorted(set(days)):
        starts = quarter_hours(day) if minutes == QUARTER_MINUTES else gas_hours(day)
        for slot, start in enumerate(starts):
            local = start.astimezone(BRUSSELS)
            tariff = tariff_period(start) if minutes == QUARTER_MINUTES else TariffPeriod.TOTAL
            columns[DAY].append(day)
            columns[START].append(start)
            columns[MINUTES].append(minutes)
            columns[SLOT].append(slot)
            columns[TARIFF].append(tariff.value)
            columns[LOCAL_SLOT].append((local.hour * 60 + local.minute) // minutes)
            columns[WEEKDAY].append(day.weekday())
    return pa.table(columns, schema=SLOT_GRID)
