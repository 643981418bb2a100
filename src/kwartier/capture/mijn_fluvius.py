"""The Mijn Fluvius customer export: consumption history per quarter hour (electricity) or hour (gas).

Source: the CSV a grid user downloads from the Flemish DSO portal "Mijn Fluvius" (samples in
``/work/shared/samples/mijn-fluvius``). Three header generations exist, recognised by their header,
never by the file name:

- old Dutch: ``Van datum;Van tijdstip;Tot datum;Tot tijdstip;EAN;Meter;Metertype;Register;Volume;
  Eenheid;Validatiestatus`` (gas: ``EAN-code`` and a trailing ``Calorische Bovenwaarde``);
- new Dutch: ``Van (datum);Van (tijdstip);Tot (datum);Tot (tijdstip);EAN-code;…;Validatiestatus;
  Omschrijving`` (gas: ``Calorische bovenwaarde`` before ``Omschrijving``);
- English: ``From (date);From (time);Until (date);Until (time);EAN code;Meter;Meter type;Register;
  Volume;Unit;Validation status;Description`` (gas: ``Caloric upper value`` before ``Description``).

Rules:
- UTF-8 with a BOM, ``;`` separator, decimal comma, the EAN written as ``="…"``, CRLF or LF;
- ``Volume`` is in kWh (electricity, gas energy) or m³ (gas volume) with 3 decimals and becomes integer
  Wh or dm³ exactly (:func:`kwartier.domain.channels.kwh_to_wh`; m³ → dm³ is the same × 1000);
- an empty ``Volume`` is a missing value (``Geen verbruik`` / ``No consumption``): no row, never 0;
- times are Brussels wall-clock. On the autumn DST day the hour 02:00-02:59 occurs twice and the
  file interleaves the two passes per interval (``02:00`` summer, ``02:00`` winter, ``02:15`` summer, …;
  the first pass's ``02:45`` row ends at ``02:00``): the first occurrence of (date, time, register,
  unit) is summer time, the second winter time. An interval ends at the first instant after its start
  that has the until wall-clock time, so ``minutes`` is 15 or 60 also across the DST changes;
- the anonymised EANs of customer exports may fail the GS1 check digit: the rows are kept and the file
  gets one warning per such EAN.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TextIO

import pyarrow as pa

from kwartier.capture.quarantine import InputFormatError, Rejection
from kwartier.capture.result import CaptureResult
from kwartier.domain.channels import Channel, Energy, TariffPeriod, energy_of, kwh_to_wh
from kwartier.domain.ean import EAN_LENGTH, is_valid_ean
from kwartier.domain.source_status import SourceStatus
from kwartier.domain.timegrid import BRUSSELS, HOUR_MINUTES, QUARTER_MINUTES, is_on_grid, local_to_utc
from kwartier.schema import (
    CAPTURED_READINGS,
    CHANNEL,
    EAN,
    LINE,
    METER,
    MINUTES,
    SOURCE_STATUS,
    START,
    TARIFF,
    VALUE,
)

FORMAT = "mijn-fluvius"
SEPARATOR = ";"
BOM = "\ufeff"
KWH = "kWh"
CUBIC_METRE = "m³"


class _Column(StrEnum):
    """The meaning of a column, whatever the language of its header."""

    FROM_DATE = "from_date"
    FROM_TIME = "from_time"
    UNTIL_DATE = "until_date"
    UNTIL_TIME = "until_time"
    EAN = "ean"
    METER = "meter"
    METER_TYPE = "meter_type"
    REGISTER = "register"
    VOLUME = "volume"
    UNIT = "unit"
    STATUS = "status"
    CALORIFIC = "calorific"
    DESCRIPTION = "description"


_REQUIRED = frozenset(_Column) - {_Column.METER_TYPE, _Column.CALORIFIC, _Column.DESCRIPTION}

_C = _Column
# Header names (lower case) of each generation and what they mean.
_GENERATIONS: dict[str, dict[str, _Column]] = {
    "old Dutch": {
        "van datum": _C.FROM_DATE,
        "van tijdstip": _C.FROM_TIME,
        "tot datum": _C.UNTIL_DATE,
        "tot tijdstip": _C.UNTIL_TIME,
        "ean": _C.EAN,
        "ean-code": _C.EAN,
        "meter": _C.METER,
        "metertype": _C.METER_TYPE,
        "register": _C.REGISTER,
        "volume": _C.VOLUME,
        "eenheid": _C.UNIT,
        "validatiestatus": _C.STATUS,
        "calorische bovenwaarde": _C.CALORIFIC,
    },
    "new Dutch": {
        "van (datum)": _C.FROM_DATE,
        "van (tijdstip)": _C.FROM_TIME,
        "tot (datum)": _C.UNTIL_DATE,
        "tot (tijdstip)": _C.UNTIL_TIME,
        "ean": _C.EAN,
        "ean-code": _C.EAN,
        "meter": _C.METER,
        "metertype": _C.METER_TYPE,
        "register": _C.REGISTER,
        "volume": _C.VOLUME,
        "eenheid": _C.UNIT,
        "validatiestatus": _C.STATUS,
        "calorische bovenwaarde": _C.CALORIFIC,
        "omschrijving": _C.DESCRIPTION,
    },
    "English": {
        "from (date)": _C.FROM_DATE,
        "from (time)": _C.FROM_TIME,
        "until (date)": _C.UNTIL_DATE,
        "until (time)": _C.UNTIL_TIME,
        "ean code": _C.EAN,
        "meter": _C.METER,
        "meter type": _C.METER_TYPE,
        "register": _C.REGISTER,
        "volume": _C.VOLUME,
        "unit": _C.UNIT,
        "validation status": _C.STATUS,
        "caloric upper value": _C.CALORIFIC,
        "description": _C.DESCRIPTION,
    },
}

# Register names (lower case, single spaces) → channel and tariff; plain offtake is gas, by unit.
_ELECTRICITY_REGISTERS: dict[str, tuple[Channel, TariffPeriod]] = {
    "afname dag": (Channel.OFFTAKE, TariffPeriod.DAY),
    "offtake day": (Channel.OFFTAKE, TariffPeriod.DAY),
    "afname nacht": (Channel.OFFTAKE, TariffPeriod.NIGHT),
    "offtake night": (Channel.OFFTAKE, TariffPeriod.NIGHT),
    "afname exclusief nacht": (Channel.OFFTAKE, TariffPeriod.EXCLUSIVE_NIGHT),
    "offtake exclusive night": (Channel.OFFTAKE, TariffPeriod.EXCLUSIVE_NIGHT),
    "injectie dag": (Channel.INJECTION, TariffPeriod.DAY),
    "injection day": (Channel.INJECTION, TariffPeriod.DAY),
    "injectie nacht": (Channel.INJECTION, TariffPeriod.NIGHT),
    "injection night": (Channel.INJECTION, TariffPeriod.NIGHT),
}
_GAS_REGISTERS = frozenset({"afname", "offtake"})
_GAS_CHANNEL_BY_UNIT = {"kwh": Channel.GAS_ENERGY, "m³": Channel.GAS_VOLUME, "m3": Channel.GAS_VOLUME}

_STATUSES: dict[str, SourceStatus] = {
    "gevalideerd": SourceStatus.VALIDATED,
    "validated": SourceStatus.VALIDATED,
    "uitgelezen": SourceStatus.READ,
    "read": SourceStatus.READ,
    "geschat": SourceStatus.ESTIMATED,
    "estimated": SourceStatus.ESTIMATED,
}

_DATE = re.compile(r"(\d{1,2})[-/](\d{1,2})[-/](\d{4})")
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_EAN_FORMULA = re.compile(r'="?([^"]*)"?')


class _RowError(ValueError):
    """A row that cannot be read, with the header name of the offending field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class _Header:
    """A recognised header: its generation, the number of columns and where each meaning sits."""

    generation: str
    names: tuple[str, ...]
    index: dict[_Column, int]

    def cell(self, cells: list[str], column: _Column) -> str:
        return cells[self.index[column]].strip()

    def name(self, column: _Column) -> str:
        return self.names[self.index[column]]


