"""Day-level validation rules: Ibis tables in, an Ibis table of findings out (DuckDB or PySpark).

Inputs:

- ``current``: the current readings (latest non-rejected version per ap, channel, tariff, start and
  minutes), at least the columns ap, channel, tariff, start, minutes, value of ``STORED_READINGS``;
- ``grid``: the slot grid of the days to check (:func:`kwartier.validation.grid.slot_grid`, both
  resolutions may be stacked in one table);
- ``expected``: (ap, channel, minutes, day) for which a complete day of values is expected;
- ``registers``: (ap, channel, tariff, read_at, index_value), one current index per key, read at the
  start of a day (local midnight; 06:00 local for gas).

Every rule returns the columns of ``STORED_FINDINGS`` without batch and recorded_at: ap, channel, day,
rule, detail. All arithmetic is on integers, so both engines give identical findings.

Rules:

- ``V01-COMPLETENESS``: a day is complete when every slot of its grid holds a current value; a finding
  for each expected (ap, channel, day) with fewer, e.g. "87 of 96 quarters" or "0 of 24 hours". Values of
  several tariffs at the same start count once.
- ``V05-REGISTER-DELTA``: the interval values of a tariff register must add up to the increase of its
  index over the day. Checked per (ap, channel, tariff, day) when the index is known at the start and at
  the end of the day and the day's series of that tariff is complete (a current value of that tariff at
  every grid slot of that tariff; at least one such slot, so a weekend day register is not checked).
  Tolerance: each interval value was rounded to the Wh (dm³), at most 0.5 Wh off, and the index is
  read to the Wh, so the two can differ by rounding alone by up to n/2 + 1 Wh for n intervals; the rule
  allows ``tolerance_per_interval`` × n + 1 (default 1 Wh per interval: 97 Wh for 96 quarters, 25 Wh for
  24 gas hours). A larger difference is a finding naming the tariff, both numbers and the tolerance.
"""

from __future__ import annotations

from typing import Any, Final

import ibis

from kwartier.domain.channels import Channel, Unit, energy_of, resolution_of, unit_of
from kwartier.domain.timegrid import HOUR_MINUTES, QUARTER_MINUTES
from kwartier.schema import (
    AP,
    CHANNEL,
    DAY,
    DETAIL,
    INDEX_VALUE,
    MINUTES,
    READ_AT,
    RULE,
    START,
    TARIFF,
    VALUE,
)

COMPLETENESS: Final = "V01-COMPLETENESS"
REGISTER_DELTA: Final = "V05-REGISTER-DELTA"

# internal columns shared with kwartier.estimation
EPOCH: Final = "epoch_s"  # start as whole seconds since 1970-01-01 UTC
STEP: Final = "step_s"  # interval length in seconds
INTERVALS: Final = "intervals"
TOTAL: Final = "total"
GRID_INTERVALS: Final = "grid_intervals"
DELTA: Final = "delta"

FINDING_COLUMNS: Final = (AP, CHANNEL, DAY, RULE, DETAIL)
_KEYS = (AP, CHANNEL, MINUTES)
_SLOT_NAMES: Final = {QUARTER_MINUTES: "quarters", HOUR_MINUTES: "hours"}


def with_epoch(table: Any, column: str = START) -> Any:
    """``table`` with ``epoch_s`` (``column`` in whole UTC seconds) and ``step_s`` (minutes × 60), int64."""
    return table.mutate(
        **{
            EPOCH: table[column].epoch_seconds().cast("int64"),
            STEP: table[MINUTES].cast("int64") * 60,
        }
    )


def resolution_minutes(channel: Any) -> Any:
    """The interval length in minutes of a channel column: 15 for electricity, 60 for gas (int16)."""
    branches = [(channel == c.value, resolution_of(energy_of(c))) for c in Channel]
    return ibis.cases(*branches).cast("int16")


def values_in_days(current: Any, grid: Any) -> Any:
    """Current values that fall on a slot of ``grid``: ap, channel, tariff, minutes, start, value, day."""
    slots = grid.select(MINUTES, START, DAY)
    return current.join(slots, [MINUTES, START]).select(AP, CHANNEL, TARIFF, MINUTES, START, VALUE, DAY)


