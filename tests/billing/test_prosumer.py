"""Legacy prosumers: who is netted, the prosumer tariff, and the statement of ``kwartier billing``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from kwartier.billing.prosumer import prosumer_tariff_eur
from kwartier.billing.statement import billing_statement
from kwartier.config import Settings, load_settings
from kwartier.domain.channels import Energy
from kwartier.registry.access_points import AccessPoint, GridArea
from kwartier.registry.codes import InstallationKind, MeterKind
from kwartier.registry.database import open_registry, upgrade
from kwartier.registry.installations import ProductionInstallation
from kwartier.registry.meters import Meter, MeterInstallation
from kwartier.schema import STORED_READINGS
from kwartier.store.pseudonym import Pseudonymiser
from kwartier.store.store import MeterStore
from tests.billing.scenario import SCENARIOS, read_csv, when_readings

CLASSIC = "541448800000000011"
OLD_DIGITAL = "541448800000000028"
NEW_DIGITAL = "541448800000000035"
RECORDED = datetime(2026, 6, 5, tzinfo=UTC)


def test_prosumer_tariff_is_pro_rata_of_the_days_of_each_year() -> None:
    assert prosumer_tariff_eur(4.0, Decimal(100), date(2026, 1, 1), date(2027, 1, 1)) == Decimal("400.00")
    # 184/365 × 400 + 182/366 × 400 = 201.6438… + 198.9071… (2028 is a leap year)
    assert prosumer_tariff_eur(4.0, Decimal(100), date(2027, 7, 1), date(2028, 7, 1)) == Decimal("400.55")
    assert prosumer_tariff_eur(3.5, Decimal("97.31"), date(2026, 3, 1), date(2026, 3, 1)) == Decimal("0.00")


@pytest.fixture
def home(tmp_path: Path) -> Settings:
    """A data home with a classic-meter prosumer, a digital one from before 2021 and a digital one whose
    PV came in 2021, and the readings of the net-metering scenario under each digital access point."""
    settings = load_settings(tmp_path / "home")
    upgrade(settings.registry_url)
    created = datetime(2019, 1, 1, tzinfo=UTC)
    with open_registry(settings.registry_url)() as session, session.begin():
        session.add(GridArea(code="GA", name="Grid area"))
        session.flush()
        for number, (ean, kind, placed, pv_since) in enumerate(
            [
                (CLASSIC, MeterKind.CLASSIC, date(2001, 1, 1), date(2012, 5, 1)),
                (OLD_DIGITAL, MeterKind.DIGITAL, date(2019, 5, 1), date(2018, 3, 1)),
                (NEW_DIGITAL, MeterKind.DIGITAL, date(2019, 5, 1), date(2021, 3, 1)),
            ]
        ):
            session.add(
                AccessPoint(
                    ean=ean,
                    energy=Energy.ELECTRICITY,
                    grid_area="GA",
                    connected_from=placed,
                    created_at=created,
                )
            )
            meter = Meter(serial=f"M{number}", kind=kind, energy=Energy.ELECTRICITY)
            session.add(meter)
            session.flush()
            session.add(MeterInstallation(ean=ean, meter_id=meter.id, valid_from=placed, valid_to=None))
            session.add(
                ProductionInstallation(
                    ean=ean,
                    kind=InstallationKind.PV,
                    kva=4.0,
                    commissioned_on=pv_since,
                    decommissioned_on=None,
                )
            )
    pseudonymiser = Pseudonymiser.from_key_file(settings.pseudonym_key_file)
    scenario = when_readings(SCENARIOS / "given_consumption_around_the_net_metering_cutoff")
    store = MeterStore.open(settings.store_dir)
    for ean in (OLD_DIGITAL, NEW_DIGITAL):
        rows = scenario.num_rows
        table = pa.table(
            {
                "ap": [pseudonymiser.of(ean)] * rows,
                "channel": scenario.column("channel"),
                "tariff": scenario.column("tariff"),
                "start": scenario.column("start"),
                "minutes": scenario.column("minutes"),
                "value": scenario.column("value"),
                "status": scenario.column("status"),
                "rule": pa.nulls(rows, pa.string()),
                "method": pa.nulls(rows, pa.string()),
                "batch": [f"batch-{ean}"] * rows,
                "recorded_at": pa.array([RECORDED] * rows, pa.timestamp("us", tz="UTC")),
            },
            schema=STORED_READINGS,
        )
        with store.stage(f"batch-{ean}") as staged:
            staged.write_table("readings", table)
            store.commit(staged, {})
    return settings


def _statement(settings: Settings, ean: str, cutoff: date | None) -> dict[str, object]:
    return billing_statement(
        settings, ean, date(2026, 6, 1), date(2026, 6, 4), cutoff=cutoff, eur_per_kva_year=Decimal(100)
    )


def test_digital_prosumer_from_before_2021_is_netted_until_the_cutoff(home: Settings) -> None:
    statement = _statement(home, OLD_DIGITAL, date(2026, 6, 3))
    assert statement["net_metering"] == {
        "gross_from": "2026-06-03",
        "tariffs": [
            {
                "tariff": "day",
                "offtake_wh": 1800,
                "injection_wh": 1300,
                "net_offtake_wh": 900,
                "netted_injection_wh": 900,
            },
            {
                "tariff": "night",
                "offtake_wh": 550,
                "injection_wh": 50,
                "net_offtake_wh": 550,
                "netted_injection_wh": 0,
            },
        ],
    }
    assert "prosumer_tariff" not in statement
    assert "net_metering" not in _statement(home, OLD_DIGITAL, None)  # no cut-off given: gross


def test_daily_totals_are_those_of_the_scenario(home: Settings) -> None:
    statement = billing_statement(
        home,
        OLD_DIGITAL,
        date(2026, 6, 1),
        date(2026, 6, 4),
        cutoff=None,
        eur_per_kva_year=Decimal(100),
        daily=True,
    )
    days = statement["days"]
    assert isinstance(days, list)
    expected = {
        (row["day"], row["channel"], row["tariff"]): float(row["energy_kwh"])
        for row in read_csv(
            SCENARIOS / "given_consumption_around_the_net_metering_cutoff" / "then" / "daily.csv"
        )[1]
    }
    got = {
        (day["day"], channel, tariff): figures["kwh"]
        for day in days
        for channel in ("offtake", "injection")
        for tariff, figures in day.get(channel, {}).items()
    }
    assert got == expected


def test_pv_from_2021_on_never_had_the_reverse_counter(home: Settings) -> None:
    statement = _statement(home, NEW_DIGITAL, date(2026, 6, 3))
    assert "net_metering" not in statement
    assert statement["meter"] == "digital"


def test_classic_meter_pays_the_flat_peak_and_the_prosumer_tariff(home: Settings) -> None:
    statement = billing_statement(
        home,
        CLASSIC,
        date(2026, 1, 1),
        date(2027, 1, 1),
        cutoff=date(2021, 3, 1),
        eur_per_kva_year=Decimal(100),
    )
    assert statement["peaks"] == [{"flat": True, "billing_peak_kw": 2.5}]
    assert statement["prosumer_tariff"] == {"inverter_kva": 4.0, "eur_per_kva_year": "100", "eur": "400.00"}
    assert statement["net_metering"] == {"gross_from": None, "tariffs": []}
