"""The files of the stateless command: GROUP.json and READINGS.csv in, RESULT.csv out (issue 5).

- GROUP.json: ``{"id", "form": building|community|self|p2p, "key": fixed|relative|optimal,
  "participants": [{"ean", "share"}], "price_eur_per_kwh"}`` (price for P2P only); numbers are read as
  exact decimals, never as binary floats.
- READINGS.csv: header exactly :data:`READINGS_HEADER`; one row
  per access point per quarter hour; ``start`` ISO-8601 with offset on the quarter-hour grid; energies in
  kWh, at most 3 decimals, not negative.
- RESULT.csv: :data:`RESULT_HEADER`, kWh with 3 decimals, ``start`` in Europe/Brussels with its offset.

Every quarter hour present in the file must be present for every participant; a row of an EAN not in
the group, a duplicate (EAN, start) or a bad value is refused with the file, line and reason
(:class:`InputError`). The group's Σ gross injection per quarter must stay at or below
:data:`~kwartier.sharing.allocation.MAX_GROUP_INJECTION_WH`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

import pyarrow as pa

from kwartier.domain.ean import InvalidEanError, validate_ean
from kwartier.domain.timegrid import BRUSSELS, QUARTER_MINUTES, is_on_grid
from kwartier.registry.sharing_groups import AllocationKey, SharingForm
from kwartier.schema import UTC_MICROS
from kwartier.sharing.allocation import (
    INJECTION_WH,
    MAX_GROUP_INJECTION_WH,
    NET_INJECTION_WH,
    NET_OFFTAKE_WH,
    OFFTAKE_WH,
    PARTICIPANT,
    SHARE_PPM,
    SHARED_WH,
    START,
)
from kwartier.sharing.group import Group, GroupError, Participant, share_to_ppm

READINGS_HEADER: Final = ("ean", "start", "offtake_kwh", "injection_kwh")
RESULT_HEADER: Final = (
    "ean",
    "start",
    "offtake_kwh",
    "injection_kwh",
    "shared_kwh",
    "net_offtake_kwh",
    "net_injection_kwh",
)
WH_PER_KWH: Final = 1000


class InputError(ValueError):
    """A file of the stateless command is malformed; the message names the file, line and reason."""


def read_group(path: Path) -> Group:
    """The group of GROUP.json at ``path``."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal, parse_int=Decimal)
    except (OSError, json.JSONDecodeError) as error:
        raise InputError(f"{path}: not a readable JSON document: {error}") from error
    try:
        return group_of(document)
    except (GroupError, InvalidEanError, KeyError, TypeError, ValueError) as error:
        reason = f"missing field {error}" if isinstance(error, KeyError) else str(error)
        raise InputError(f"{path}: {reason}") from error


def group_of(document: Mapping[str, Any]) -> Group:
    """The group a GROUP.json document describes (numbers as :class:`~decimal.Decimal`)."""
    participants = []
    for index, entry in enumerate(document["participants"], start=1):
        share = entry["share"]
        if not isinstance(share, Decimal):
            raise GroupError(f"participant {index}: share must be a number")
        participants.append(Participant(validate_ean(str(entry["ean"])), share_to_ppm(share)))
    price = document.get("price_eur_per_kwh")
    if price is not None and not isinstance(price, Decimal):
        raise GroupError("price_eur_per_kwh must be a number")
    return Group(
        code=str(document["id"]),
        form=SharingForm(document["form"]),
        key=AllocationKey(document["key"]),
        participants=tuple(participants),
        price_eur_per_kwh=price,
    )


