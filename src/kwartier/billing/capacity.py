"""The capacity tariff: quarter-hour power, monthly peaks and the billing peak ("gemiddelde maandpiek").

Rules (issue "Billing data"; Flemish capacity tariff since 2023, seed 000 §6.2.3 and §7.3.4):

- **quarter-hour power** [W] = offtake energy of the quarter [Wh] × 4, the day and night registers
  together (``TariffPeriod.DAY`` + ``NIGHT``); injection never counts, and neither does a separate
  exclusive-night register (its own tariff, not part of the capacity tariff);
- **monthly peak** [W] = the highest quarter-hour power in the local (Europe/Brussels) calendar month,
  with the start of that quarter; of equal quarters the earliest is the peak. A peak is *estimated* when
  the peak quarter holds an estimated value;
- **billing peak** of month M [W] = the arithmetic mean, over the months with a monthly peak among the
  12 months ending with M, of max(monthly peak, 2.5 kW), rounded half up to the W (= 3 decimals in kW).
  The floor applies per month, before the mean: eleven months of 1.0 kW and one of 20 kW give 3.958 kW.
- a classic (Ferraris) meter has no quarter hours and pays the flat minimum of 2.5 kW.

Partial presence: a month with quarters for only part of its days (a new connection, a meter exchange,
a move; see ``docs/billing.md``) has as monthly peak the highest quarter among the quarters present, and
counts as one month in the mean: the tariff itself is charged pro rata of the days, so the peak must not
be scaled. The billing peak is computed per access point over the history given; the caller restricts
that history to one grid user's occupancy where a move restarts it.

The calculations are Ibis expressions run unchanged on DuckDB and PySpark. Integer arithmetic only:
energy in Wh, power in W, the mean as an exact integer sum and count.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Final

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from kwartier.billing.months import QUARTER_SECONDS, month_of_index, month_quarter_bounds
from kwartier.domain.channels import Channel, ReadingStatus, TariffPeriod
from kwartier.schema import (
    CHANNEL,
    MINUTES,
    MONTH,
    PEAK_START,
    PEAK_W,
    RECORDED_AT,
    START,
    STATUS,
    TARIFF,
    VALUE,
)

MINIMUM_PEAK_W: Final = 2_500
"""The floor of every month in the billing peak, and the flat peak of a classic meter [W]."""
WINDOW_MONTHS: Final = 12
POWER_PER_QUARTER_ENERGY: Final = 4
"""W per Wh of a quarter hour (1 Wh in 0.25 h is 4 W)."""
PEAK_TARIFFS: Final = (TariffPeriod.DAY.value, TariffPeriod.NIGHT.value)

# result columns
MONTH_INDEX: Final = "month_index"
QUARTERS: Final = "quarters"
ESTIMATED: Final = "estimated"
ESTIMATED_QUARTERS: Final = "estimated_quarters"
DATA_AS_OF: Final = "data_as_of"
BILLING_PEAK_W: Final = "billing_peak_w"
MONTHS_COUNTED: Final = "months_counted"

# A monthly peak is found by one MAX over an integer that orders quarters by power, then by earliest
# start, and carries the estimated flag: ((power × 2^22 + (2^22 − 1 − quarter index)) × 2 + estimated.
# Quarter indexes (quarter hours since 1970) stay below 2^22 until 2089.
_QUARTER_SPAN: Final = 1 << 22
_RANKED: Final = "ranked"


def monthly_peaks(readings: ir.Table, key: str, months: list[date]) -> ir.Table:
    """Monthly peaks per ``key`` for the local calendar ``months`` from interval ``readings``.

    ``readings`` has the columns ``key``, ``channel``, ``tariff``, ``start``, ``minutes``, ``value`` [Wh]
    and ``status`` (``estimated`` marks an estimated value), and optionally ``recorded_at``. Rows of other
    channels, resolutions and months are ignored. The result, one row per key and month with data, has
    ``key``, ``month_index``, ``ranked`` (see :func:`decode_peaks`), ``quarters`` (quarter hours with
    offtake data), ``estimated_quarters`` and, with ``recorded_at``, ``data_as_of``: the latest recording
    among the values used — the data version the peak rests on.
    """
    bounds = month_quarter_bounds(months)
    quarter = (readings[START].epoch_seconds() // QUARTER_SECONDS).cast("int64")
    offtake = readings.filter(
        readings[CHANNEL] == Channel.OFFTAKE.value,
        readings[MINUTES] == QUARTER_SECONDS // 60,
        readings[TARIFF].isin(PEAK_TARIFFS),
        quarter >= min(b[1] for b in bounds),
        quarter < max(b[2] for b in bounds),
    )
    versions = RECORDED_AT in readings.columns
    per_quarter = offtake.group_by(key, quarter.name("quarter")).aggregate(
        energy_wh=offtake[VALUE].sum(),
        estimated=(offtake[STATUS] == ReadingStatus.ESTIMATED.value).cast("int64").max(),
        **({DATA_AS_OF: offtake[RECORDED_AT].max()} if versions else {}),
    )
    month = ibis.cases(*((per_quarter.quarter < end, index) for index, _, end in bounds)).cast("int64")
    ranked = (
        per_quarter.energy_wh * POWER_PER_QUARTER_ENERGY * _QUARTER_SPAN
        + (_QUARTER_SPAN - 1 - per_quarter.quarter)
    ) * 2 + per_quarter.estimated
    per_month = per_quarter.mutate(month.name(MONTH_INDEX), ranked.name(_RANKED))
    aggregates: dict[str, Any] = {
        _RANKED: per_month[_RANKED].max(),
        QUARTERS: per_month.quarter.count(),
        ESTIMATED_QUARTERS: per_month.estimated.sum(),
    }
    if versions:
        aggregates[DATA_AS_OF] = per_month[DATA_AS_OF].max()
    return per_month.group_by(key, MONTH_INDEX).aggregate(**aggregates)


def decode_peaks(table: pa.Table) -> pa.Table:
    """Replace ``ranked`` by ``month`` (date), ``peak_w``, ``peak_start`` (UTC) and ``estimated`` (bool):
    exact integer decoding in Arrow, after either engine; the other columns stay."""
    ranked = table.column(_RANKED)
    estimated = pc.equal(pc.bit_wise_and(ranked, 1), 1)
    rest = pc.shift_right(ranked, 1)
    quarter = pc.subtract(_QUARTER_SPAN - 1, pc.bit_wise_and(rest, _QUARTER_SPAN - 1))
    power = pc.shift_right(rest, 22)
    start = pc.cast(pc.multiply(quarter, QUARTER_SECONDS * 1_000_000), pa.timestamp("us", tz="UTC"))
    months = pa.array([month_of_index(i) for i in table.column(MONTH_INDEX).to_pylist()], pa.date32())
    others = [name for name in table.column_names if name not in (_RANKED, MONTH_INDEX)]
    key = others[0]
    columns = {
        key: table.column(key),
        MONTH_INDEX: table.column(MONTH_INDEX),
        MONTH: months,
        PEAK_W: power,
        PEAK_START: start,
        ESTIMATED: estimated,
        **{name: table.column(name) for name in others[1:]},
    }
    return pa.table(columns)


def billing_peaks(monthly: ir.Table, key: str, months: list[date]) -> ir.Table:
    """Billing peak per ``key`` for each of ``months`` from monthly peaks (``key``, ``month_index``,
    ``peak_w``): the mean of max(peak, 2.5 kW) over the months present among the 12 ending with M.

    The result has ``key``, ``month_index``, ``billing_peak_w`` (rounded half up to the W) and
    ``months_counted``; a month M gets a row when at least one month of its window has a peak.
    """
    targets = ibis.memtable(
        pa.table({MONTH_INDEX: pa.array([b[0] for b in month_quarter_bounds(months)], pa.int64())})
    )
    history = monthly.select(
        monthly[key],
        monthly[MONTH_INDEX].name("peak_month"),
        ibis.greatest(monthly[PEAK_W], MINIMUM_PEAK_W).name("floored_w"),
    )
    window = history.cross_join(targets).filter(
        lambda t: (t.peak_month <= t[MONTH_INDEX]) & (t.peak_month > t[MONTH_INDEX] - WINDOW_MONTHS)
    )
    summed = window.group_by(key, MONTH_INDEX).aggregate(
        total_w=window.floored_w.sum(), **{MONTHS_COUNTED: window.peak_month.count()}
    )
    return summed.select(
        summed[key],
        summed[MONTH_INDEX],
        ((summed.total_w * 2 + summed[MONTHS_COUNTED]) // (summed[MONTHS_COUNTED] * 2))
        .cast("int64")
        .name(BILLING_PEAK_W),
        summed[MONTHS_COUNTED],
    )
