"""The migrations build exactly the models' schema; the database enforces the registry's constraints."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.orm import Session, sessionmaker

from kwartier.domain.channels import Energy
from kwartier.registry.access_points import AccessPoint, GridArea, MeasurementRegime
from kwartier.registry.codes import Regime
from kwartier.registry.database import alembic_config, create_registry_engine, open_registry, upgrade
from kwartier.registry.models import metadata
from tests.registry.scenario import E1

TABLES = {
    "access_log",
    "access_points",
    "accounts",
    "api_clients",
    "api_tokens",
    "api_usage",
    "batches",
    "connection_capacities",
    "data_access_contracts",
    "export_jobs",
    "grid_areas",
    "incidents",
    "mandates",
    "market_inbox",
    "market_outbox",
    "market_processes",
    "measurement_regimes",
    "meter_installations",
    "meters",
    "parties",
    "party_roles",
    "portal_sessions",
    "process_events",
    "production_installations",
    "pseudonym_keys",
    "register_facts",
    "reservations",
    "sharing_groups",
    "sharing_participations",
    "sharing_terms",
    "user_port_requests",
    "webhook_deliveries",
}


def test_upgrade_from_empty_builds_the_models_schema(empty_url: str) -> None:
    upgrade(empty_url)
    upgrade(empty_url)  # a second run finds nothing to do
    engine = create_registry_engine(empty_url)
    try:
        with engine.connect() as connection:
            assert set(sa.inspect(connection).get_table_names()) == TABLES | {"alembic_version"}
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
            head = ScriptDirectory.from_config(alembic_config()).get_current_head()
            assert context.get_current_revision() == head
    finally:
        engine.dispose()
    assert set(metadata.tables) == TABLES


def _access_point(session: Session) -> None:
    session.add(GridArea(code="GA1", name="Antwerpen"))
    session.flush()
    session.add(
        AccessPoint(
            ean=E1,
            energy=Energy.ELECTRICITY,
            grid_area="GA1",
            connected_from=date(2020, 1, 1),
            created_at=datetime(2026, 11, 23, 12, tzinfo=UTC),
        )
    )
    session.flush()


@pytest.mark.parametrize("valid_to", [date(2026, 1, 1), date(2025, 12, 31)])
def test_a_validity_period_must_not_be_empty(registry: sessionmaker[Session], valid_to: date) -> None:
    with registry() as session:
        _access_point(session)
        session.commit()
        session.add(
            MeasurementRegime(ean=E1, regime=Regime.SMR3, valid_from=date(2026, 1, 1), valid_to=valid_to)
        )
        with pytest.raises(sa.exc.IntegrityError, match="validity"):
            session.flush()


def test_an_open_ended_and_a_one_day_period_are_valid(registry: sessionmaker[Session]) -> None:
    with registry() as session:
        _access_point(session)
        session.add(
            MeasurementRegime(
                ean=E1, regime=Regime.SMR1, valid_from=date(2026, 1, 1), valid_to=date(2026, 1, 2)
            )
        )
        session.add(MeasurementRegime(ean=E1, regime=Regime.SMR3, valid_from=date(2026, 1, 2), valid_to=None))
        session.commit()
        assert session.scalar(sa.select(sa.func.count()).select_from(MeasurementRegime)) == 2


def test_foreign_keys_are_enforced(registry: sessionmaker[Session]) -> None:
    with registry() as session:
        session.add(MeasurementRegime(ean=E1, regime=Regime.SMR1, valid_from=date(2026, 1, 1), valid_to=None))
        with pytest.raises(sa.exc.IntegrityError):
            session.flush()


def test_a_code_outside_its_list_is_refused_by_the_database(registry: sessionmaker[Session]) -> None:
    with registry() as session:
        _access_point(session)
        session.commit()
        with pytest.raises(sa.exc.IntegrityError, match="regime"):
            session.execute(
                sa.text(
                    "INSERT INTO measurement_regimes (ean, regime, valid_from) VALUES (:ean, 'SMR2', :day)"
                ),
                {"ean": E1, "day": date(2026, 1, 1)},
            )


def test_instants_come_back_in_utc_and_naive_ones_are_refused(registry_url: str) -> None:
    factory = open_registry(registry_url)
    brussels_noon = datetime(2026, 7, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    with factory() as session:
        session.add(GridArea(code="GA1", name="Antwerpen"))
        session.flush()
        session.add(
            AccessPoint(
                ean=E1,
                energy=Energy.GAS,
                grid_area="GA1",
                connected_from=date(2020, 1, 1),
                created_at=brussels_noon,
            )
        )
        session.commit()
    with factory() as session:
        created = session.scalars(sa.select(AccessPoint.created_at)).one()
        assert created == datetime(2026, 7, 1, 10, tzinfo=UTC)
        assert created.utcoffset() == timedelta(0)
        session.get_one(AccessPoint, E1).created_at = datetime(2026, 7, 1, 12)  # noqa: DTZ001
        with pytest.raises(sa.exc.StatementError, match="timezone-aware"):
            session.flush()
    factory.kw["bind"].dispose()