def _recognise_header(names: list[str]) -> _Header | None:
    """The generation whose column names are exactly those of ``names``, or None."""
    keys = [name.strip().lower() for name in names]
    for generation, meanings in _GENERATIONS.items():
        if not all(key in meanings for key in keys):
            continue
        index = {meanings[key]: position for position, key in enumerate(keys)}
        if len(index) == len(keys) and index.keys() >= _REQUIRED:
            return _Header(generation, tuple(name.strip() for name in names), index)
    return None


def _split(line: str) -> list[str]:
    return next(csv.reader([line], delimiter=SEPARATOR))


def _parse_date(text: str, field: str) -> date:
    match = _DATE.fullmatch(text)
    if match is None:
        raise _RowError(field, f"{text!r} is not a date dd-mm-yyyy or dd/mm/yyyy")
    day, month, year = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError as error:
        raise _RowError(field, f"{text!r} is not a date: {error}") from None


def _parse_time(text: str, field: str) -> time:
    match = _TIME.fullmatch(text)
    if match is None:
        raise _RowError(field, f"{text!r} is not a time hh:mm:ss")
    hour, minute, second = (int(part or 0) for part in match.groups())
    try:
        return time(hour, minute, second)
    except ValueError as error:
        raise _RowError(field, f"{text!r} is not a time: {error}") from None


