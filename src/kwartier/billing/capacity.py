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

from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any, Final

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from kwartier.billing.months import QUARTER_SECONDS, month_of_index, month_quarter_bounds
from kwartier.domain.channels import Channel, ReadingStatus, TariffPeriod
from kwartier.domain.timegrid import BRUSSELS
from kwartier.engine import load, to_arrow
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
_LITERAL_KEYS: Final = 10_000
QUARTER: Final = "quarter"
QUARTERS_PER_DAY: Final = 96
DAY_FIRST_QUARTER: Final = 28  # 07:00
DAY_END_QUARTER: Final = 88  # 22:00
QUARTERS_PER_WEEK: Final = 7 * QUARTERS_PER_DAY
WEEKDAY_QUARTERS: Final = 5 * QUARTERS_PER_DAY
FIRST_MONDAY_QUARTER: Final = 4 * QUARTERS_PER_DAY  # 1970-01-05


def monthly_peaks(backend: Any, readings: ir.Table, key: str, months: list[date]) -> pa.Table:
    """Monthly peaks per ``key`` for the local calendar ``months`` from interval ``readings`` on
    ``backend``, as Arrow (decode with :func:`decode_peaks`).

    ``readings`` has the columns ``key``, ``channel``, ``tariff``, ``quarter`` (quarter hours since the
    epoch of the interval's start, :func:`with_quarter`), ``minutes``, ``value`` [Wh] and ``status``
    (``estimated`` marks an estimated value), and optionally ``recorded_at``. Rows of other channels,
    resolutions and months are ignored. The result, one row per key and month with data, has ``key``,
    ``month_index``, ``ranked`` (see :func:`decode_peaks`), ``quarters`` (quarter hours with offtake
    data), ``estimated_quarters`` and, with ``recorded_at``, ``data_as_of``: the latest recording among
    the values used — the data version the peak rests on.

    Two stages give the same result as summing the registers per quarter first, at a fraction of the
    cost. A quarter can hold a day and a night value only if one of them is registered outside its own
    tariff period (:func:`is_day_period`): where a key has no such value, every quarter has one value and
    its peak is the largest value (stage 1, one aggregation per key and month). Only the keys with a value
    outside its period are read again and summed per quarter first (stage 2); a short list of keys is
    given as literals, so that the engine skips the row groups of all other keys.
    """
    bounds = month_quarter_bounds(months)
    single = to_arrow(_per_month(_quarter_rows(readings, key, bounds), key, outside=True))
    flagged = pc.unique(single.filter(pc.equal(single.column("outside"), 1)).column(key))
    kept = single.filter(pc.invert(pc.is_in(single.column(key), flagged))).drop_columns(["outside"])
    if len(flagged) == 0:
        return kept
    if len(flagged) <= _LITERAL_KEYS:
        subset = readings.filter(readings[key].isin(flagged.to_pylist()))
    else:
        subset = readings.semi_join(load(backend, pa.table({key: flagged})), key)
    rows = _quarter_rows(subset, key, bounds)
    per_quarter = rows.group_by(key, QUARTER, MONTH_INDEX).aggregate(
        energy_wh=rows.energy_wh.sum(),
        estimated=ibis.ifelse(rows.energy_wh.notnull(), rows.estimated, 0).max(),
        **(
            {DATA_AS_OF: ibis.ifelse(rows.energy_wh.notnull(), rows[DATA_AS_OF], None).max()}
            if DATA_AS_OF in rows.columns
            else {}
        ),
    )
    summed = to_arrow(_per_month(per_quarter, key))
    return pa.concat_tables([kept, summed.select(kept.column_names).cast(kept.schema)])


