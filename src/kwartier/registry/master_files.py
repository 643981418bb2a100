"""The master-data CSV files a region simulator (or a migration from another registry) writes.

Each file has one header line, comma-separated fields and ISO dates (``YYYY-MM-DD``):

=====================  ==================================================================
``grid_areas.csv``     code,name
``parties.csv``        code,name,roles            roles pipe-separated, e.g. ``supplier|brp``
``access_points.csv``  ean,energy,grid_area,connected_from
``meters.csv``         serial,ean,kind,energy,installed_from
``regimes.csv``        ean,regime,valid_from,valid_to     valid_to empty: open-ended
``capacities.csv``     ean,capacity,unit,valid_from
``installations.csv``  ean,kind,kva,commissioned_on
=====================  ==================================================================

A file is read by Arrow's CSV reader (a million lines in about a second) and every field is checked
column-wise; the first bad field (in file order within the first failing check) raises
:class:`MasterDataError` naming the file, the line (1-based, the header is line 1) and the reason. A
record is one physical line (no line breaks inside quoted fields). Checks that need other files (a known
EAN, a known grid area) are made by :mod:`kwartier.registry.master_data`.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from kwartier.domain.channels import Energy
from kwartier.domain.ean import EAN_LENGTH, InvalidEanError, check_digit, validate_ean
from kwartier.registry.codes import CapacityUnit, InstallationKind, MeterKind, PartyRole, Regime

GLN_LENGTH = 13
ASCII_ZERO = 48
LINE: Final = "line"
ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
DECIMAL = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"

GRID_AREAS = "grid_areas.csv"
PARTIES = "parties.csv"
ACCESS_POINTS = "access_points.csv"
METERS = "meters.csv"
REGIMES = "regimes.csv"
CAPACITIES = "capacities.csv"
INSTALLATIONS = "installations.csv"

HEADERS: dict[str, list[str]] = {
    GRID_AREAS: ["code", "name"],
    PARTIES: ["code", "name", "roles"],
    ACCESS_POINTS: ["ean", "energy", "grid_area", "connected_from"],
    METERS: ["serial", "ean", "kind", "energy", "installed_from"],
    REGIMES: ["ean", "regime", "valid_from", "valid_to"],
    CAPACITIES: ["ean", "capacity", "unit", "valid_from"],
    INSTALLATIONS: ["ean", "kind", "kva", "commissioned_on"],
}


class MasterDataError(ValueError):
    """A master-data row that cannot be loaded: ``file``, ``line`` (None: the whole file) and ``reason``."""

    def __init__(self, file: str, line: int | None, reason: str) -> None:
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {reason}")
        self.file = file
        self.line = line
        self.reason = reason


class _Columns:
    """Column-wise checks of one file's text table (with its ``line`` column)."""

    def __init__(self, file: str, table: pa.Table) -> None:
        self.file = file
        self.table = table

    def fail_first(self, bad: pa.ChunkedArray | pa.Array, reason: Callable[[int], str]) -> None:
        """Raise for the first row where ``bad`` is true; ``reason`` gets its row index."""
        flags = pc.fill_null(bad, True).to_numpy(zero_copy_only=False)
        if flags.any():
            index = int(np.argmax(flags))
            raise MasterDataError(self.file, int(self.table[LINE][index].as_py()), reason(index))

    def text(self, name: str) -> pa.ChunkedArray:
        values = self.table[name]
        self.fail_first(pc.equal(pc.utf8_length(values), 0), lambda _i: f"{name} is empty")
        return values

    def value(self, name: str, index: int) -> str:
        return str(self.table[name][index].as_py())

    def code(self, enum: type[StrEnum], name: str) -> pa.ChunkedArray:
        values = self.table[name]
        allowed = pa.array([member.value for member in enum], pa.string())
        self.fail_first(
            pc.invert(pc.is_in(values, value_set=allowed)),
            lambda i: f"{name} {self.value(name, i)!r} is not one of {', '.join(allowed.to_pylist())}",
        )
        return values

    def day(self, name: str, *, optional: bool = False) -> pa.ChunkedArray:
        values = self.table[name]
        empty = pc.equal(pc.utf8_length(values), 0)
        text = pc.if_else(empty, pa.scalar(None, pa.string()), values) if optional else values
        parsed = pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True)
        bad = pc.or_(pc.invert(pc.match_substring_regex(values, ISO_DATE)), pc.is_null(parsed))
        if optional:
            bad = pc.and_(bad, pc.invert(empty))
        self.fail_first(bad, lambda i: f"{name} {self.value(name, i)!r} is not an ISO date (YYYY-MM-DD)")
        return pc.cast(parsed, pa.date32())

    def positive(self, name: str) -> pa.ChunkedArray:
        values = self.table[name]
        self.fail_first(
            pc.invert(pc.match_substring_regex(values, DECIMAL)),
            lambda i: f"{name} {self.value(name, i)!r} is not a number",
        )
        numbers = pc.cast(values, pa.float64())
        self.fail_first(
            pc.invert(pc.and_(pc.greater(numbers, 0), pc.is_finite(numbers))),
            lambda i: f"{name} {self.value(name, i)!r} is not a positive number",
        )
        return numbers

    def ean(self, name: str = "ean") -> pa.ChunkedArray:
        values = self.table[name]
        valid = valid_ean_mask(values.combine_chunks())
        self.fail_first(pa.array(~valid), lambda i: ean_error(self.value(name, i)) or "not a valid EAN-18")
        return values

    def gln(self, name: str = "code") -> pa.ChunkedArray:
        values = self.table[name]
        for code, line in zip(values.to_pylist(), self.table[LINE].to_pylist(), strict=True):
            if len(code) != GLN_LENGTH or not code.isascii() or not code.isdigit():
                raise MasterDataError(self.file, line, f"party code {code!r} is not a GLN-13 (13 digits)")
            expected = check_digit(code[:-1])
            if expected != int(code[-1]):
                reason = f"party code {code!r}: check digit is {code[-1]}, GS1 gives {expected}"
                raise MasterDataError(self.file, line, reason)
        return values