def _channel_of(register: str, unit: str) -> tuple[Channel, TariffPeriod]:
    """Channel and tariff of a register name and unit (see the module rules)."""
    key = " ".join(register.lower().split())
    if key in _ELECTRICITY_REGISTERS:
        if unit.lower() != KWH.lower():
            raise ValueError(f"register {register!r} is electricity and must be in kWh, not {unit!r}")
        return _ELECTRICITY_REGISTERS[key]
    if key in _GAS_REGISTERS:
        channel = _GAS_CHANNEL_BY_UNIT.get(unit.lower())
        if channel is None:
            raise ValueError(f"gas register {register!r} must be in kWh or m³, not {unit!r}")
        return channel, TariffPeriod.TOTAL
    raise ValueError(f"unknown register {register!r}")


def _end_utc(until_day: date, until_time: time, start: datetime) -> datetime:
    """The first instant after ``start`` showing wall-clock ``until_day until_time`` in Brussels."""
    candidates = []
    for first_pass in (True, False):
        try:
            candidates.append(local_to_utc(until_day, until_time, first_pass=first_pass))
        except ValueError:
            raise ValueError(f"{until_day} {until_time} does not exist (spring DST gap)") from None
    after = [instant for instant in candidates if instant > start]
    if not after:
        raise ValueError(f"{until_day} {until_time} is not after the start of the interval")
    return min(after)


@dataclass(frozen=True)
class _Reading:
    line: int
    ean: str
    meter: str | None
    channel: Channel
    tariff: TariffPeriod
    start: datetime
    minutes: int
    value: int
    status: SourceStatus


