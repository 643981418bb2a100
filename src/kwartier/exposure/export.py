"""Export of one access point's readings: totals per quarter hour, hour, day or month as CSV, JSON or a
Mijn Fluvius file.

Rules (design.md "Energy", "Time"):
- the input is the current readings of ONE access point (``STORED_READINGS`` columns, status measured or
  estimated), as :meth:`kwartier.store.store.MeterStore.read_access_point` returns them;
- ``quarter`` keeps the stored intervals as they are: 15 min for electricity; gas is stored per hour, so
  ``quarter`` on gas gives the stored hours;
- ``hour``, ``day`` and ``month`` add up the integer Wh (dm³ for gas volume) per channel and tariff over
  Europe/Brussels clock hours, market days (00:00-24:00 local) and calendar months. For the gas channels
  days and months follow the gas day, 06:00-06:00 local: a gas day is named after the date it starts on,
  a gas month runs from 06:00 on its first day to 06:00 on the first day of the next month. Sums are
  exact integers: nothing is rounded before the edge;
- Belgian UTC offsets are whole hours, so a local clock hour is a UTC hour: the hour 02:00-03:00 that the
  autumn DST day holds twice gives two hourly rows with different UTC starts; that market day holds 100
  quarters (25 hours), the spring one 92 (23);
- every total says how many stored intervals it holds (``quarters``, whatever their length) and how many
  of them are estimates (``estimated``); its status is measured when none is, estimated when all are,
  partly-estimated otherwise;
- at the edges (csv, json) a value is kWh (m³ for gas volume) with exactly 3 decimals, the exact decimal
  form of the integer Wh (dm³), and times are ISO-8601 Brussels local time with UTC offset, end exclusive;
- the Mijn Fluvius format (:func:`kwartier.capture.mijn_fluvius.write_mijn_fluvius`) holds quarter-hour
  totals of electricity and hourly totals of gas only; a measured value is written validated (it passed
  the hub's validation), an estimated or partly-estimated one estimated.
"""

from __future__ import annotations

import csv
import json
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Final, TextIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kwartier.capture.mijn_fluvius import write_mijn_fluvius
from kwartier.domain.channels import Channel, Energy, ReadingStatus, Unit, energy_of, unit_of
from kwartier.domain.source_status import SourceStatus
from kwartier.domain.timegrid import BRUSSELS, GAS_DAY_START, HOUR, gas_day_bounds, market_day_bounds
from kwartier.schema import (
    AP,
    CHANNEL,
    EAN,
    MINUTES,
    SOURCE_STATUS,
    START,
    STATUS,
    STORED_READINGS,
    TARIFF,
    UTC_MICROS,
    VALUE,
)
from kwartier.store.layout import sorted_by

# columns of the totals (beside channel, tariff, start, value, status of kwartier.schema)
END: Final = "end"
QUARTERS: Final = "quarters"
ESTIMATED: Final = "estimated"
# columns of the edge formats only
UNIT: Final = "unit"
VALUE_WH: Final = "value_wh"
GRANULARITY: Final = "granularity"
UNIT_NOTE: Final = "unit_note"
ROWS: Final = "rows"


class Granularity(StrEnum):
    """The period one exported value covers."""

    QUARTER = "quarter"
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


class ExportFormat(StrEnum):
    """The file format of an export."""

    CSV = "csv"
    JSON = "json"
    MIJN_FLUVIUS = "mijn-fluvius"


class TotalStatus(StrEnum):
    """Status of a total: how many of the stored intervals in it are estimates."""

    MEASURED = "measured"
    ESTIMATED = "estimated"
    PARTLY_ESTIMATED = "partly-estimated"


TOTALS = pa.schema(
    [
        pa.field(CHANNEL, pa.string(), nullable=False),
        pa.field(TARIFF, pa.string(), nullable=False),
        pa.field(START, UTC_MICROS, nullable=False),
        pa.field(END, UTC_MICROS, nullable=False),  # exclusive
        pa.field(VALUE, pa.int64(), nullable=False),  # Wh, or dm³ for gas_volume
        pa.field(QUARTERS, pa.int64(), nullable=False),  # stored intervals in the total
        pa.field(ESTIMATED, pa.int64(), nullable=False),  # of which estimated
        pa.field(STATUS, pa.string(), nullable=False),  # TotalStatus value
    ]
)
"""Schema of :func:`aggregate`: one row per channel, tariff and period, sorted in that order."""