def kwh_text_to_wh(text: str) -> int:
    """Exact Wh of a kWh text with at most 3 decimals, not negative ('1.5' → 1500)."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not a number")
    if value < 0:
        raise ValueError(f"{text} is negative")
    wh = value * WH_PER_KWH
    if wh != wh.to_integral_value():
        raise ValueError(f"{text} has more than 3 decimals")
    return int(wh)


def wh_to_kwh_text(wh: int) -> str:
    """Wh as kWh with exactly 3 decimals (1500 → '1.500')."""
    return f"{Decimal(wh) / WH_PER_KWH:.3f}"


@dataclass(frozen=True)
class Readings:
    """The checked readings: the allocation input and the EAN of every participant id."""

    table: pa.Table
    quarters: int


def read_readings(path: Path, group: Group) -> Readings:
    """The readings of READINGS.csv at ``path`` for ``group`` as an allocation input (participant = EAN)."""
    shares = group.share_of()
    rows: dict[tuple[str, datetime], tuple[int, int, int]] = {}  # (ean, start) → (line, offtake, injection)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None or tuple(h.strip() for h in header) != READINGS_HEADER:
                raise InputError(f"{path}, line 1: header must be {','.join(READINGS_HEADER)}, not {header}")
            for line, fields in enumerate(reader, start=2):
                if not fields:
                    continue
                ean, start, offtake, injection = _row(path, line, fields, shares)
                if (ean, start) in rows:
                    first = rows[(ean, start)][0]
                    raise InputError(
                        f"{path}, line {line}: duplicate of line {first} ({ean} at {start.isoformat()})"
                    )
                rows[(ean, start)] = (line, offtake, injection)
    except OSError as error:
        raise InputError(f"{path}: cannot be read: {error}") from error
    _check_complete(path, rows, shares)
    return Readings(_table(rows, shares), len({start for _, start in rows}))


def _row(
    path: Path, line: int, fields: list[str], shares: Mapping[str, int]
) -> tuple[str, datetime, int, int]:
    if len(fields) != len(READINGS_HEADER):
        raise InputError(f"{path}, line {line}: {len(fields)} fields, expected {len(READINGS_HEADER)}")
    ean = fields[0].strip()
    if ean not in shares:
        raise InputError(f"{path}, line {line}: EAN {ean} is not in the group")
    try:
        start = datetime.fromisoformat(fields[1].strip())
    except ValueError:
        raise InputError(f"{path}, line {line}: start {fields[1]!r} is not an ISO-8601 instant") from None
    if start.tzinfo is None:
        raise InputError(f"{path}, line {line}: start {fields[1]} has no UTC offset")
    if not is_on_grid(start, QUARTER_MINUTES):
        raise InputError(f"{path}, line {line}: start {fields[1]} does not start a quarter hour")
    values = []
    for name, text in zip(READINGS_HEADER[2:], fields[2:], strict=True):
        try:
            values.append(kwh_text_to_wh(text))
        except ValueError as error:
            raise InputError(f"{path}, line {line}: {name} {error}") from None
    return ean, start.astimezone(UTC), values[0], values[1]


def _check_complete(
    path: Path, rows: Mapping[tuple[str, datetime], tuple[int, int, int]], shares: Mapping[str, int]
) -> None:
    if not rows:
        raise InputError(f"{path}: no readings")
    starts = sorted({start for _, start in rows})
    for start in starts:
        local = start.astimezone(BRUSSELS).isoformat()
        present = [ean for ean in shares if (ean, start) in rows]
        if len(present) != len(shares):
            missing = next(ean for ean in shares if (ean, start) not in rows)
            line = rows[(present[0], start)][0]
            raise InputError(
                f"{path}: quarter {local} (line {line} and others) has no row for participant {missing}"
            )
        injection = sum(rows[(ean, start)][2] for ean in shares)
        if injection > MAX_GROUP_INJECTION_WH:
            raise InputError(
                f"{path}: quarter {local}: group injection {injection} Wh exceeds {MAX_GROUP_INJECTION_WH} Wh"
            )


def _table(rows: Mapping[tuple[str, datetime], tuple[int, int, int]], shares: Mapping[str, int]) -> pa.Table:
    keys = sorted(rows)
    return pa.table(
        {
            PARTICIPANT: [ean for ean, _ in keys],
            START: pa.array([start for _, start in keys], UTC_MICROS),
            SHARE_PPM: pa.array([shares[ean] for ean, _ in keys], pa.int64()),
            OFFTAKE_WH: pa.array([rows[k][1] for k in keys], pa.int64()),
            INJECTION_WH: pa.array([rows[k][2] for k in keys], pa.int64()),
        }
    )


def write_result(path: Path, result: pa.Table) -> None:
    """Write an allocation result (participant = EAN) as RESULT.csv, sorted by EAN and start.

    Written to a temporary file beside ``path`` and renamed, so a failed run leaves no half file.
    """
    ordered = result.sort_by([(PARTICIPANT, "ascending"), (START, "ascending")])
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(RESULT_HEADER)
        writer.writerows(_result_rows(ordered.to_pylist()))
    partial.replace(path)


def _result_rows(rows: Iterable[Mapping[str, Any]]) -> Iterable[list[str]]:
    for row in rows:
        yield [
            row[PARTICIPANT],
            row[START].astimezone(BRUSSELS).isoformat(),
            *(
                wh_to_kwh_text(row[column])
                for column in (OFFTAKE_WH, INJECTION_WH, SHARED_WH, NET_OFFTAKE_WH, NET_INJECTION_WH)
            ),
        ]
