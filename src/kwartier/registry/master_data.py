"""Loading the master-data CSV files (:mod:`kwartier.registry.master_files`) into the registry.

Rules:
- loading is idempotent: a row the registry already holds with the same facts is skipped, so loading
  the same directory twice adds nothing the second time;
- a row the registry holds with *other* facts under the same key is an error, never a silent update:
  changing registered facts is a market process with its own audit trail, not a bulk load. The keys:
  grid area code, party code, party role (party, role, start day), EAN, meter serial, meter
  installation (EAN, start day), regime (EAN, start day), capacity (EAN, start day), production
  installation (EAN, kind, commissioning day);
- every file is read and checked against the others and the registry before anything is written, so a
  bad file writes nothing; the caller commits (or rolls back) the session;
- ``meters.csv`` and ``capacities.csv`` give only a start day: per EAN, a meter installation or a capacity
  holds until the next one starts (open-ended for the last); ``regimes.csv`` gives both ends;
- the periods of one EAN (meter installations, regimes, capacities) and of one meter must not overlap;
- a meter's energy must be its access point's, and a capacity's unit must fit it (kVA for electricity,
  m³/h for gas);
- the roles in ``parties.csv`` carry no dates: they hold from ``roles_valid_from``, by default the day the
  Flemish electricity and gas market opened fully to competition (1 July 2003, VREG), open-ended.

Everything is column-wise on Arrow tables (joins, sorts, masks), so a million access points load in
well under a minute on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.orm import QueryableAttribute, Session

from kwartier.domain.channels import Energy
from kwartier.registry import master_files as mf
from kwartier.registry.access_points import AccessPoint, ConnectionCapacity, GridArea, MeasurementRegime
from kwartier.registry.arrow_io import fetch_arrow, insert_arrow
from kwartier.registry.codes import CapacityUnit
from kwartier.registry.installations import ProductionInstallation
from kwartier.registry.master_files import LINE, MasterDataError
from kwartier.registry.meters import Meter, MeterInstallation
from kwartier.registry.parties import Party, PartyRoleAssignment

MARKET_OPENING = date(2003, 7, 1)
REGISTERED = "_registered"
NO_END = np.iinfo(np.int32).max  # an open end, as a day number later than any real one


def load_master_data(
    session: Session, master_dir: Path, *, roles_valid_from: date = MARKET_OPENING
) -> dict[str, int]:
    """Load the master-data files in ``master_dir``; return the rows inserted per table name.

    Raises :class:`~kwartier.registry.master_files.MasterDataError` (file, line, reason) before writing
    anything when a file is missing or malformed, an EAN is invalid or unknown, or a row contradicts
    the registry or another row. The caller commits the session.
    """
    grid_areas = _Rows(
        session, mf.GRID_AREAS, mf.read_grid_areas(master_dir), [GridArea.code], [GridArea.name]
    )
    parties_file = mf.read_parties(master_dir)
    parties = _Rows(session, mf.PARTIES, parties_file.drop_columns(["roles"]), [Party.code], [Party.name])
    roles = _new_roles(session, mf.read_party_roles(parties_file), roles_valid_from)

    access_points = mf.read_access_points(master_dir)
    areas = pa.concat_arrays(
        [grid_areas.desired["code"].combine_chunks(), grid_areas.registered["code"].combine_chunks()]
    )
    _fail_where(
        mf.ACCESS_POINTS,
        access_points,
        pc.invert(pc.is_in(access_points["grid_area"], value_set=areas)),
        lambda row: f"grid area {row['grid_area']!r} is not known",
    )
    points = _Rows(
        session,
        mf.ACCESS_POINTS,
        access_points,
        [AccessPoint.ean],
        [AccessPoint.energy, AccessPoint.grid_area, AccessPoint.connected_from],
    )
    energy_of = _energy_of(points)
    meters, installations = _plan_meters(session, mf.read_meters(master_dir), energy_of)
    regimes = _plan_regimes(session, mf.read_regimes(master_dir), energy_of)
    capacities = _plan_capacities(session, mf.read_capacities(master_dir), energy_of)
    production = mf.read_installations(master_dir)
    _with_energy(mf.INSTALLATIONS, production, energy_of)
    pi = ProductionInstallation
    production_rows = _Rows(
        session, mf.INSTALLATIONS, production, [pi.ean, pi.kind, pi.commissioned_on], [pi.kva]
    )

    counts = {
        GridArea.__tablename__: _insert(session, GridArea, grid_areas.new),
        Party.__tablename__: _insert(session, Party, parties.new),
    }
    party_ids = fetch_arrow(
        session, sa.select(Party.code, Party.id), _schema(("code", pa.string()), ("party_id", pa.int64()))
    )
    roles = roles.join(party_ids, keys="code").drop_columns(["code"])
    counts[PartyRoleAssignment.__tablename__] = _insert(session, PartyRoleAssignment, roles)
    now = datetime.now(UTC)
    created = pa.array([now] * points.new.num_rows, pa.timestamp("us", tz="UTC"))
    counts[AccessPoint.__tablename__] = _insert(
        session, AccessPoint, points.new.append_column("created_at", created)
    )
    counts[Meter.__tablename__] = _insert(session, Meter, meters.new)
    meter_ids = fetch_arrow(
        session, sa.select(Meter.serial, Meter.id), _schema(("serial", pa.string()), ("meter_id", pa.int64()))
    )
    installed = installations.new.join(meter_ids, keys="serial").drop_columns(["serial"])
    counts[MeterInstallation.__tablename__] = _insert(session, MeterInstallation, installed)
    counts[MeasurementRegime.__tablename__] = _insert(session, MeasurementRegime, regimes.new)
    counts[ConnectionCapacity.__tablename__] = _insert(session, ConnectionCapacity, capacities.new)
    counts[ProductionInstallation.__tablename__] = _insert(
        session, ProductionInstallation, production_rows.new
    )
    return counts


def _insert(session: Session, model: Any, rows: pa.Table) -> int:
    table: sa.Table = model.__table__
    return insert_arrow(session, table, rows.select([name for name in rows.column_names if name != LINE]))


def _schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([pa.field(name, kind) for name, kind in fields])


def _arrow_type(column: QueryableAttribute[Any]) -> pa.DataType:
    kind = column.expression.type
    if isinstance(kind, sa.Date):
        return pa.date32()
    if isinstance(kind, sa.Float):
        return pa.float64()
    if isinstance(kind, sa.Integer):
        return pa.int64()
    return pa.string()


def _registered(session: Session, columns: Sequence[QueryableAttribute[Any]], joins: Any = None) -> pa.Table:
    """The registered values of ``columns`` (enums as their text values) as an Arrow table."""
    selected: list[sa.ColumnElement[Any]] = [
        sa.type_coerce(column, sa.String).label(column.key)
        if isinstance(column.expression.type, sa.Enum)
        else column.label(column.key)
        for column in columns
    ]
    query: sa.Executable = sa.select(*selected)
    if joins is not None:
        query = joins(query)
    return fetch_arrow(session, query, _schema(*((column.key, _arrow_type(column)) for column in columns)))


def _fail_where(file: str, table: pa.Table, bad: Any, reason: Any) -> None:
    """Raise MasterDataError for the row of ``table`` with the smallest line where ``bad`` holds."""
    flagged = table.filter(pc.fill_null(bad, True))
    if flagged.num_rows:
        row = flagged.sort_by(LINE).slice(0, 1).to_pylist()[0]
        raise MasterDataError(file, row[LINE], reason(row))


def _check_unique(file: str, table: pa.Table, keys: list[str], what: str) -> None:
    groups = table.group_by(keys).aggregate([(LINE, "min"), (LINE, "max"), (LINE, "count")])
    groups = _renamed(groups, {f"{LINE}_max": LINE})
    _fail_where(
        file,
        groups,
        pc.greater(groups[f"{LINE}_count"], 1),
        lambda row: f"{what} {', '.join(str(row[k]) for k in keys)} repeats line {row[f'{LINE}_min']}",
    )


def _renamed(table: pa.Table, names: dict[str, str]) -> pa.Table:
    return table.rename_columns([names.get(name, name) for name in table.column_names])


def _same(a: pa.ChunkedArray, b: pa.ChunkedArray) -> pa.ChunkedArray:
    """Element-wise equality where two nulls are equal."""
    return pc.fill_null(pc.equal(a, b), pc.and_(pc.is_null(a), pc.is_null(b)))


class _Rows:
    """The rows of a file compared with the registry by key: ``new`` ones to insert, ``registered`` ones.

    A key repeated in the file, or registered with other facts, raises MasterDataError.
    """

    def __init__(
        self,
        session: Session,
        file: str,
        desired: pa.Table,
        keys: Sequence[QueryableAttribute[Any]],
        facts: Sequence[QueryableAttribute[Any]],
        registered: pa.Table | None = None,
        what: str | None = None,
    ) -> None:
        key_names = [column.key for column in keys]
        fact_names = [column.key for column in facts]
        label = what or desired.column_names[0].replace("_", " ")
        _check_unique(file, desired, key_names, label)
        self.desired = desired
        self.registered = _registered(session, [*keys, *facts]) if registered is None else registered
        marked = self.registered.append_column(
            REGISTERED, pa.array(np.ones(self.registered.num_rows, dtype=bool))
        )
        joined = desired.join(marked, keys=key_names, right_suffix=REGISTERED)
        matched = joined.filter(pc.is_valid(joined[REGISTERED]))
        if fact_names and matched.num_rows:
            differs = pc.invert(
                _and_all([_same(matched[name], matched[name + REGISTERED]) for name in fact_names])
            )
            _fail_where(
                file,
                matched,
                differs,
                lambda row: (
                    f"{label} {', '.join(str(row[k]) for k in key_names)} is registered as "
                    f"{tuple(row[n + REGISTERED] for n in fact_names)}, the file says "
                    f"{tuple(row[n] for n in fact_names)}"
                ),
            )
        new = joined.filter(pc.is_null(joined[REGISTERED]))
        self.new = new.select(desired.column_names).sort_by(LINE)


def _and_all(flags: list[pa.ChunkedArray]) -> pa.ChunkedArray:
    result = flags[0]
    for flag in flags[1:]:
        result = pc.and_(result, flag)
    return result


def _energy_of(points: _Rows) -> pa.Table:
    """(ean, energy) of every access point in the file or the registry, one row per EAN."""
    listed = points.desired.select(["ean", "energy"])
    others = points.registered.filter(
        pc.invert(pc.is_in(points.registered["ean"], value_set=listed["ean"].combine_chunks()))
    )
    return pa.concat_tables([listed, others.select(["ean", "energy"])])


def _with_energy(file: str, table: pa.Table, energy_of: pa.Table) -> pa.Table:
    """``table`` with the energy of its access point in ``ap_energy``; an unknown EAN is an error."""
    known = energy_of.rename_columns(["ean", "ap_energy"])
    joined = table.join(known, keys="ean")
    _fail_where(
        file,
        joined,
        pc.is_null(joined["ap_energy"]),
        lambda row: f"access point {row['ean']} is neither in access_points.csv nor registered",
    )
    return joined.sort_by(LINE)


def _chain(table: pa.Table) -> pa.Table:
    """``table`` with ``valid_to``: per EAN, each period ends where the next one starts (last: open)."""
    ordered = table.sort_by([("ean", "ascending"), ("valid_from", "ascending")])
    ean = ordered["ean"].combine_chunks()
    starts = ordered["valid_from"].combine_chunks()
    if ordered.num_rows == 0:
        return ordered.append_column("valid_to", pa.array([], pa.date32()))
    same_next = pc.equal(ean.slice(0, len(ean) - 1), ean.slice(1)).to_numpy(zero_copy_only=False)
    mask = np.append(~same_next, True)
    next_start = pa.concat_arrays([starts.slice(1), pa.array([None], pa.date32())])
    return ordered.append_column(
        "valid_to", pc.if_else(pa.array(mask), pa.scalar(None, pa.date32()), next_start)
    )


def _check_no_overlap(file: str, what: str, periods: pa.Table, owner: str) -> None:
    """Raise MasterDataError when two periods [valid_from, valid_to) of one ``owner`` overlap.

    ``periods`` has columns owner, valid_from, valid_to, line (line null: a registered period).
    """
    if periods.num_rows < 2:
        return
    ordered = periods.sort_by([(owner, "ascending"), ("valid_from", "ascending")])
    owners = ordered[owner].combine_chunks()
    same = pc.equal(owners.slice(1), owners.slice(0, len(owners) - 1)).to_numpy(zero_copy_only=False)
    starts = pc.cast(ordered["valid_from"], pa.int32()).to_numpy()
    ends = pc.fill_null(pc.cast(ordered["valid_to"], pa.int32()), NO_END).to_numpy()
    clash = same & (ends[:-1] > starts[1:])
    if clash.any():
        rows = ordered.to_pylist()
        candidates = [i + 1 for i in np.flatnonzero(clash)]
        index = min(candidates, key=lambda i: rows[i][LINE] or rows[i - 1][LINE] or 0)
        later, earlier = rows[index], rows[index - 1]
        where = f"line {earlier[LINE]}" if earlier[LINE] is not None else "the registry"
        line = later[LINE] if later[LINE] is not None else earlier[LINE]
        raise MasterDataError(
            file,
            line,
            f"{what} of {later[owner]} from {later['valid_from']} overlaps the one from "
            f"{earlier['valid_from']} ({where})",
        )


def _check_new_periods(file: str, what: str, rows: _Rows, owner: str = "ean") -> None:
    """The new periods overlap neither each other nor the registered ones of the same owner."""
    if rows.new.num_rows == 0:
        return
    columns = [owner, "valid_from", "valid_to"]
    new = rows.new.select([*columns, LINE])
    owners = new[owner].combine_chunks()
    registered = rows.registered.filter(pc.is_in(rows.registered[owner], value_set=owners)).select(columns)
    registered = registered.append_column(LINE, pa.nulls(registered.num_rows, pa.int64()))
    _check_no_overlap(file, what, pa.concat_tables([new, registered]), owner)


def _new_roles(session: Session, roles: pa.Table, valid_from: date) -> pa.Table:
    """The roles of ``parties.csv``, from ``valid_from`` and open-ended, that the registry lacks."""
    roles = roles.append_column("valid_from", pa.array([valid_from] * roles.num_rows, pa.date32()))
    roles = roles.append_column("valid_to", pa.nulls(roles.num_rows, pa.date32()))
    keys = [Party.code, PartyRoleAssignment.role, PartyRoleAssignment.valid_from]
    registered = _registered(
        session, keys, lambda query: query.join(Party, Party.id == PartyRoleAssignment.party_id)
    )
    return _Rows(session, mf.PARTIES, roles, keys, [], registered=registered, what="role").new


def _plan_meters(session: Session, table: pa.Table, energy_of: pa.Table) -> tuple[_Rows, _Rows]:
    file = mf.METERS
    table = _with_energy(file, table, energy_of)
    _fail_where(
        file,
        table,
        pc.not_equal(table["energy"], table["ap_energy"]),
        lambda row: f"a {row['energy']} meter on a {row['ap_energy']} access point",
    )
    _check_unique(file, table, ["ean", "valid_from"], "installation on")
    distinct = table.group_by(["serial", "kind", "energy"]).aggregate([(LINE, "min")])
    meters_file = _renamed(distinct, {f"{LINE}_min": LINE}).select(["serial", "kind", "energy", LINE])
    _check_unique(file, meters_file, ["serial"], "meter (with another kind or energy)")
    meters = _Rows(session, file, meters_file, [Meter.serial], [Meter.kind, Meter.energy], what="meter")
    mi = MeterInstallation
    chained = _chain(table.select(["ean", "valid_from", "serial", LINE]))
    registered = _registered(
        session,
        [mi.ean, mi.valid_from, Meter.serial, mi.valid_to],
        lambda query: query.join(Meter, Meter.id == mi.meter_id),
    )
    installations = _Rows(
        session,
        file,
        chained,
        [mi.ean, mi.valid_from],
        [Meter.serial, mi.valid_to],
        registered=registered,
        what="the installation on",
    )
    _check_new_periods(file, "an installation", installations)
    _check_new_periods(file, "the installation", installations, owner="serial")
    return meters, installations


def _plan_regimes(session: Session, table: pa.Table, energy_of: pa.Table) -> _Rows:
    file = mf.REGIMES
    _with_energy(file, table, energy_of)
    r = MeasurementRegime
    rows = _Rows(session, file, table, [r.ean, r.valid_from], [r.regime, r.valid_to], what="the regime of")
    _check_new_periods(file, "a regime", rows)
    return rows


def _plan_capacities(session: Session, table: pa.Table, energy_of: pa.Table) -> _Rows:
    file = mf.CAPACITIES
    joined = _with_energy(file, table, energy_of)
    expected = pc.if_else(
        pc.equal(joined["ap_energy"], Energy.ELECTRICITY.value),
        CapacityUnit.KVA.value,
        CapacityUnit.M3_PER_HOUR.value,
    )
    _fail_where(
        file,
        joined,
        pc.not_equal(joined["unit"], expected),
        lambda row: f"{row['unit']} does not fit a {row['ap_energy']} access point",
    )
    _check_unique(file, table, ["ean", "valid_from"], "capacity of")
    c = ConnectionCapacity
    rows = _Rows(
        session,
        file,
        _chain(table),
        [c.ean, c.valid_from],
        [c.capacity, c.unit, c.valid_to],
        what="the capacity of",
    )
    _check_new_periods(file, "a capacity", rows)
    return rows