EDGE_COLUMNS: Final = (EAN, CHANNEL, TARIFF, START, END, VALUE, UNIT, STATUS, QUARTERS, ESTIMATED)
"""Header of the csv export; the json rows have the same fields but the EAN, plus ``value_wh``."""

UNIT_NOTE_TEXT: Final = (
    "value: kWh (m3 for channel gas_volume) with 3 decimals; value_wh: the same value as an exact integer "
    "in Wh (dm3 for gas_volume); start, end: Europe/Brussels local time with UTC offset, end exclusive; "
    "days and months of gas channels run from 06:00 to 06:00 local time (gas day)"
)
EDGE_UNITS: Final = {Unit.WH: "kWh", Unit.DM3: "m3"}
"""Unit written at the edge for each storage unit (1 kWh = 1000 Wh, 1 m³ = 1000 dm³)."""

_INPUT_COLUMNS: Final = (CHANNEL, TARIFF, START, MINUTES, VALUE, STATUS)
_GAS_CHANNELS: Final = pa.array([c.value for c in Channel if energy_of(c) is Energy.GAS], pa.string())
_GAS: Final = "_gas"
_INTERVAL_START: Final = "_interval_start"
_INTERVAL_END: Final = "_interval_end"
_DAY: Final = "_day"
_BRUSSELS_MICROS: Final = pa.timestamp("us", tz=str(BRUSSELS))
_MICROS_PER_MINUTE: Final = 60_000_000
_SOURCE_STATUS_OF: Final = {
    TotalStatus.MEASURED: SourceStatus.VALIDATED,
    TotalStatus.ESTIMATED: SourceStatus.ESTIMATED,
    TotalStatus.PARTLY_ESTIMATED: SourceStatus.ESTIMATED,
}