def completeness_findings(current: Any, expected: Any, grid: Any) -> Any:
    """``V01-COMPLETENESS`` findings: expected (ap, channel, day) with fewer current values than slots."""
    days_grid = grid.semi_join(expected.select(DAY, MINUTES).distinct(), [DAY, MINUTES])
    grid_counts = days_grid.group_by([DAY, MINUTES]).aggregate(**{GRID_INTERVALS: days_grid[START].count()})
    series = current.semi_join(expected.select(*_KEYS).distinct(), list(_KEYS))
    on_grid = values_in_days(series, days_grid).semi_join(expected, [*_KEYS, DAY])
    counted = on_grid.group_by([*_KEYS, DAY]).aggregate(**{INTERVALS: on_grid[START].nunique()})
    days = expected.select(*_KEYS, DAY).distinct().join(grid_counts, [DAY, MINUTES])
    joined = days.left_join(counted, [*_KEYS, DAY]).select(
        *(days[column] for column in (*_KEYS, DAY, GRID_INTERVALS)),
        **{INTERVALS: counted[INTERVALS].fill_null(0)},
    )
    short = joined.filter(joined[INTERVALS] < joined[GRID_INTERVALS])
    unit_name = ibis.cases(*((short[MINUTES] == m, name) for m, name in _SLOT_NAMES.items()))
    detail = short[INTERVALS].cast("string") + " of " + short[GRID_INTERVALS].cast("string") + " " + unit_name
    return short.select(AP, CHANNEL, DAY, **{RULE: ibis.literal(COMPLETENESS), DETAIL: detail})


def tariff_day_sums(current: Any, grid: Any) -> Any:
    """Per (ap, channel, tariff, minutes, day): ``intervals`` (count) and ``total`` (sum) of the current
    values of that tariff on the day's slots, and ``grid_intervals``, the day's slots of that tariff
    (null when the grid has none, e.g. the day register on a weekend)."""
    on_grid = values_in_days(current, grid)
    sums = on_grid.group_by([*_KEYS, TARIFF, DAY]).aggregate(
        **{INTERVALS: on_grid[VALUE].count(), TOTAL: on_grid[VALUE].sum().cast("int64")}
    )
    per_tariff = grid.group_by([DAY, MINUTES, TARIFF]).aggregate(**{GRID_INTERVALS: grid[START].count()})
    return sums.left_join(per_tariff, [DAY, MINUTES, TARIFF]).select(
        *(sums[column] for column in (*_KEYS, TARIFF, DAY, INTERVALS, TOTAL)),
        per_tariff[GRID_INTERVALS],
    )


def index_deltas(registers: Any, grid: Any) -> Any:
    """Per (ap, channel, tariff, minutes, day): ``delta``, the index at the end of the day minus the index
    at its start, for the days of ``grid`` whose start and end both have an index reading."""
    slots = with_epoch(grid)
    bounds = slots.group_by([DAY, MINUTES]).aggregate(
        first_s=slots[EPOCH].min(), end_s=slots[EPOCH].max() + slots[STEP].max()
    )
    reads = with_epoch(registers.mutate(**{MINUTES: resolution_minutes(registers[CHANNEL])}), READ_AT)
    keys = [AP, CHANNEL, TARIFF, MINUTES, DAY]
    opening = reads.join(bounds, [reads[MINUTES] == bounds[MINUTES], reads[EPOCH] == bounds.first_s]).select(
        *(reads[column] for column in (AP, CHANNEL, TARIFF, MINUTES)), bounds[DAY], opening=INDEX_VALUE
    )
    closing = reads.join(bounds, [reads[MINUTES] == bounds[MINUTES], reads[EPOCH] == bounds.end_s]).select(
        *(reads[column] for column in (AP, CHANNEL, TARIFF, MINUTES)), bounds[DAY], closing=INDEX_VALUE
    )
    both = opening.join(closing, keys)
    return both.select(*keys, **{DELTA: (both.closing - both.opening).cast("int64")})


def register_delta_findings(current: Any, registers: Any, grid: Any, tolerance_per_interval: int = 1) -> Any:
    """``V05-REGISTER-DELTA`` findings: complete tariff series whose sum differs from the index delta by
    more than ``tolerance_per_interval`` × intervals + 1 (Wh, or dm³ for gas volume)."""
    sums = tariff_day_sums(current, grid)
    complete = sums.filter(sums[INTERVALS] == sums[GRID_INTERVALS])
    deltas = index_deltas(registers, grid)
    keys = [AP, CHANNEL, TARIFF, MINUTES, DAY]
    both = complete.join(deltas, keys)
    tolerance = both[INTERVALS].cast("int64") * tolerance_per_interval + 1
    off = both.mutate(tolerance=tolerance).filter((both[TOTAL] - both[DELTA]).abs() > tolerance)
    unit = ibis.cases(
        (off[CHANNEL] == Channel.GAS_VOLUME.value, unit_of(Channel.GAS_VOLUME).value),
        else_=Unit.WH.value,
    )
    detail = (
        off[TARIFF]
        + ": interval sum "
        + off[TOTAL].cast("string")
        + " "
        + unit
        + ", index delta "
        + off[DELTA].cast("string")
        + " "
        + unit
        + " (tolerance "
        + off.tolerance.cast("string")
        + " "
        + unit
        + ")"
    )
    return off.select(AP, CHANNEL, DAY, **{RULE: ibis.literal(REGISTER_DELTA), DETAIL: detail})