def read_text_table(master_dir: Path, file: str) -> pa.Table:
    """``file`` as a table of stripped text columns named by its header, plus its ``line`` numbers."""
    path = master_dir / file
    header = HEADERS[file]
    if not path.is_file():
        raise MasterDataError(file, None, f"missing: no {path}")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        first = next(csv.reader(handle), None)
    if first is None or [name.strip() for name in first] != header:
        raise MasterDataError(file, 1, f"header must be {','.join(header)}")
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1),
            parse_options=pacsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=False
            ),
        )
    except pa.ArrowInvalid as error:
        raise _locate(path, file, len(header), error) from None
    stripped = [pc.utf8_trim_whitespace(table[name]) for name in header]
    lines = pa.array(np.arange(2, table.num_rows + 2, dtype=np.int64))
    return pa.table([*stripped, lines], names=[*header, LINE])


def _locate(path: Path, file: str, fields: int, error: pa.ArrowInvalid) -> MasterDataError:
    """The line of the malformed record Arrow's reader refused, found by reading the file line by line."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        for row in reader:
            if len(row) != fields:
                return MasterDataError(file, reader.line_num, f"{len(row)} fields, the header has {fields}")
    return MasterDataError(file, None, f"unreadable: {error}")


def ean_error(code: str) -> str | None:
    """Why ``code`` is not a valid EAN-18 (:func:`kwartier.domain.ean.validate_ean`), None when it is."""
    try:
        validate_ean(code)
    except InvalidEanError as error:
        return str(error)
    return None


def valid_ean_mask(codes: pa.Array) -> np.ndarray:
    """For each code, whether it is a valid EAN-18: the GS1 rule of :mod:`kwartier.domain.ean`, vectorised.

    Digits in even positions from the right of the 17-digit payload (the first, third, … of the payload)
    weigh 3, the others 1; the check digit brings the weighted sum to a multiple of 10. Checks a million
    EANs in well under a second; :func:`ean_error` gives the reason of one that fails.
    """
    codes = pc.cast(codes, pa.string())
    candidate = pc.fill_null(pc.equal(pc.binary_length(codes), EAN_LENGTH), False).to_numpy(
        zero_copy_only=False
    )
    mask = np.zeros(len(codes), dtype=bool)
    if not candidate.any():
        return mask
    chosen = pc.filter(codes, pa.array(candidate))
    chosen = pa.concat_arrays([chosen]) if chosen.offset else chosen
    offsets = np.frombuffer(chosen.buffers()[1], dtype=np.int32)[: len(chosen) + 1]
    data = np.frombuffer(chosen.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    digits = data.reshape(-1, EAN_LENGTH).astype(np.int64) - ASCII_ZERO
    all_digits = ((digits >= 0) & (digits <= 9)).all(axis=1)
    weights = np.array([3 if i % 2 == 0 else 1 for i in range(EAN_LENGTH - 1)], dtype=np.int64)
    expected = (10 - (digits[:, :-1] @ weights) % 10) % 10
    mask[candidate] = all_digits & (expected == digits[:, -1])
    return mask


def read_grid_areas(master_dir: Path) -> pa.Table:
    """``grid_areas.csv``: code, name."""
    c = _Columns(GRID_AREAS, read_text_table(master_dir, GRID_AREAS))
    return pa.table({"code": c.text("code"), "name": c.text("name"), LINE: c.table[LINE]})


def read_parties(master_dir: Path) -> pa.Table:
    """``parties.csv``: GLN-13 code (with its GS1 check digit), name, roles (pipe-separated)."""
    c = _Columns(PARTIES, read_text_table(master_dir, PARTIES))
    return pa.table({"code": c.gln(), "name": c.text("name"), "roles": c.table["roles"], LINE: c.table[LINE]})


def read_party_roles(parties: pa.Table) -> pa.Table:
    """One row (code, role, line) per role listed in ``parties.csv`` (empty roles list: none)."""
    lists = pc.split_pattern(parties["roles"].combine_chunks(), "|")
    parents = pc.list_parent_indices(lists)
    roles = pa.table(
        {
            "code": pc.take(parties["code"], parents),
            "role": pc.utf8_trim_whitespace(pc.list_flatten(lists)),
            LINE: pc.take(parties[LINE], parents),
        }
    )
    roles = roles.filter(pc.greater(pc.utf8_length(roles["role"]), 0))
    _Columns(PARTIES, roles).code(PartyRole, "role")
    return roles


def read_access_points(master_dir: Path) -> pa.Table:
    """``access_points.csv``: EAN (checked), energy, grid area code, first connected market day."""
    c = _Columns(ACCESS_POINTS, read_text_table(master_dir, ACCESS_POINTS))
    return pa.table(
        {
            "ean": c.ean(),
            "energy": c.code(Energy, "energy"),
            "grid_area": c.text("grid_area"),
            "connected_from": c.day("connected_from"),
            LINE: c.table[LINE],
        }
    )


def read_meters(master_dir: Path) -> pa.Table:
    """``meters.csv``: serial, EAN (checked), meter kind, energy, first market day installed."""
    c = _Columns(METERS, read_text_table(master_dir, METERS))
    return pa.table(
        {
            "serial": c.text("serial"),
            "ean": c.ean(),
            "kind": c.code(MeterKind, "kind"),
            "energy": c.code(Energy, "energy"),
            "valid_from": c.day("installed_from"),
            LINE: c.table[LINE],
        }
    )


def read_regimes(master_dir: Path) -> pa.Table:
    """``regimes.csv``: EAN (checked), regime, [valid_from, valid_to) with valid_to empty when open."""
    c = _Columns(REGIMES, read_text_table(master_dir, REGIMES))
    table = pa.table(
        {
            "ean": c.ean(),
            "regime": c.code(Regime, "regime"),
            "valid_from": c.day("valid_from"),
            "valid_to": c.day("valid_to", optional=True),
            LINE: c.table[LINE],
        }
    )
    c.fail_first(
        pc.fill_null(pc.less_equal(table["valid_to"], table["valid_from"]), False),
        lambda i: f"valid_to {table['valid_to'][i]} is not after valid_from {table['valid_from'][i]}",
    )
    return table


def read_capacities(master_dir: Path) -> pa.Table:
    """``capacities.csv``: EAN (checked), capacity (> 0), unit (kVA or m3/h), first market day."""
    c = _Columns(CAPACITIES, read_text_table(master_dir, CAPACITIES))
    return pa.table(
        {
            "ean": c.ean(),
            "capacity": c.positive("capacity"),
            "unit": c.code(CapacityUnit, "unit"),
            "valid_from": c.day("valid_from"),
            LINE: c.table[LINE],
        }
    )


def read_installations(master_dir: Path) -> pa.Table:
    """``installations.csv``: EAN (checked), installation kind, rated power [kVA] (> 0), commissioning day."""
    c = _Columns(INSTALLATIONS, read_text_table(master_dir, INSTALLATIONS))
    return pa.table(
        {
            "ean": c.ean(),
            "kind": c.code(InstallationKind, "kind"),
            "kva": c.positive("kva"),
            "commissioned_on": c.day("commissioned_on"),
            LINE: c.table[LINE],
        }
    )