def _quarter_rows(readings: ir.Table, key: str, bounds: list[tuple[int, int, int]]) -> ir.Table:
    """Per row: its month, its energy when it counts for the peak (null otherwise), the estimated flag,
    whether it counts but lies outside its own tariff period, and its recording moment."""
    first, end = min(b[1] for b in bounds), max(b[2] for b in bounds)
    quarter = readings[QUARTER]
    counts = (
        (readings[CHANNEL] == Channel.OFFTAKE.value)
        & readings[TARIFF].isin(PEAK_TARIFFS)
        & (readings[MINUTES] == QUARTER_SECONDS // 60)
        & (quarter >= first)
        & (quarter < end)
    )
    month = _step(quarter, bounds[0][0], [(start, 1) for _, start, _ in bounds[1:]])
    day_register = readings[TARIFF] == TariffPeriod.DAY.value
    return readings.select(
        readings[key],
        quarter,
        month.name(MONTH_INDEX),
        ibis.ifelse(counts, readings[VALUE], None).name("energy_wh"),
        (readings[STATUS] == ReadingStatus.ESTIMATED.value).cast("int64").name("estimated"),
        (counts & (day_register != is_day_period(quarter, first, end))).cast("int64").name("outside"),
        *([readings[RECORDED_AT].name(DATA_AS_OF)] if RECORDED_AT in readings.columns else []),
    )


def _per_month(rows: ir.Table, key: str, *, outside: bool = False) -> ir.Table:
    """Per key and month: the ranked maximum over quarter values, the counts, and the data version."""
    ranked = (
        rows.energy_wh * POWER_PER_QUARTER_ENERGY * _QUARTER_SPAN + (_QUARTER_SPAN - 1 - rows[QUARTER])
    ) * 2
    aggregates: dict[str, Any] = {
        _RANKED: (ranked + rows.estimated).max(),
        QUARTERS: rows.energy_wh.count(),
        ESTIMATED_QUARTERS: ibis.ifelse(rows.energy_wh.notnull(), rows.estimated, 0).sum(),
        **({"outside": rows.outside.max()} if outside else {}),
    }
    if DATA_AS_OF in rows.columns:
        aggregates[DATA_AS_OF] = ibis.ifelse(rows.energy_wh.notnull(), rows[DATA_AS_OF], None).max()
    grouped = rows.group_by(key, MONTH_INDEX).aggregate(**aggregates)
    return grouped.filter(grouped[QUARTERS] > 0)


def is_day_period(quarter: ir.IntegerValue, first: int, end: int) -> ir.BooleanValue:
    """Whether quarter index ``quarter`` (within [first, end)) lies in the day tariff period: weekdays
    07:00–22:00 Europe/Brussels, the rule of :func:`kwartier.domain.channels.tariff_period`, in integer
    arithmetic on the UTC quarter: 07:00–22:00 local is 06:00–21:00 UTC in winter (offset 4 quarters) and
    05:00–20:00 in summer (8), always on the same UTC date as the local one, so the weekday is that of the
    UTC date (epoch day 0 was a Thursday: quarter 384 began a Monday)."""
    of_week = (quarter - FIRST_MONDAY_QUARTER) % QUARTERS_PER_WEEK
    of_day = (quarter + _utc_offset_quarters(quarter, first, end)) % QUARTERS_PER_DAY
    return (of_week < WEEKDAY_QUARTERS) & (of_day >= DAY_FIRST_QUARTER) & (of_day < DAY_END_QUARTER)


def _utc_offset_quarters(quarter: ir.IntegerValue, first: int, end: int) -> ir.IntegerValue:
    """Europe/Brussels UTC offset in quarter hours of ``quarter``, from the offset changes in [first, end)."""
    changes = offset_changes(first, end)
    return _step(
        quarter,
        changes[0][1],
        [(start, offset - before) for (_, before), (start, offset) in pairwise(changes)],
    )


def _step(quarter: ir.IntegerValue, base: int, steps: list[tuple[int, int]]) -> ir.IntegerValue:
    """``base`` plus each ``delta`` of ``steps`` (first quarter, delta) that ``quarter`` has reached: a
    step function in arithmetic (cheaper per row than a CASE, and the same on every engine)."""
    value: ir.IntegerValue = ibis.literal(base, "int64")
    for start, delta in steps:
        value = value + (quarter >= start).cast("int64") * delta
    return value


def offset_changes(first: int, end: int) -> list[tuple[int, int]]:
    """(first quarter index, UTC offset in quarters) of each stretch of equal offset in [first, end)."""
    changes: list[tuple[int, int]] = []
    for index in range(first, end):
        local = datetime.fromtimestamp(index * QUARTER_SECONDS, BRUSSELS)
        offset = int((local.utcoffset() or timedelta()).total_seconds()) // QUARTER_SECONDS
        if not changes or changes[-1][1] != offset:
            changes.append((index, offset))
    return changes


def with_quarter(table: pa.Table) -> pa.Table:
    """``table`` with the column ``quarter``: quarter hours since the epoch of its UTC ``start``."""
    micros = pc.cast(pc.cast(table.column(START), pa.timestamp("us", tz="UTC")), pa.int64())
    return table.append_column(QUARTER, pc.divide(micros, QUARTER_SECONDS * 1_000_000))


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
