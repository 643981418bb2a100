"""P1 telegrams of Fluvius digital meters (the user port, e-MUCS H specification).

Source: telegrams as a P1 reader logs them, CRLF line ends, one or more per file (samples in
``/work/shared/samples/p1``), parsed with ``dsmr_parser``'s ``BELGIUM_FLUVIUS`` specification and
CRC-16 checked; a telegram whose CRC fails is rejected, the others are kept.

Rules:
- registers: 1-0:1.8.1 offtake day, 1-0:1.8.2 offtake night, 1-0:2.8.1 injection day, 1-0:2.8.2
  injection night (Belgium: tariff 1 = day, 2 = night), kWh with 3 decimals → integer Wh, read at the
  telegram time 0-0:1.0.0;
- timestamps are Brussels wall-clock ``YYMMDDhhmmss`` with ``S`` (summer, UTC+2) or ``W`` (winter,
  UTC+1); the flag decides which pass of the repeated autumn hour is meant (``dsmr_parser``);
- capacity tariff: 1-0:1.6.0 is the highest quarter-hour average power of the running month, the
  month being that of its timestamp; 0-0:98.1.0 is the buffer of past monthly peaks, each keyed by
  the first day of the NEXT month (so the key 2020-05-01 holds the peak of April 2020); an entry
  whose peak time is not a date (``632525252525W``, 0 kW) holds no value and is skipped. kW with
  3 decimals → integer W. One peak per month per meter: when several telegrams or both objects name
  the same month, the highest peak is kept (the running peak only grows during the month);
- M-Bus values (0-n:24.2.x, e.g. gas in m³) belong to another access point (gas or water meter): they
  are not registers of this EAN and are only reported as warnings with the device's serial;
- the telegram's EAN is not in the telegram: it is given by the caller, else the rows are keyed by
  the meter's equipment identifier 0-0:96.1.1 (hex-encoded ASCII, e.g. ``1SAG3100721326``), with a
  warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
from dsmr_parser import telegram_specifications
from dsmr_parser.exceptions import InvalidChecksumError, ParseError
from dsmr_parser.parsers import TelegramParser

from kwartier.capture.quarantine import InputFormatError, Rejection
from kwartier.capture.result import CaptureResult
from kwartier.domain.channels import Channel, TariffPeriod, kwh_to_wh
from kwartier.domain.ean import validate_ean
from kwartier.domain.source_status import SourceStatus
from kwartier.domain.timegrid import BRUSSELS
from kwartier.schema import (
    CAPTURED_PEAKS,
    CAPTURED_REGISTERS,
    CHANNEL,
    EAN,
    INDEX_VALUE,
    LINE,
    METER,
    MONTH,
    PEAK_START,
    PEAK_W,
    READ_AT,
    SOURCE_STATUS,
    TARIFF,
)

FORMAT = "p1"
TIMESTAMP_OBIS = "0-0:1.0.0"
PEAK_OBIS = "1-0:1.6.0"
PEAK_BUFFER_OBIS = "0-0:98.1.0"
EQUIPMENT_OBIS = "0-0:96.1.1"
CRC_FIELD = "CRC"

# dsmr_parser attribute, OBIS code, channel and tariff period of the four energy registers
_REGISTERS = (
    ("ELECTRICITY_USED_TARIFF_1", "1-0:1.8.1", Channel.OFFTAKE, TariffPeriod.DAY),
    ("ELECTRICITY_USED_TARIFF_2", "1-0:1.8.2", Channel.OFFTAKE, TariffPeriod.NIGHT),
    ("ELECTRICITY_DELIVERED_TARIFF_1", "1-0:2.8.1", Channel.INJECTION, TariffPeriod.DAY),
    ("ELECTRICITY_DELIVERED_TARIFF_2", "1-0:2.8.2", Channel.INJECTION, TariffPeriod.NIGHT),
)
# M-Bus device types (EN 13757-3) a Fluvius meter reports on its channels 1-4
_MBUS_DEVICE_TYPES = {3: "gas meter", 7: "water meter", 4: "heat meter"}


class _TelegramError(ValueError):
    """A telegram that cannot be used, with the line and field at fault."""

    def __init__(self, line: int, field: str, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class _Telegram:
    """The text of one telegram (from ``/`` to ``!CRC``) and the file line it starts on."""

    first_line: int
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    @property
    def last_line(self) -> int:
        return self.first_line + len(self.lines) - 1

    def line_of(self, obis: str) -> int:
        """File line of the object ``obis`` (e.g. ``1-0:1.8.1``), or of the telegram's header."""
        for offset, line in enumerate(self.lines):
            if line.startswith(obis + "("):
                return self.first_line + offset
        return self.first_line


