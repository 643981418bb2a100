"""Loading the master-data files: counts, idempotence, and errors that name file, line and reason."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from kwartier.registry.access_points import AccessPoint, ConnectionCapacity, GridArea, MeasurementRegime
from kwartier.registry.codes import PartyRole
from kwartier.registry.installations import ProductionInstallation
from kwartier.registry.master_data import MARKET_OPENING, load_master_data
from kwartier.registry.master_files import MasterDataError
from kwartier.registry.meters import Meter, MeterInstallation, meter_to_ean
from kwartier.registry.models import Base
from kwartier.registry.parties import Party, PartyRoleAssignment
from tests.registry.scenario import E1, E2, FILES, G1, SUPPLIER_GLN, UNKNOWN, write_master

FIRST_LOAD = {
    "grid_areas": 1,
    "parties": 2,
    "party_roles": 3,  # supplier, brp, dso
    "access_points": 6,
    "meters": 7,
    "meter_installations": 7,
    "measurement_regimes": 7,
    "connection_capacities": 6,
    "production_installations": 4,
}


def _row_counts(session: Session) -> dict[str, int]:
    return {
        name: session.scalar(sa.select(sa.func.count()).select_from(table)) or 0
        for name, table in Base.metadata.tables.items()
        if name in FIRST_LOAD
    }


def _with(file: str, line: int, text: str) -> dict[str, list[str]]:
    """The scenario files with line ``line`` (1-based, header = 1) of ``file`` replaced by ``text``."""
    files = {name: list(lines) for name, lines in FILES.items()}
    files[file][line - 1] = text
    return files


def test_loading_twice_adds_nothing_the_second_time(registry: sessionmaker[Session], tmp_path: Path) -> None:
    master = write_master(tmp_path / "master")
    with registry() as session:
        assert load_master_data(session, master) == FIRST_LOAD
        session.commit()
    with registry() as session:
        assert load_master_data(session, master) == dict.fromkeys(FIRST_LOAD, 0)
        session.commit()
        assert _row_counts(session) == FIRST_LOAD


def test_loaded_facts(registry: sessionmaker[Session], tmp_path: Path) -> None:
    with registry() as session:
        load_master_data(session, write_master(tmp_path / "master"))
        session.commit()
    with registry() as session:
        assert session.get_one(GridArea, "GA1").name == "Antwerpen"
        roles = session.execute(
            sa.select(PartyRoleAssignment.role, PartyRoleAssignment.valid_from, PartyRoleAssignment.valid_to)
            .join(Party, Party.id == PartyRoleAssignment.party_id)
            .where(Party.code == SUPPLIER_GLN)
            .order_by(PartyRoleAssignment.role)
        ).all()
        assert [tuple(r) for r in roles] == [
            (PartyRole.BRP, MARKET_OPENING, None),
            (PartyRole.SUPPLIER, MARKET_OPENING, None),
        ]
        gas = session.get_one(AccessPoint, G1)
        assert (gas.energy, gas.grid_area, gas.connected_from) == ("gas", "GA1", date(2018, 6, 1))
        # E2's classic meter M2 holds until the digital meter M3 is installed (chained from meters.csv)
        periods = session.execute(
            sa.select(Meter.serial, MeterInstallation.valid_from, MeterInstallation.valid_to)
            .join(Meter, Meter.id == MeterInstallation.meter_id)
            .where(MeterInstallation.ean == E2)
            .order_by(MeterInstallation.valid_from)
        ).all()
        assert [tuple(p) for p in periods] == [
            ("M2", date(2019, 1, 1), date(2026, 11, 10)),
            ("M3", date(2026, 11, 10), None),
        ]
        capacity = session.scalars(sa.select(ConnectionCapacity).where(ConnectionCapacity.ean == G1)).one()
        assert (capacity.capacity, capacity.unit, capacity.valid_to) == (10.0, "m3/h", None)
        assert session.scalar(sa.select(sa.func.count()).where(ProductionInstallation.ean == E1)) == 1


def test_meter_to_ean_follows_the_installation_periods(
    registry: sessionmaker[Session], tmp_path: Path
) -> None:
    with registry() as session:
        load_master_data(session, write_master(tmp_path / "master"))
        assert meter_to_ean(session, "M2", date(2019, 1, 1)) == E2
        assert meter_to_ean(session, "M2", date(2026, 11, 9)) == E2
        assert meter_to_ean(session, "M2", date(2026, 11, 10)) is None  # removed that day
        assert meter_to_ean(session, "M3", date(2026, 11, 10)) == E2
        assert meter_to_ean(session, "M3", date(2026, 11, 9)) is None
        assert meter_to_ean(session, "NO-SUCH-METER", date(2026, 11, 9)) is None


@pytest.mark.parametrize(
    ("file", "line", "text", "reason"),
    [
        (
            "access_points.csv",
            3,
            "541448820000000025,electricity,GA1,2019-01-01",
            "check digit is 5, GS1 gives 2",
        ),
        (
            "access_points.csv",
            4,
            "54144882000000003,electricity,GA1,2022-03-01",
            "an EAN has 18 digits, not 17",
        ),
        (
            "meters.csv",
            2,
            "M1,541448820000000093,digital,electricity,2020-01-01",
            "check digit is 3, GS1 gives 1",
        ),
        (
            "access_points.csv",
            2,
            f"{E1},water,GA1,2020-01-01",
            "energy 'water' is not one of electricity, gas",
        ),
        ("access_points.csv", 2, f"{E1},electricity,GA9,2020-01-01", "grid area 'GA9' is not known"),
        ("access_points.csv", 3, f"{E1},electricity,GA1,2020-01-01", "repeats line 2"),
        ("regimes.csv", 2, f"{E1},SMR1,2020-01-01,2020-01-01", "valid_to 2020-01-01 is not after valid_from"),
        (
            "regimes.csv",
            3,
            f"{E1},SMR3,2026-11-14,",
            "from 2026-11-14 overlaps the one from 2020-01-01 (line 2)",
        ),
        (
            "meters.csv",
            2,
            f"M1,{G1},digital,electricity,2020-01-01",
            "a electricity meter on a gas access point",
        ),
        ("meters.csv", 2, f"M1,{UNKNOWN},digital,electricity,2020-01-01", "neither in access_points.csv"),
        ("capacities.csv", 2, f"{E1},9.2,m3/h,2020-01-01", "m3/h does not fit a electricity access point"),
        ("capacities.csv", 2, f"{E1},-1,kVA,2020-01-01", "capacity '-1' is not a positive number"),
        (
            "installations.csv",
            2,
            f"{E1},pv,4.5,2021-13-01",
            "commissioned_on '2021-13-01' is not an ISO date",
        ),
        ("parties.csv", 2, "5414499000010,Stroom NV,supplier", "check digit is 0, GS1 gives 7"),
        ("parties.csv", 2, f"{SUPPLIER_GLN},Stroom NV,supplier|trader", "role 'trader' is not one of"),
        ("grid_areas.csv", 1, "code,name,extra", "header must be code,name"),
        ("grid_areas.csv", 2, "GA1", "1 fields, the header has 2"),
    ],
)
def test_a_bad_row_names_file_line_and_reason_and_writes_nothing(
    registry: sessionmaker[Session], tmp_path: Path, file: str, line: int, text: str, reason: str
) -> None:
    master = write_master(tmp_path / "master", _with(file, line, text))
    with registry() as session:
        with pytest.raises(MasterDataError, match=f"^{file}:{line}: .*") as error:
            load_master_data(session, master)
        assert reason in error.value.reason
        session.commit()  # nothing was written before the error
        assert _row_counts(session) == dict.fromkeys(FIRST_LOAD, 0)


def test_a_changed_row_is_an_error_not_an_update(registry: sessionmaker[Session], tmp_path: Path) -> None:
    with registry() as session:
        load_master_data(session, write_master(tmp_path / "first"))
        session.commit()
    changed = write_master(tmp_path / "changed", _with("capacities.csv", 3, f"{E2},9.2,kVA,2019-01-01"))
    expected = r"^capacities\.csv:3: the capacity of .* is registered as \(6\.9"
    with registry() as session, pytest.raises(MasterDataError, match=expected):
        load_master_data(session, changed)


def test_a_new_period_must_not_overlap_a_registered_one(
    registry: sessionmaker[Session], tmp_path: Path
) -> None:
    with registry() as session:
        load_master_data(session, write_master(tmp_path / "first"))
        session.commit()
    files = {name: [lines[0]] for name, lines in FILES.items()}
    files["grid_areas.csv"] = FILES["grid_areas.csv"]
    files["regimes.csv"].append(f"{E2},SMR3,2026-01-01,")  # E2 is SMR1 from 2019-01-01, open-ended
    expected = r"^regimes\.csv:2: a regime of .* overlaps .*the registry"
    with registry() as session, pytest.raises(MasterDataError, match=expected):
        load_master_data(session, write_master(tmp_path / "second", files))


def test_a_later_file_adds_to_the_registry(registry: sessionmaker[Session], tmp_path: Path) -> None:
    with registry() as session:
        load_master_data(session, write_master(tmp_path / "first"))
        session.commit()
    files = {name: [lines[0]] for name, lines in FILES.items()}
    files["installations.csv"].append(f"{E2},pv,3.2,2026-12-01")
    with registry() as session:
        counts = load_master_data(session, write_master(tmp_path / "second", files))
        assert counts == {**dict.fromkeys(FIRST_LOAD, 0), "production_installations": 1}
        assert session.scalar(sa.select(sa.func.count()).select_from(MeasurementRegime)) == 7


def test_a_missing_file_is_named(registry: sessionmaker[Session], tmp_path: Path) -> None:
    master = write_master(tmp_path / "master")
    (master / "regimes.csv").unlink()
    with registry() as session, pytest.raises(MasterDataError, match=r"^regimes\.csv: missing"):
        load_master_data(session, master)