class _RowReader:
    """Reads the data rows of one file, remembering the wall-clock intervals already seen."""

    def __init__(self, header: _Header) -> None:
        self.header = header
        self.seen: dict[tuple[date, time, str, str], list[int]] = {}

    def read(self, line: int, cells: list[str]) -> _Reading | None:
        """The reading of a data row, None when its volume is empty; raises :class:`_RowError`."""
        header = self.header
        if len(cells) != len(header.names):
            raise _RowError("row", f"{len(cells)} fields where the header has {len(header.names)}")
        from_day = _parse_date(header.cell(cells, _C.FROM_DATE), header.name(_C.FROM_DATE))
        from_time = _parse_time(header.cell(cells, _C.FROM_TIME), header.name(_C.FROM_TIME))
        until_day = _parse_date(header.cell(cells, _C.UNTIL_DATE), header.name(_C.UNTIL_DATE))
        until_time = _parse_time(header.cell(cells, _C.UNTIL_TIME), header.name(_C.UNTIL_TIME))
        register, unit = header.cell(cells, _C.REGISTER), header.cell(cells, _C.UNIT)
        try:
            channel, tariff = _channel_of(register, unit)
        except ValueError as error:
            raise _RowError(header.name(_C.REGISTER), str(error)) from None
        start = self._start(line, from_day, from_time, register.lower(), unit.lower())
        try:
            end = _end_utc(until_day, until_time, start)
        except ValueError as error:
            raise _RowError(header.name(_C.UNTIL_TIME), str(error)) from None
        minutes = int((end - start) / timedelta(minutes=1))
        if minutes not in (QUARTER_MINUTES, HOUR_MINUTES) or not is_on_grid(start, minutes):
            raise _RowError(
                header.name(_C.UNTIL_TIME),
                f"interval {from_day} {from_time}-{until_day} {until_time} is not a quarter hour or an hour"
                " on the grid",
            )
        volume = header.cell(cells, _C.VOLUME)
        if not volume:
            return None
        status_text = header.cell(cells, _C.STATUS)
        status = _STATUSES.get(status_text.lower())
        if status is None:
            raise _RowError(header.name(_C.STATUS), f"status {status_text!r} is not one carrying a value")
        try:
            value = kwh_to_wh(volume)
        except ValueError as error:
            raise _RowError(header.name(_C.VOLUME), str(error)) from None
        ean = self._ean(header.cell(cells, _C.EAN))
        meter = header.cell(cells, _C.METER) or None
        return _Reading(line, ean, meter, channel, tariff, start, minutes, value, status)

    def _start(self, line: int, day: date, wall_clock: time, register: str, unit: str) -> datetime:
        """UTC start: the first occurrence of the interval is summer time, the second winter time."""
        field = self.header.name(_C.FROM_TIME)
        lines = self.seen.setdefault((day, wall_clock, register, unit), [])
        lines.append(line)
        try:
            first = local_to_utc(day, wall_clock, first_pass=True)
            if len(lines) == 1:
                return first
            second = local_to_utc(day, wall_clock, first_pass=False)
        except ValueError as error:
            raise _RowError(field, str(error)) from None
        if len(lines) > 2 or first == second:
            raise _RowError(field, f"the same interval and register as line {lines[0]}")
        return second

    def _ean(self, text: str) -> str:
        match = _EAN_FORMULA.fullmatch(text)
        ean = (match.group(1) if match else text).strip()
        if len(ean) != EAN_LENGTH or not ean.isascii() or not ean.isdigit():
            raise _RowError(self.header.name(_C.EAN), f"{text!r} is not an EAN of {EAN_LENGTH} digits")
        return ean


def _readings_table(readings: list[_Reading]) -> pa.Table:
    return pa.table(
        {
            LINE: [r.line for r in readings],
            EAN: [r.ean for r in readings],
            METER: [r.meter for r in readings],
            CHANNEL: [r.channel.value for r in readings],
            TARIFF: [r.tariff.value for r in readings],
            START: [r.start for r in readings],
            MINUTES: [r.minutes for r in readings],
            VALUE: [r.value for r in readings],
            SOURCE_STATUS: [r.status.value for r in readings],
        },
        schema=CAPTURED_READINGS,
    )