def _split_telegrams(file: str, lines: list[str]) -> tuple[list[_Telegram], list[Rejection]]:
    """Cut the file into telegrams; text outside a complete telegram is rejected, one block at a time."""
    telegrams: list[_Telegram] = []
    rejections: list[Rejection] = []
    current: list[str] = []
    start = 0
    stray: list[int] = []

    def reject_stray() -> None:
        if stray:
            reason = f"{len(stray)} line(s) outside a telegram (no '/' header before them)"
            rejections.append(Rejection(file, stray[0], "telegram", reason))
            stray.clear()

    for number, line in enumerate(lines, start=1):
        if line.startswith("/"):
            reject_stray()
            if current:
                reason = "telegram has no '!CRC' end line before the next one starts"
                rejections.append(Rejection(file, start, "telegram", reason))
            current, start = [line], number
        elif current:
            current.append(line)
            if line.startswith("!"):
                telegrams.append(_Telegram(start, current))
                current = []
        elif line.strip():
            stray.append(number)
    reject_stray()
    if current:
        rejections.append(Rejection(file, start, "telegram", "telegram ends without its '!CRC' line"))
    return telegrams, rejections


def _thousandths(value: Decimal) -> int:
    """kWh → Wh or kW → W, exactly (3 decimals in the telegram)."""
    return kwh_to_wh(format(value, "f"))


def _decode_identifier(hex_text: str) -> str:
    """An equipment identifier sent as hex-encoded ASCII, decoded; the hex text when it is not."""
    try:
        return bytes.fromhex(hex_text).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return hex_text


def _month_of(instant: datetime) -> date:
    """First day of the Brussels calendar month containing ``instant``."""
    return instant.astimezone(BRUSSELS).date().replace(day=1)


_RegisterKey = tuple[str, str, Channel, TariffPeriod, datetime]  # ean, meter, channel, tariff, read at
_PeakKey = tuple[str, str, date]  # ean, meter, month
_MbusKey = tuple[int, str, str]  # M-Bus channel, device kind, serial
_MbusReading = tuple[datetime | None, Decimal, str]  # time, value, unit


@dataclass
class _Collected:
    """Rows gathered from the telegrams of one file."""

    registers: dict[_RegisterKey, tuple[int, int]] = field(default_factory=dict)  # line, Wh
    peaks: dict[_PeakKey, tuple[int, datetime, int]] = field(default_factory=dict)  # line, start, W
    mbus: dict[_MbusKey, list[_MbusReading]] = field(default_factory=dict)

    def add_peak(self, key: _PeakKey, line: int, start: datetime, watts: int) -> None:
        """Keep the highest peak of a month (``key``: ean, meter, month); on a tie the first one read."""
        known = self.peaks.get(key)
        if known is None or watts > known[2]:
            self.peaks[key] = (line, start, watts)


def _read_telegram(
    telegram: _Telegram, parsed: Any, given_ean: str | None, collected: _Collected
) -> str | None:
    """Add the registers, peaks and M-Bus values of a parsed telegram; returns the meter id."""
    equipment = getattr(parsed, "BELGIUM_EQUIPMENT_IDENTIFIER", None)
    meter = _decode_identifier(equipment.value) if equipment is not None and equipment.value else None
    ean = given_ean or meter
    if ean is None:
        raise _TelegramError(telegram.first_line, EQUIPMENT_OBIS, "no EAN given and no equipment identifier")
    stamp = getattr(parsed, "P1_MESSAGE_TIMESTAMP", None)
    if stamp is None or stamp.value is None:
        raise _TelegramError(telegram.line_of(TIMESTAMP_OBIS), TIMESTAMP_OBIS, "no valid telegram time")
    read_at: datetime = stamp.value
    for attribute, obis, channel, tariff in _REGISTERS:
        register = getattr(parsed, attribute, None)
        if register is None:
            continue
        if register.unit != "kWh":
            raise _TelegramError(telegram.line_of(obis), obis, f"unit {register.unit!r}, expected kWh")
        key = (ean, meter or "", channel, tariff, read_at)
        collected.registers.setdefault(key, (telegram.line_of(obis), _thousandths(register.value)))
    for entry in getattr(parsed, "BELGIUM_MAXIMUM_DEMAND_13_MONTHS", None) or []:
        if entry.occurred is None or entry.datetime is None:
            continue  # "no value" entry, e.g. (632525252525W)(00.000*kW)
        key_day = entry.datetime.astimezone(BRUSSELS).date()
        line = telegram.line_of(PEAK_BUFFER_OBIS)
        if key_day.day != 1:
            raise _TelegramError(
                line, PEAK_BUFFER_OBIS, f"buffer key {key_day} is not the first day of a month"
            )
        month = (key_day - timedelta(days=1)).replace(day=1)
        collected.add_peak((ean, meter or "", month), line, entry.occurred, _thousandths(entry.value))
    current = getattr(parsed, "BELGIUM_MAXIMUM_DEMAND_MONTH", None)
    if current is not None and current.datetime is not None:
        line = telegram.line_of(PEAK_OBIS)
        month = _month_of(current.datetime)
        collected.add_peak((ean, meter or "", month), line, current.datetime, _thousandths(current.value))
    for device in getattr(parsed, "MBUS_DEVICES", None) or []:
        device_type = getattr(device, "MBUS_DEVICE_TYPE", None)
        serial = getattr(device, "MBUS_EQUIPMENT_IDENTIFIER", None)
        reading = getattr(device, "MBUS_METER_READING", None)
        if reading is None:
            continue
        kind = _MBUS_DEVICE_TYPES.get(device_type.value if device_type else -1, "M-Bus device")
        name = _decode_identifier(serial.value) if serial is not None and serial.value else "?"
        values = collected.mbus.setdefault((device.channel_id, kind, name), [])
        values.append((reading.datetime, reading.value, reading.unit))
    return meter


