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

import functools
import operator
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any, Final

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from kwartier.billing.months import QUARTER_SECONDS, month_of_index, month_quarter_bounds
from kwartier.domain.channels import Channel, ReadingStatus, TariffPeriod, tariff_period
from kwartier.engine import load, to_arrow, without_optimizers
from kwartier.schema import (
    BATCH,
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
_QUARTER_MICROS: Final = QUARTER_SECONDS * 1_000_000
_DISTINCT_QUARTERS: Final = "distinct_quarters"
_DAY_QUARTERS: Final = "day_quarters"
_OFF_CLOCK: Final = "off_clock"
REPEATED: Final = "repeated"
"""Candidates' flag: the key may have two rows in one quarter of the part (its candidates are not exact)."""
FIRST_QUARTER: Final = "first_quarter"
LAST_QUARTER: Final = "last_quarter"
_VERSION: Final = "version"
_FIRST_DOUBTFUL: Final = "first_doubtful"
_LAST_DOUBTFUL: Final = "last_doubtful"
_EVERY_QUARTER: Final = (1 << 62) - 1
_VERSION_SHIFT: Final = 1 << 41
_ENERGY_OFFSET: Final = 1 << 39


def monthly_peaks(
    backend: Any, readings: ir.Table, key: str, months: list[date], *, as_of: datetime | None = None
) -> pa.Table:
    """Monthly peaks per ``key`` for the local calendar ``months`` from interval ``readings`` on
    ``backend``, as Arrow (decode with :func:`decode_peaks`).

    ``readings`` has the columns ``key``, ``channel``, ``tariff``, ``start`` (UTC), ``minutes``,
    ``value`` [Wh] and ``status`` (``estimated`` marks an estimated value), and optionally
    ``recorded_at`` and ``batch``: then it may hold every stored version of a value, and the current
    version as known at ``as_of`` counts (:mod:`kwartier.store.versions`: rejected versions never, the
    latest recording wins, on equal recordings the greatest batch). Rows of other channels, resolutions
    and months are ignored. The result, one row per key and month with data, has ``key``,
    ``month_index``, ``ranked`` (see :func:`decode_peaks`), ``quarters`` (quarter hours with offtake
    data), ``estimated_quarters`` and, with ``recorded_at``, ``data_as_of``: the latest recording among
    the values used — the data version the peak rests on.

    Two stages give the same result as choosing the current versions and summing the registers per
    quarter first, at a fraction of the cost. Stage 1 (:func:`peak_candidates`), one aggregation per key
    and month, also counts the distinct quarters: where that equals the rows, every quarter has one value
    (one register, one version), so the peak is the largest value and the counts are exact. Only the
    other keys (a value in both registers of a quarter, or a corrected value) are read again, their
    current versions chosen and summed per quarter first (stage 2, :func:`peaks_from_candidates`).
    """
    single = peak_candidates(backend, readings, key, months, as_of=as_of)
    return peaks_from_candidates(backend, [(readings, single)], key, months, as_of=as_of)


def peak_candidates(
    backend: Any,
    readings: ir.Table,
    key: str,
    months: list[date],
    *,
    as_of: datetime | None = None,
    spans: bool = False,
    one_version: bool = False,
) -> pa.Table:
    """Stage 1 of :func:`monthly_peaks` on ``readings`` (the same columns): per key and month the
    ranked maximum over the rows, ``quarters`` (rows), ``estimated_quarters``, ``data_as_of`` and
    ``repeated``: whether the key may have two rows in one quarter (:func:`_repeated`); with ``spans``
    also the first and the last quarter index. Candidates of disjoint parts of the stored rows (for
    example one table per store file, as the billing refresh keeps them) combine into the peaks of all
    of them (:func:`peaks_from_candidates`).

    ``one_version`` is the caller's word that no key has two rows of one register and quarter among
    the rows that count (a store file that holds one version per value:
    :meth:`~kwartier.store.store.MeterStore.holds_one_version`); ``repeated`` is then found more
    cheaply (:func:`_repeated`)."""
    engine = backend.name
    with _one_aggregation(backend):
        return to_arrow(
            _each_month(
                month_quarter_bounds(months),
                lambda b: _per_month(
                    _quarter_rows(engine, readings, key, b, as_of),
                    key,
                    b,
                    repeats=engine,
                    one_version=one_version,
                    spans=spans,
                ),
            )
        )


def peaks_from_candidates(
    backend: Any,
    parts: list[tuple[ir.Table, pa.Table]],
    key: str,
    months: list[date],
    *,
    as_of: datetime | None = None,
) -> pa.Table:
    """Monthly peaks (as :func:`monthly_peaks`) of readings held in ``parts``: per part its rows and their
    :func:`peak_candidates`, computed as known at ``as_of`` (with ``spans`` when there is more than one
    part); each stored row in exactly one part (for example one part per store file).

    A key's candidates give its peak exactly when no quarter can have two values: in every part its rows
    equal its distinct quarters, and its parts' quarter spans [first, last] do not overlap. Then the
    peak is the greatest ranked maximum and the counts add up. The other keys are read again, each only
    from the parts whose candidates name it (stage 2). Per part the keys are given as literals: DuckDB
    then skips the row groups whose ``ap`` statistics hold none of them, at about half the cost of a
    semi-join (0.5 s against 1.15 s for 313 keys among 62,500 access points); one list of 5,000 keys for
    all files took 40–58 s at a million access points, as every row group was tested against every key.

    Stage 2 chooses current versions and adds registers (:func:`_current_per_quarter`) only in each
    key's doubtful range (:func:`_combined`): a quarter outside it has one row, which is its value. A
    correction of one day thus costs a full aggregation per quarter for that day only."""
    kept, doubtful = _combined(backend, [candidates for _, candidates in parts], key)
    if doubtful.num_rows == 0:
        return kept
    flagged = doubtful.column(key)
    pieces = []
    for rows, candidates in parts:
        named = candidates.column(key)
        mine = pc.unique(named.filter(pc.is_in(named, flagged)))
        if len(mine) == 0:
            continue
        if len(mine) <= _LITERAL_KEYS:
            pieces.append(rows.filter(rows[key].isin(mine.to_pylist())))
        else:
            pieces.append(rows.semi_join(load(backend, pa.table({key: mine})), key))
    subset = pieces[0].union(*pieces[1:]) if len(pieces) > 1 else pieces[0]
    bounds = month_quarter_bounds(months)
    with _one_aggregation(backend):
        rows = [_quarter_rows(backend.name, subset, key, bound, as_of) for bound in bounds]
        ranged = (rows[0].union(*rows[1:]) if len(rows) > 1 else rows[0]).join(load(backend, doubtful), key)
        doubtful_quarter = ranged[QUARTER].between(ranged[_FIRST_DOUBTFUL], ranged[_LAST_DOUBTFUL])
        per_quarter = _current_per_quarter(
            ranged.filter(doubtful_quarter).drop(_FIRST_DOUBTFUL, _LAST_DOUBTFUL), key
        )
        quarters = per_quarter.union(ranged.filter(~doubtful_quarter).select(*per_quarter.columns))
        summed = to_arrow(
            _each_month(
                bounds,
                lambda b: _per_month(
                    quarters.filter(quarters[QUARTER].between(b[1], b[2] - 1)), key, b, repeats=None
                ),
            )
        )
    return pa.concat_tables([kept, summed.select(kept.column_names).cast(kept.schema)])


def _combined(backend: Any, parts: list[pa.Table], key: str) -> tuple[pa.Table, pa.Table]:
    """(the peaks of the keys whose candidates are exact, the other keys with their doubtful range of
    quarter indexes [``first_doubtful``, ``last_doubtful``]) from the candidates of ``parts``
    (:func:`peaks_from_candidates`).

    Outside its doubtful range a key's quarter has at most one row. Where a part may hold two rows in a
    quarter of the key (``repeated``), the range is every quarter. Otherwise two rows of a quarter come from
    two parts whose spans hold it, so the quarter lies between the second smallest first quarter and the
    second largest last quarter of the key's parts (over its months)."""
    helpers = [REPEATED, FIRST_QUARTER, LAST_QUARTER]
    if len(parts) == 1:
        single = parts[0]
        flagged = pc.unique(single.filter(single.column(REPEATED)).column(key))
        kept = single.filter(pc.invert(pc.is_in(single.column(key), flagged)))
        everything = pa.table(
            {
                key: flagged,
                _FIRST_DOUBTFUL: pa.repeat(pa.scalar(0, pa.int64()), len(flagged)),
                _LAST_DOUBTFUL: pa.repeat(pa.scalar(_EVERY_QUARTER, pa.int64()), len(flagged)),
            }
        )
        return kept.drop_columns([c for c in helpers if c in kept.column_names]), everything
    table = load(backend, pa.concat_tables(parts))
    group = [table[key], table[MONTH_INDEX]]
    by_first = ibis.window(group_by=group, order_by=table[FIRST_QUARTER])
    overlapping = table[FIRST_QUARTER] <= table[LAST_QUARTER].lag().over(by_first)
    checked = table.mutate(
        overlapping=overlapping.fill_null(False),
        first_rank=ibis.row_number().over(by_first),
        last_rank=ibis.row_number().over(group_by=group, order_by=ibis.desc(table[LAST_QUARTER])),
    )
    sums: dict[str, Any] = {
        _RANKED: checked[_RANKED].max(),
        QUARTERS: checked[QUARTERS].sum(),
        ESTIMATED_QUARTERS: checked[ESTIMATED_QUARTERS].sum(),
    }
    if DATA_AS_OF in table.columns:
        sums[DATA_AS_OF] = checked[DATA_AS_OF].max()
    per_key_month = checked.group_by(key, MONTH_INDEX).aggregate(
        **sums,
        repeated=checked[REPEATED].any(),
        overlapping=checked.overlapping.any(),
        second_first=checked[FIRST_QUARTER].max(where=checked.first_rank == 1),
        second_last=checked[LAST_QUARTER].max(where=checked.last_rank == 1),
    )
    per_key = to_arrow(per_key_month)
    months = per_key.filter(pc.or_(per_key.column("repeated"), per_key.column("overlapping")))
    every = months.column("repeated")
    ranges = pa.table(
        {
            key: months.column(key),
            _FIRST_DOUBTFUL: pc.if_else(every, 0, months.column("second_first")),
            _LAST_DOUBTFUL: pc.if_else(every, _EVERY_QUARTER, months.column("second_last")),
        }
    )
    doubtful = (
        ranges.group_by(key)
        .aggregate([(_FIRST_DOUBTFUL, "min"), (_LAST_DOUBTFUL, "max")])
        .rename_columns({f"{_FIRST_DOUBTFUL}_min": _FIRST_DOUBTFUL, f"{_LAST_DOUBTFUL}_max": _LAST_DOUBTFUL})
    )
    kept = per_key.filter(pc.invert(pc.is_in(per_key.column(key), doubtful.column(key))))
    columns = [c for c in parts[0].column_names if c not in helpers]
    return kept.select(columns).cast(parts[0].select(columns).schema), doubtful


def _each_month(
    bounds: list[tuple[int, int, int]], per_month: Callable[[tuple[int, int, int]], ir.Table]
) -> ir.Table:
    """``per_month`` of each month's bounds, as one table: one aggregation per month, grouped by the key
    alone (on DuckDB a text key with the month as a second key costs a quarter more per row)."""
    tables = [per_month(bound) for bound in bounds]
    return tables[0].union(*tables[1:]) if len(tables) > 1 else tables[0]


def _quarter_rows(
    engine: str, readings: ir.Table, key: str, bound: tuple[int, int, int], as_of: datetime | None
) -> ir.Table:
    """The rows that count for the peak in the month of ``bound`` (offtake, day or night register,
    quarter hours of the month; not rejected, recorded by ``as_of``) with their quarter index
    (:func:`_quarter_index`), register, energy, the estimated flag and, where ``readings`` has them, the
    recording moment and batch.

    Registers and status are selected by plain comparisons, one per value left out: DuckDB evaluates
    ``tariff IN ('day', 'night')``, or a join on the text, about three times slower per row (measured on
    186 million rows: 1.5 s against 0.5 s)."""
    _, first, end = bound
    versioned = RECORDED_AT in readings.columns
    rows = readings.filter(
        readings[CHANNEL] == Channel.OFFTAKE.value,
        readings[MINUTES] == QUARTER_SECONDS // 60,
        readings[START] >= _instant(first),
        readings[START] < _instant(end),
        readings[STATUS] != ReadingStatus.REJECTED.value,
        *(readings[TARIFF] != tariff.value for tariff in TariffPeriod if tariff.value not in PEAK_TARIFFS),
        *([readings[RECORDED_AT] <= as_of] if versioned and as_of is not None else []),
    )
    return rows.select(
        rows[key],
        _quarter_index(engine, rows[START]).name(QUARTER),
        rows[TARIFF],
        rows[VALUE].name("energy_wh"),
        (rows[STATUS] == ReadingStatus.ESTIMATED.value).cast("int64").name("estimated"),
        *([rows[RECORDED_AT].name(DATA_AS_OF)] if versioned else []),
        *([rows[BATCH]] if versioned and BATCH in readings.columns else []),
    )


@ibis.udf.scalar.builtin(name="epoch_us")  # type: ignore[untyped-decorator]
def _epoch_us(instant: datetime) -> int:  # type: ignore[empty-body]
    """DuckDB: the microseconds since 1970-01-01 UTC of an instant."""


@ibis.udf.scalar.builtin(name="divide")  # type: ignore[untyped-decorator]
def _divide(dividend: int, divisor: int) -> int:  # type: ignore[empty-body]
    """DuckDB: integer division, truncating (the ``//`` operator)."""


@ibis.udf.scalar.builtin(name="unix_micros")  # type: ignore[untyped-decorator]
def _unix_micros(instant: datetime) -> int:  # type: ignore[empty-body]
    """Spark: the microseconds since 1970-01-01 UTC of an instant."""


def _quarter_index(engine: str, start: ir.TimestampColumn) -> ir.IntegerColumn:
    """The quarter index of a quarter hour (quarter hours since 1970-01-01 UTC, as
    :func:`kwartier.billing.months.quarter_index`) from its UTC ``start``: microseconds since 1970 divided
    by 900,000,000. Every quarter hour that reaches the store or a billing file starts on the quarter-hour
    grid (capture refuses others: ``V07-OFF-GRID``, seed 001 art. 3.1.57), so the division is exact.

    On DuckDB the integer division of ``epoch_us``: Ibis's own ``epoch_seconds() // 900`` goes through a
    double and a floor, three times slower per row. On Spark ``unix_micros``."""
    if engine == "duckdb":
        return _divide(_epoch_us(start), _QUARTER_MICROS)
    return _unix_micros(start) // _QUARTER_MICROS


@contextmanager
def _one_aggregation(backend: Any) -> Iterator[None]:
    """Run the peaks' aggregations as one aggregation each. On a large input DuckDB's
    ``partitioned_execution`` optimizer splits an aggregation grouped by the key into a union of
    aggregations over ranges of the key, each scanning the input again: stage 1 on one month file of
    15,625 access points took 2.7–2.9 s that way, against 0.95–1.0 s as one aggregation."""
    if backend.name != "duckdb":
        yield
        return
    with without_optimizers(backend.con, "partitioned_execution"):
        yield


def _current_per_quarter(rows: ir.Table, key: str) -> ir.Table:
    """Per key and quarter of ``rows`` (:func:`_quarter_rows`): the energy [Wh] of the registers' current
    values added up, ``estimated`` (1 when one of them is) and, with versions, ``data_as_of`` (the latest
    recording among them).

    The current version of a value is the rule of :mod:`kwartier.store.versions`: the latest recording,
    on equal recordings the greatest batch. The rows' distinct versions (recording, batch: in the store
    one per batch, few, never null as ``STORED_READINGS`` requires) are numbered densely in that order and
    joined back; then one aggregation per key
    and quarter takes per register the MAX of an integer that orders by version first and carries the
    value: version × 2^41 + (energy + 2^39) × 2 + estimated. This is exact for |energy| < 2^38 Wh, which
    the ranked value of :func:`_per_month` requires too, and fewer than 2^22 versions (DuckDB raises an
    overflow error beyond). ``data_as_of`` is the MAX over all rows: a register's current version is its
    latest recording.

    Earlier ways, on the 15.4 million rows of the 5,000 corrected access points of a million: a window
    per value took 30 s, one window per key ordered by register, quarter and version 11.6 s; DuckDB's
    ``arg_max`` over the pair (recording, batch) ran out of the 4 GB memory limit. On 17.9 million rows
    of 6,000 access points read whole (one part): 6.4 s with the window per key, 4.8–5.2 s this way; a
    global ``dense_rank`` over the rows instead of over the distinct versions 8.2 s."""
    if DATA_AS_OF not in rows.columns:
        return rows.group_by(key, QUARTER).aggregate(
            energy_wh=rows.energy_wh.sum(), estimated=rows.estimated.max()
        )
    order = [name for name in (DATA_AS_OF, BATCH) if name in rows.columns]
    versions = rows.select(*order).distinct()
    numbered = versions.mutate(**{_VERSION: ibis.dense_rank().over(order_by=[versions[c] for c in order])})
    joined = rows.join(numbered, order)
    packed = joined[_VERSION] * _VERSION_SHIFT + (joined.energy_wh + _ENERGY_OFFSET) * 2 + joined.estimated
    latest = joined.group_by(key, QUARTER).aggregate(
        **{tariff: packed.max(where=joined[TARIFF] == tariff) for tariff in PEAK_TARIFFS},
        **{DATA_AS_OF: joined[DATA_AS_OF].max()},
    )
    values = [latest[tariff] & (_VERSION_SHIFT - 1) for tariff in PEAK_TARIFFS]
    energy = [((value >> 1) - _ENERGY_OFFSET).fill_null(0) for value in values]
    return latest.select(
        latest[key],
        latest[QUARTER],
        functools.reduce(operator.add, energy).name("energy_wh"),
        ibis.greatest(*[(value & 1).fill_null(0) for value in values]).name("estimated"),
        latest[DATA_AS_OF],
    )


def _instant(quarter: int) -> datetime:
    """The UTC start of quarter index ``quarter``."""
    return datetime.fromtimestamp(quarter * QUARTER_SECONDS, UTC)


@ibis.udf.agg.builtin(name="bitstring_agg")  # type: ignore[untyped-decorator]
def _bitstring_agg(value: int, low: int, high: int) -> str:  # type: ignore[empty-body]
    """DuckDB: a bit string with bit ``value − low`` set for each value in [low, high]."""


@ibis.udf.scalar.builtin(name="bit_count")  # type: ignore[untyped-decorator]
def _bit_count(bits: str) -> int:  # type: ignore[empty-body]
    """DuckDB: the set bits of a bit string."""


@ibis.udf.scalar.builtin(name="bitmap_bit_position")  # type: ignore[untyped-decorator]
def _bitmap_bit_position(value: int) -> int:  # type: ignore[empty-body]
    """Spark: the bit of ``value`` in its bitmap bucket, (value − 1) mod 32,768 for a positive value."""


@ibis.udf.agg.builtin(name="bitmap_construct_agg")  # type: ignore[untyped-decorator]
def _bitmap_construct_agg(position: int) -> bytes:  # type: ignore[empty-body]
    """Spark: a 32,768-bit bitmap with the bit of each ``position`` set."""


@ibis.udf.scalar.builtin(name="bitmap_count")  # type: ignore[untyped-decorator]
def _bitmap_count(bitmap: bytes) -> int:  # type: ignore[empty-body]
    """Spark: the set bits of a bitmap."""


def _distinct_quarters(engine: str, quarter: ir.IntegerColumn, first: int, end: int) -> ir.IntegerScalar:
    """The number of distinct quarter indexes in [first, end) (a month: at most 2,980), counted in a bit
    set per key where the engine has one: DuckDB's ``bitstring_agg`` (about 25 times faster there than
    ``COUNT(DISTINCT …)``) and Spark's ``bitmap_construct_agg`` (one bucket of 32,768 bits holds the
    month's quarters, numbered from 1); elsewhere ``COUNT(DISTINCT …)``."""
    if engine == "duckdb":
        return _bit_count(_bitstring_agg(quarter, first, end - 1))
    if engine == "pyspark":
        return _bitmap_count(_bitmap_construct_agg(_bitmap_bit_position(quarter - (first - 1))))
    return quarter.nunique()


def _per_month(
    rows: ir.Table,
    key: str,
    bound: tuple[int, int, int],
    *,
    repeats: str | None,
    one_version: bool = False,
    spans: bool = False,
) -> ir.Table:
    """Per key, for the month of ``bound``: the ranked maximum over quarter values, the counts, and the
    data version; with ``repeats`` (the engine's name) also ``repeated`` (:func:`_repeated`, with
    ``one_version`` as :func:`peak_candidates` has it), with ``spans`` the first and last quarter index."""
    ranked = (
        rows.energy_wh * POWER_PER_QUARTER_ENERGY * _QUARTER_SPAN + (_QUARTER_SPAN - 1 - rows[QUARTER])
    ) * 2
    aggregates: dict[str, Any] = {
        _RANKED: (ranked + rows.estimated).max(),
        QUARTERS: rows.energy_wh.count(),
        ESTIMATED_QUARTERS: rows.estimated.sum(),
    }
    if DATA_AS_OF in rows.columns:
        aggregates[DATA_AS_OF] = rows[DATA_AS_OF].max()
    if spans:
        aggregates[FIRST_QUARTER] = rows[QUARTER].min()
        aggregates[LAST_QUARTER] = rows[QUARTER].max()
    tests = {} if repeats is None else _repeat_aggregates(repeats, rows, bound, one_version=one_version)
    per_key = rows.group_by(key).aggregate(**aggregates, **tests)
    return per_key.select(
        key,
        ibis.literal(bound[0], "int64").name(MONTH_INDEX),
        *aggregates,
        *([_repeated(per_key).name(REPEATED)] if tests else []),
    )


def _repeat_aggregates(
    engine: str, rows: ir.Table, bound: tuple[int, int, int], *, one_version: bool
) -> dict[str, Any]:
    """The aggregates per key from which :func:`_repeated` tells whether a key may have two rows in one
    quarter of the month of ``bound``: the distinct quarters (:func:`_distinct_quarters`), or, on DuckDB
    with ``one_version``, the day-register rows and whether a row's register differs from the tariff
    clock's for its quarter (:func:`clock_bits`, looked up with ``get_bit``). On a month file of 15,625
    access points (46.6 M rows) counting distinct quarters costs about 0.28 s of the 0.82 s of stage 1,
    the clock 0.13 s. Spark counts distinct quarters either way."""
    _, first, end = bound
    if not (one_version and engine == "duckdb"):
        return {_DISTINCT_QUARTERS: _distinct_quarters(engine, rows[QUARTER], first, end)}
    day = (rows[TARIFF] == TariffPeriod.DAY.value).cast("int64")
    clock = _get_bit(ibis.literal(clock_bits(first, end)), (rows[QUARTER] - first).cast("int32"))
    return {_DAY_QUARTERS: day.sum(), _OFF_CLOCK: (day != clock).cast("int64").max()}


def _repeated(per_key: ir.Table) -> ir.BooleanColumn:
    """Whether a key may have two rows in one quarter, from :func:`_repeat_aggregates`.

    In general: more rows than distinct quarters. When no register has two rows in a quarter
    (``one_version``), two rows of a quarter are its day and its night row. That cannot be when all the
    key's rows are of one register, nor when every row's register is the one the tariff clock gives its
    quarter: by the clock a quarter is either day or night. Where the meter's registers follow another
    clock, the key is flagged and stage 2 reads it again: the test decides only the cost, never the
    result."""
    if _DISTINCT_QUARTERS in per_key.columns:
        repeated: ir.BooleanColumn = per_key[QUARTERS] != per_key[_DISTINCT_QUARTERS]
        return repeated
    day = per_key[_DAY_QUARTERS]
    mixed: ir.BooleanColumn = (per_key[_OFF_CLOCK] > 0) & (day > 0) & (day < per_key[QUARTERS])
    return mixed


@functools.lru_cache(maxsize=64)
def clock_bits(first: int, end: int) -> str:
    """The tariff clock over the quarter indexes [first, end) as a bit string: '1' for a quarter in the
    day period (:func:`~kwartier.domain.channels.tariff_period`: weekdays 07:00–22:00 local), '0' in
    the night period."""
    return "".join("1" if tariff_period(_instant(q)) == TariffPeriod.DAY else "0" for q in range(first, end))


@ibis.udf.scalar.builtin(name="get_bit")  # type: ignore[untyped-decorator]
def _get_bit(bits: str, index: int) -> int:  # type: ignore[empty-body]
    """DuckDB: bit ``index`` (0 or 1) of a bit string, counted from 0 at the left."""


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