def period_bounds(day: date, granularity: Granularity, energy: Energy) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the day or month that opens on ``day`` (for a month: any day of it).

    Electricity: market day 00:00-24:00 local, calendar month from local midnight on the 1st. Gas: the gas
    day starting 06:00 local on ``day``, the gas month from 06:00 local on the 1st to 06:00 on the next 1st.
    """
    if granularity is Granularity.DAY:
        first, following = day, day + timedelta(days=1)
    elif granularity is Granularity.MONTH:
        first = day.replace(day=1)
        following = (first + timedelta(days=31)).replace(day=1)
    else:
        raise ValueError(f"period_bounds is for days and months, not {granularity!r}")
    opening = gas_day_bounds if energy is Energy.GAS else market_day_bounds
    return opening(first)[0], opening(following)[0]


def aggregate(readings: pa.Table, granularity: Granularity) -> pa.Table:
    """Totals (schema :data:`TOTALS`) of the current readings of one access point per channel, tariff
    and period of ``granularity`` (see the module rules), sorted by channel, tariff and start.

    Raises ``ValueError`` for readings of several access points, several versions of one interval, a
    status other than measured or estimated, or an interval that does not fit in one period.
    """
    granularity = Granularity(granularity)
    if granularity is Granularity.QUARTER:
        return _per_interval(readings)
    rows = _checked(readings)
    if rows.num_rows == 0:
        return TOTALS.empty_table()
    length = pc.multiply(rows[MINUTES].cast(pa.int64()), _MICROS_PER_MINUTE).cast(pa.duration("us"))
    rows = rows.append_column(_INTERVAL_START, rows[START]).append_column(
        _INTERVAL_END, pc.add(rows[START], length)
    )
    if granularity is Granularity.HOUR:
        hours = pc.floor_temporal(rows[START], unit="hour")
        periods = rows.set_column(rows.schema.get_field_index(START), START, hours).append_column(
            END, pc.add(hours, pa.scalar(HOUR, pa.duration("us")))
        )
    else:
        periods = _with_day_or_month(rows, granularity)
    too_long = periods.filter(pc.greater(periods[_INTERVAL_END], periods[END]))
    if too_long.num_rows:
        first = too_long.slice(0, 1).to_pylist()[0]
        raise ValueError(
            f"the interval of {first[MINUTES]} minutes starting {first[_INTERVAL_START]} does not fit in one "
            f"{granularity}: export it at a coarser granularity"
        )
    estimated = pc.equal(periods[STATUS], ReadingStatus.ESTIMATED.value).cast(pa.int64())
    totals = (
        periods.select([CHANNEL, TARIFF, START, END, VALUE])
        .append_column(ESTIMATED, estimated)
        .group_by([CHANNEL, TARIFF, START, END], use_threads=False)
        .aggregate([(VALUE, "sum"), (VALUE, "count"), (ESTIMATED, "sum")])
    )
    quarters, estimates = totals[f"{VALUE}_count"], totals[f"{ESTIMATED}_sum"]
    status = pc.if_else(
        pc.equal(estimates, 0),
        TotalStatus.MEASURED.value,
        pc.if_else(
            pc.equal(estimates, quarters), TotalStatus.ESTIMATED.value, TotalStatus.PARTLY_ESTIMATED.value
        ),
    )
    result = pa.table(
        [
            totals[CHANNEL],
            totals[TARIFF],
            totals[START],
            totals[END],
            totals[f"{VALUE}_sum"],
            quarters,
            estimates,
            status,
        ],
        schema=TOTALS,
    )
    return result.sort_by([(CHANNEL, "ascending"), (TARIFF, "ascending"), (START, "ascending")])


def export_readings(
    readings: pa.Table,
    *,
    ean: str,
    meter: str,
    energy: Energy,
    granularity: Granularity,
    fmt: ExportFormat,
    out: TextIO,
    language: str = "en",
) -> int:
    """Write the totals of ``readings`` (current readings of the access point ``ean``) to ``out``;
    returns the number of data rows written.

    ``csv``: header :data:`EDGE_COLUMNS`, one line per total, ``\\n`` line ends. ``json``: one document
    ``{"ean", "granularity", "unit_note", "rows": [...]}``, values as JSON numbers with 3 decimals. Both
    take the module's edge rules. ``mijn-fluvius``: the portal's customer export (``meter`` and
    ``language``, ``en`` or ``nl``, are used only there; open ``out`` with ``newline=""`` for its CRLF),
    only at granularity quarter for electricity and hour for gas. Raises ``ValueError`` for another
    granularity in that format, or for a channel that is not of ``energy``.
    """
    energy, granularity, fmt = Energy(energy), Granularity(granularity), ExportFormat(fmt)
    foreign = sorted({c for c in _channels(readings) if energy_of(c) is not energy})
    if foreign:
        raise ValueError(
            f"channels {[str(c) for c in foreign]} are not {energy}: the access point is {energy}"
        )
    if fmt is ExportFormat.MIJN_FLUVIUS:
        native = Granularity.QUARTER if energy is Energy.ELECTRICITY else Granularity.HOUR
        if granularity is not native:
            raise ValueError(
                f"the Mijn Fluvius format holds {native} totals of {energy}, not {granularity} totals: "
                f"export {energy} with granularity {native!r}, or choose format csv or json"
            )
    totals = aggregate(readings, granularity)
    if fmt is ExportFormat.CSV:
        _write_csv(totals, ean, out)
    elif fmt is ExportFormat.JSON:
        _write_json(totals, ean, granularity, out)
    else:
        write_mijn_fluvius(_as_mijn_fluvius(totals), ean, meter, energy, out, language=language)
    return int(totals.num_rows)


def decimal_text(thousandths: int) -> str:
    """Integer Wh (dm³) as kWh (m³) with exactly 3 decimals and a decimal point: 1234 → '1.234'."""
    sign = "-" if thousandths < 0 else ""
    whole, fraction = divmod(abs(thousandths), 1000)
    return f"{sign}{whole}.{fraction:03d}"


def _per_interval(readings: pa.Table) -> pa.Table:
    """:func:`aggregate` at granularity quarter: every current reading is its own total (no grouping)."""
    rows = sorted_by(_checked(readings, repeats=False), (CHANNEL, TARIFF, START))
    if rows.num_rows == 0:
        return TOTALS.empty_table()
    same = [
        pc.equal(rows[key].slice(1), rows[key].slice(0, rows.num_rows - 1))
        for key in (CHANNEL, TARIFF, START)
    ]
    repeated = pc.and_(pc.and_(same[0], same[1]), same[2])
    if pc.any(repeated).as_py():
        at = pc.index(repeated, True).as_py()
        raise ValueError(
            f"{rows[CHANNEL][at]} {rows[TARIFF][at]} starting {rows[START][at]} has several versions: "
            "export the current readings (MeterStore.read_access_point), not every version"
        )
    length = pc.multiply(rows[MINUTES].cast(pa.int64()), _MICROS_PER_MINUTE).cast(pa.duration("us"))
    estimated = pc.equal(rows[STATUS], ReadingStatus.ESTIMATED.value)
    status = pc.if_else(estimated, TotalStatus.ESTIMATED.value, TotalStatus.MEASURED.value)
    columns = [rows[CHANNEL], rows[TARIFF], rows[START], pc.add(rows[START], length), rows[VALUE]]
    ones = pa.array(np.ones(rows.num_rows, dtype=np.int64))
    return pa.table([*columns, ones, estimated.cast(pa.int64()), status], schema=TOTALS)


def _checked(readings: pa.Table, *, repeats: bool = True) -> pa.Table:
    """The input columns of ``readings``, typed, once checked to be current readings of one access point
    (``repeats``: also that no interval has several versions; :func:`_per_interval` checks it itself)."""
    missing = [name for name in _INPUT_COLUMNS if name not in readings.column_names]
    if missing:
        raise ValueError(f"readings lack the columns {missing}")
    if AP in readings.column_names:
        aps = pc.unique(readings[AP]).to_pylist()
        if len(aps) > 1:
            raise ValueError(f"readings of {len(aps)} access points: export one access point at a time")
    statuses = set(pc.unique(readings[STATUS]).to_pylist())
    others = statuses - {ReadingStatus.MEASURED.value, ReadingStatus.ESTIMATED.value}
    if others:
        raise ValueError(
            f"statuses {sorted(map(str, others))}: only current measured or estimated values count"
        )
    _channels(readings)
    rows = readings.select(list(_INPUT_COLUMNS)).cast(
        pa.schema([STORED_READINGS.field(n) for n in _INPUT_COLUMNS])
    )
    if not repeats:
        return rows
    keys = rows.group_by([CHANNEL, TARIFF, START], use_threads=False).aggregate([(VALUE, "count")])
    repeated = pc.greater(keys[f"{VALUE}_count"], 1)
    if pc.any(repeated).as_py():
        first = keys.filter(repeated).slice(0, 1).to_pylist()[0]
        versions = first[f"{VALUE}_count"]
        raise ValueError(
            f"{first[CHANNEL]} {first[TARIFF]} starting {first[START]} has {versions} versions: export the "
            "current readings (MeterStore.read_access_point), not every version"
        )
    return rows


def _channels(readings: pa.Table) -> set[Channel]:
    """The channels of ``readings``; ``ValueError`` for an unknown one."""
    names = pc.unique(readings[CHANNEL]).to_pylist() if CHANNEL in readings.column_names else []
    known = {c.value for c in Channel}
    unknown = sorted(set(names) - known)
    if unknown:
        raise ValueError(f"unknown channels {unknown}: known are {sorted(known)}")
    return {Channel(name) for name in names}


def _with_day_or_month(rows: pa.Table, granularity: Granularity) -> pa.Table:
    """``rows`` with ``start`` and ``end`` replaced by those of their market (or gas) day or month.

    The day of an interval is the Brussels wall-clock date of its start, minus 6 hours for gas (wall-clock
    arithmetic, as :func:`kwartier.domain.timegrid.gas_day_of`); the bounds of each distinct day come from
    :func:`period_bounds`.
    """
    local = pc.local_timestamp(rows[START].cast(_BRUSSELS_MICROS))
    gas = pc.is_in(rows[CHANNEL], value_set=_GAS_CHANNELS)
    gas_shift = pa.scalar(timedelta(hours=GAS_DAY_START.hour), pa.duration("us"))
    days = pc.if_else(gas, pc.subtract(local, gas_shift), local).cast(pa.date32())
    keyed = rows.drop_columns([START]).append_column(_GAS, gas).append_column(_DAY, days)
    distinct = keyed.select([_GAS, _DAY]).group_by([_GAS, _DAY], use_threads=False).aggregate([]).to_pylist()
    bounds = [
        period_bounds(key[_DAY], granularity, Energy.GAS if key[_GAS] else Energy.ELECTRICITY)
        for key in distinct
    ]
    periods = pa.table(
        {
            _GAS: pa.array([key[_GAS] for key in distinct], pa.bool_()),
            _DAY: pa.array([key[_DAY] for key in distinct], pa.date32()),
            START: pa.array([start for start, _ in bounds], UTC_MICROS),
            END: pa.array([end for _, end in bounds], UTC_MICROS),
        }
    )
    return keyed.join(periods, keys=[_GAS, _DAY], join_type="inner", use_threads=False)


def _edge_unit(channel: str) -> str:
    return EDGE_UNITS[unit_of(Channel(channel))]


def _local_iso(instant: datetime) -> str:
    return instant.astimezone(BRUSSELS).isoformat()


def _write_csv(totals: pa.Table, ean: str, out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EDGE_COLUMNS)
    for row in totals.to_pylist():
        writer.writerow(
            [
                ean,
                row[CHANNEL],
                row[TARIFF],
                _local_iso(row[START]),
                _local_iso(row[END]),
                decimal_text(row[VALUE]),
                _edge_unit(row[CHANNEL]),
                row[STATUS],
                row[QUARTERS],
                row[ESTIMATED],
            ]
        )


def _write_json(totals: pa.Table, ean: str, granularity: Granularity, out: TextIO) -> None:
    """One JSON document, one row per line; the value is written as its exact 3-decimal text."""
    head = {EAN: ean, GRANULARITY: granularity.value, UNIT_NOTE: UNIT_NOTE_TEXT}
    out.write(json.dumps(head, ensure_ascii=False)[:-1] + f', "{ROWS}": [')
    for number, row in enumerate(totals.to_pylist()):
        fields = [
            (CHANNEL, json.dumps(row[CHANNEL])),
            (TARIFF, json.dumps(row[TARIFF])),
            (START, json.dumps(_local_iso(row[START]))),
            (END, json.dumps(_local_iso(row[END]))),
            (VALUE, decimal_text(row[VALUE])),
            (VALUE_WH, json.dumps(row[VALUE])),
            (UNIT, json.dumps(_edge_unit(row[CHANNEL]))),
            (STATUS, json.dumps(row[STATUS])),
            (QUARTERS, json.dumps(row[QUARTERS])),
            (ESTIMATED, json.dumps(row[ESTIMATED])),
        ]
        separator = "," if number else ""
        out.write(separator + "\n{" + ", ".join(f"{json.dumps(name)}: {text}" for name, text in fields) + "}")
    out.write("\n]}\n")


def _as_mijn_fluvius(totals: pa.Table) -> pa.Table:
    """The totals as the rows :func:`write_mijn_fluvius` takes (minutes, source_status)."""
    minutes = pc.divide(pc.subtract(totals[END], totals[START]).cast(pa.int64()), _MICROS_PER_MINUTE)
    source_status = [_SOURCE_STATUS_OF[TotalStatus(s)].value for s in totals[STATUS].to_pylist()]
    return pa.table(
        {
            CHANNEL: totals[CHANNEL],
            TARIFF: totals[TARIFF],
            START: totals[START],
            MINUTES: minutes.cast(pa.int16()),
            VALUE: totals[VALUE],
            SOURCE_STATUS: pa.array(source_status, pa.string()),
        }
    )