def _mbus_warnings(file: str, mbus: dict[_MbusKey, list[_MbusReading]]) -> list[str]:
    """One warning per M-Bus device of the file: how many readings it sent, and the last one."""
    warnings = []
    for (channel, kind, serial), values in sorted(mbus.items()):
        at, value, unit = values[-1]
        when = at.isoformat() if at is not None else "an unknown time"
        warnings.append(
            f"{file}: M-Bus channel {channel}, {kind} {serial}: {len(values)} reading(s), the last "
            f"{value} {unit} at {when}; another access point, not captured as registers of this one"
        )
    return warnings


def _tables(collected: _Collected) -> tuple[pa.Table, pa.Table]:
    registers = sorted(collected.registers.items(), key=lambda item: item[1][0])
    peaks = sorted(collected.peaks.items(), key=lambda item: (item[0][2], item[1][0]))
    register_table = pa.table(
        {
            LINE: [line for _, (line, _) in registers],
            EAN: [key[0] for key, _ in registers],
            METER: [key[1] or None for key, _ in registers],
            CHANNEL: [key[2].value for key, _ in registers],
            TARIFF: [key[3].value for key, _ in registers],
            READ_AT: [key[4] for key, _ in registers],
            INDEX_VALUE: [wh for _, (_, wh) in registers],
            SOURCE_STATUS: [SourceStatus.READ.value] * len(registers),
        },
        schema=CAPTURED_REGISTERS,
    )
    peak_table = pa.table(
        {
            LINE: [line for _, (line, _, _) in peaks],
            EAN: [key[0] for key, _ in peaks],
            METER: [key[1] or None for key, _ in peaks],
            MONTH: [key[2] for key, _ in peaks],
            PEAK_START: [start for _, (_, start, _) in peaks],
            PEAK_W: [watts for _, (_, _, watts) in peaks],
            SOURCE_STATUS: [SourceStatus.READ.value] * len(peaks),
        },
        schema=CAPTURED_PEAKS,
    )
    return register_table, peak_table


def read_p1(path: Path, *, ean: str | None = None) -> CaptureResult:
    """Read the P1 telegrams of a file into register indexes (Wh) and monthly peaks (W).

    ``ean`` is the access point the meter serves (checked with its GS1 check digit); without it the
    rows are keyed by the meter's equipment identifier. A telegram with a bad CRC or unreadable content
    is rejected (file, line, field, reason); :class:`InputFormatError` when no telegram is valid.
    """
    file = str(path)
    if ean is not None:
        validate_ean(ean)
    try:
        text = path.read_bytes().decode("ascii")
    except UnicodeDecodeError as error:
        raise InputFormatError(file, f"a P1 telegram is ASCII text: {error}") from None
    telegrams, rejections = _split_telegrams(file, text.split("\n"))
    parser = TelegramParser(telegram_specifications.BELGIUM_FLUVIUS)
    collected = _Collected()
    meters: set[str] = set()
    valid = 0
    for telegram in telegrams:
        try:
            parsed = parser.parse(telegram.text, throw_ex=True)
            meter = _read_telegram(telegram, parsed, ean, collected)
        except InvalidChecksumError:
            expected = telegram.lines[-1].strip()[1:]
            computed = TelegramParser.crc16(telegram.text[: telegram.text.rindex("!") + 1])
            reason = f"CRC {expected} of the telegram starting at line {telegram.first_line} does not match "
            reason += f"{computed:04X} computed over its content (corrupted, or not CRLF line ends)"
            rejections.append(Rejection(file, telegram.last_line, CRC_FIELD, reason, code="CRC"))
            continue
        except _TelegramError as error:
            rejections.append(Rejection(file, error.line, error.field, error.reason))
            continue
        except (ParseError, ArithmeticError, ValueError) as error:
            rejections.append(Rejection(file, telegram.first_line, "telegram", f"unreadable: {error}"))
            continue
        valid += 1
        if meter is not None:
            meters.add(meter)
    if not valid:
        reasons = "; ".join(str(rejection) for rejection in rejections[:3]) or "no telegram found"
        raise InputFormatError(file, f"no valid P1 telegram: {reasons}")
    registers, peaks = _tables(collected)
    warnings = _mbus_warnings(file, collected.mbus)
    if ean is None:
        keyed = ", ".join(sorted(meters))
        warnings.insert(0, f"{file}: no EAN given; rows are keyed by the meter's equipment id {keyed}")
    return CaptureResult(
        file=file,
        format=FORMAT,
        registers=registers,
        peaks=peaks,
        rejections=rejections,
        warnings=warnings,
    )
