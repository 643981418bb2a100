"""The registry context per access point: rows split where a fact changes, worked out by hand.

Expected rows for November 2026 (see :mod:`tests.registry.scenario`). Periods are the intersection of the
meter installation, regime, capacity and production state, not cut to the range.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from kwartier.registry.context import ACCESS_POINT_CONTEXT_BY_EAN, access_point_context, access_point_limits
from kwartier.registry.installations import ProductionInstallation
from kwartier.registry.master_data import load_master_data
from kwartier.schema import ACCESS_POINT_CONTEXT, AP, EAN
from tests.registry.scenario import E1, E2, E3, E4, E5, G1, write_master

NOVEMBER = (date(2026, 11, 1), date(2026, 12, 1))
D = date
EXPECTED_NOVEMBER = [
    # ean, energy, meter_kind, regime, capacity, has_production, valid_from, valid_to
    (E1, "electricity", "digital", "SMR1", 9.2, True, D(2021, 5, 1), D(2026, 11, 15)),  # PV from 2021-05-01
    (E1, "electricity", "digital", "SMR3", 9.2, True, D(2026, 11, 15), None),  # regime change mid-month
    (E2, "electricity", "classic", "SMR1", 6.9, False, D(2019, 1, 1), D(2026, 11, 10)),
    (E2, "electricity", "digital", "SMR1", 6.9, False, D(2026, 11, 10), None),  # meter replaced
    (E3, "electricity", "digital", "SMR3", 5.0, False, D(2022, 3, 1), D(2026, 11, 20)),
    (E3, "electricity", "digital", "SMR3", 5.0, True, D(2026, 11, 20), None),  # battery commissioned
    (E4, "electricity", "digital", "SMR1", 9.2, True, D(2015, 6, 1), None),  # PV replaced the same day
    (G1, "gas", "digital", "SMR1", 10.0, False, D(2018, 6, 1), None),
    # E5 has no regime after 2026-10-01: no row
]


@pytest.fixture
def loaded(registry: sessionmaker[Session], tmp_path: Path) -> sessionmaker[Session]:
    """The scenario loaded, with E4's first PV decommissioned the day its successor is commissioned."""
    with registry() as session:
        load_master_data(session, write_master(tmp_path / "master"))
        session.execute(
            sa.update(ProductionInstallation)
            .where(
                ProductionInstallation.ean == E4, ProductionInstallation.commissioned_on == date(2015, 6, 1)
            )
            .values(decommissioned_on=date(2026, 11, 5))
        )
        session.commit()
    return registry


def _rows(table: pa.Table) -> list[tuple[object, ...]]:
    return [tuple(row.values()) for row in table.to_pylist()]


def test_context_splits_where_regime_meter_or_production_change(loaded: sessionmaker[Session]) -> None:
    with loaded() as session:
        table = access_point_context(session, *NOVEMBER)
    assert table.schema == ACCESS_POINT_CONTEXT_BY_EAN
    assert _rows(table) == EXPECTED_NOVEMBER


def test_context_schema_is_the_shared_one_keyed_by_ean() -> None:
    assert ACCESS_POINT_CONTEXT_BY_EAN.names == [EAN, *ACCESS_POINT_CONTEXT.names[1:]]
    assert ACCESS_POINT_CONTEXT.names[0] == AP
    assert ACCESS_POINT_CONTEXT_BY_EAN.remove(0) == ACCESS_POINT_CONTEXT.remove(0)


def test_context_keeps_only_periods_overlapping_the_range(loaded: sessionmaker[Session]) -> None:
    with loaded() as session:
        september = access_point_context(session, date(2026, 9, 30), date(2026, 10, 1))
        first_of_october = access_point_context(session, date(2026, 10, 1), date(2026, 10, 2))
        day_of_regime_change = access_point_context(session, date(2026, 11, 15), date(2026, 11, 16))
    e5 = (E5, "electricity", "digital", "SMR1", 9.2, False, D(2015, 1, 1), D(2026, 10, 1))
    assert e5 in _rows(september)
    assert E5 not in first_of_october.column(EAN).to_pylist()  # valid_to is exclusive
    assert [row for row in _rows(day_of_regime_change) if row[0] == E1] == [EXPECTED_NOVEMBER[1]]


def test_has_production_ends_with_the_decommissioning(loaded: sessionmaker[Session]) -> None:
    with loaded() as session:
        session.execute(
            sa.update(ProductionInstallation)
            .where(ProductionInstallation.ean == E1)
            .values(decommissioned_on=date(2026, 11, 20))
        )
        table = access_point_context(session, *NOVEMBER)
    assert [row for row in _rows(table) if row[0] == E1] == [
        EXPECTED_NOVEMBER[0],
        (E1, "electricity", "digital", "SMR3", 9.2, True, D(2026, 11, 15), D(2026, 11, 20)),
        (E1, "electricity", "digital", "SMR3", 9.2, False, D(2026, 11, 20), None),
    ]


def test_an_empty_registry_gives_an_empty_table(registry: sessionmaker[Session]) -> None:
    with registry() as session:
        table = access_point_context(session, *NOVEMBER)
    assert table.num_rows == 0
    assert table.schema == ACCESS_POINT_CONTEXT_BY_EAN


def test_an_empty_range_is_refused(registry: sessionmaker[Session]) -> None:
    with registry() as session, pytest.raises(ValueError, match="empty range"):
        access_point_context(session, date(2026, 11, 1), date(2026, 11, 1))


def test_limits_are_the_largest_capacity_and_any_production_of_the_context(
    loaded: sessionmaker[Session],
) -> None:
    with loaded() as session:
        limits = access_point_limits(session, *NOVEMBER)
    expected: dict[object, tuple[float, bool]] = {}
    for ean, _, _, _, capacity, production, _, _ in EXPECTED_NOVEMBER:
        before = expected.get(ean, (0.0, False))
        expected[ean] = (max(before[0], float(str(capacity))), before[1] or bool(production))
    assert _rows(limits) == [
        (ean, *facts) for ean, facts in sorted(expected.items(), key=lambda i: str(i[0]))
    ]
    assert (E1, 9.2, True) in _rows(limits)
    assert (E2, 6.9, False) in _rows(limits)