def read_mijn_fluvius(path: Path) -> CaptureResult:
    """Read a Mijn Fluvius export into interval values (Wh, dm³ for gas volume), keyed by EAN.

    Rows that cannot be read become :class:`Rejection` s naming the file, the 1-based physical line
    (header = line 1) and the column; the other rows are kept. Raises :class:`InputFormatError` when the
    file is not UTF-8 or its header is none of the three generations.
    """
    file = str(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputFormatError(file, f"not UTF-8 text: {error}") from None
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    header = _recognise_header(_split(lines[0]) if lines[0] else [])
    if header is None:
        raise InputFormatError(file, f"not a Mijn Fluvius export: unknown header {lines[0][:120]!r}", 1)
    reader = _RowReader(header)
    readings: list[_Reading] = []
    rejections: list[Rejection] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            reading = reader.read(number, _split(line))
        except _RowError as error:
            rejections.append(Rejection(file, number, error.field, error.reason, raw=line))
            continue
        if reading is not None:
            readings.append(reading)
    invalid = sorted({r.ean for r in readings if not is_valid_ean(r.ean)})
    warnings = [
        f"{file}: EAN {ean} fails the GS1 check digit (anonymised export?); its rows are kept"
        for ean in invalid
    ]
    return CaptureResult(
        file=file,
        format=FORMAT,
        readings=_readings_table(readings),
        rejections=rejections,
        warnings=warnings,
    )


# --- writing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Language:
    """The words of one header generation the writer produces."""

    electricity_header: tuple[str, ...]
    gas_header: tuple[str, ...]
    date_format: str
    meter_type: str
    registers: dict[tuple[Channel, TariffPeriod], str]
    statuses: dict[SourceStatus, str]


# fmt: off
_ENGLISH = _Language(
    electricity_header=(
        "From (date)", "From (time)", "Until (date)", "Until (time)", "EAN code", "Meter", "Meter type",
        "Register", "Volume", "Unit", "Validation status", "Description",
    ),
    gas_header=(
        "From (date)", "From (time)", "Until (date)", "Until (time)", "EAN code", "Meter", "Meter type",
        "Register", "Volume", "Unit", "Validation status", "Caloric upper value", "Description",
    ),
    date_format="%d/%m/%Y",
    meter_type="Digital meter",
    # the order of the real files within one interval: offtake before injection, m³ before kWh
    registers={
        (Channel.OFFTAKE, TariffPeriod.DAY): "Offtake Day",
        (Channel.OFFTAKE, TariffPeriod.NIGHT): "Offtake Night",
        (Channel.OFFTAKE, TariffPeriod.EXCLUSIVE_NIGHT): "Offtake Exclusive Night",
        (Channel.INJECTION, TariffPeriod.DAY): "Injection Day",
        (Channel.INJECTION, TariffPeriod.NIGHT): "Injection Night",
        (Channel.GAS_VOLUME, TariffPeriod.TOTAL): "Offtake",
        (Channel.GAS_ENERGY, TariffPeriod.TOTAL): "Offtake",
    },
    statuses={
        SourceStatus.VALIDATED: "Validated",
        SourceStatus.READ: "Read",
        SourceStatus.ESTIMATED: "Estimated",
    },
)

_OLD_DUTCH = _Language(
    electricity_header=(
        "Van datum", "Van tijdstip", "Tot datum", "Tot tijdstip", "EAN", "Meter", "Metertype", "Register",
        "Volume", "Eenheid", "Validatiestatus",
    ),
    gas_header=(
        "Van datum", "Van tijdstip", "Tot datum", "Tot tijdstip", "EAN-code", "Meter", "Metertype",
        "Register", "Volume", "Eenheid", "Validatiestatus", "Calorische Bovenwaarde",
    ),
    date_format="%d-%m-%Y",
    meter_type="Digitale Meter",
    # the order of the real files within one interval: offtake before injection, kWh before m³
    registers={
        (Channel.OFFTAKE, TariffPeriod.DAY): "Afname Dag",
        (Channel.OFFTAKE, TariffPeriod.NIGHT): "Afname Nacht",
        (Channel.OFFTAKE, TariffPeriod.EXCLUSIVE_NIGHT): "Afname Exclusief Nacht",
        (Channel.INJECTION, TariffPeriod.DAY): "Injectie Dag",
        (Channel.INJECTION, TariffPeriod.NIGHT): "Injectie Nacht",
        (Channel.GAS_ENERGY, TariffPeriod.TOTAL): "Afname",
        (Channel.GAS_VOLUME, TariffPeriod.TOTAL): "Afname",
    },
    statuses={
        SourceStatus.VALIDATED: "Gevalideerd",
        SourceStatus.READ: "Uitgelezen",
        SourceStatus.ESTIMATED: "Geschat",
    },
)
# fmt: on

LANGUAGES: dict[str, _Language] = {"en": _ENGLISH, "nl": _OLD_DUTCH}


def _decimal_comma(thousandths: int) -> str:
    """Integer Wh (dm³) as kWh (m³) with 3 decimals and a decimal comma: 173 → '0,173'."""
    sign = "-" if thousandths < 0 else ""
    whole, fraction = divmod(abs(thousandths), 1000)
    return f"{sign}{whole},{fraction:03d}"


def write_mijn_fluvius(
    rows: pa.Table, ean: str, meter: str, energy: Energy, out: TextIO, *, language: str = "en"
) -> None:
    """Write interval values as a Mijn Fluvius export, English (``en``) or old Dutch (``nl``) header.

    ``rows`` has the columns channel, tariff, start (UTC), minutes, value (Wh, dm³ for gas volume) and
    source_status. Rows are ordered by Brussels wall-clock start, the summer pass of a repeated autumn
    interval before its winter pass (so the two passes interleave as in the real files), then by
    register. Volumes have 3 decimals and a decimal comma; the file starts with a BOM and its lines end
    with CRLF (open ``out`` with ``newline=""``). Raises ``ValueError`` for a channel of another energy.
    """
    words = LANGUAGES.get(language)
    if words is None:
        raise ValueError(f"language {language!r}: choose one of {sorted(LANGUAGES)}")
    header = words.electricity_header if energy is Energy.ELECTRICITY else words.gas_header
    order = {key: rank for rank, key in enumerate(words.registers)}
    keyed = []
    for row in rows.select([CHANNEL, TARIFF, START, MINUTES, VALUE, SOURCE_STATUS]).to_pylist():
        channel, tariff = Channel(row[CHANNEL]), TariffPeriod(row[TARIFF])
        if energy_of(channel) is not energy or (channel, tariff) not in order:
            raise ValueError(f"channel {channel} tariff {tariff} is not a register of {energy}")
        local_start = row[START].astimezone(BRUSSELS)
        keyed.append(((local_start.replace(tzinfo=None), local_start.fold, order[channel, tariff]), row))
    keyed.sort(key=lambda item: item[0])
    out.write(BOM + SEPARATOR.join(header) + "\r\n")
    for _, row in keyed:
        channel, tariff = Channel(row[CHANNEL]), TariffPeriod(row[TARIFF])
        start: datetime = row[START].astimezone(UTC)
        local_start = start.astimezone(BRUSSELS)
        local_end = (start + timedelta(minutes=row[MINUTES])).astimezone(BRUSSELS)
        cells = [
            local_start.strftime(words.date_format),
            local_start.strftime("%H:%M:%S"),
            local_end.strftime(words.date_format),
            local_end.strftime("%H:%M:%S"),
            f'="{ean}"',
            meter,
            words.meter_type,
            words.registers[channel, tariff],
            _decimal_comma(row[VALUE]),
            CUBIC_METRE if channel is Channel.GAS_VOLUME else KWH,
            words.statuses[SourceStatus(row[SOURCE_STATUS])],
        ]
        cells += [""] * (len(header) - len(cells))
        out.write(SEPARATOR.join(cells) + "\r\n")
