"""Tariff periods, units and exact kWh → Wh conversion."""

from datetime import UTC, datetime

import pytest

from kwartier.domain.channels import (
    Channel,
    TariffPeriod,
    Unit,
    gas_energy_wh,
    kwh_to_wh,
    tariff_period,
    unit_of,
)


@pytest.mark.parametrize(
    ("utc", "period"),
    [
        (datetime(2023, 11, 1, 5, 45, tzinfo=UTC), TariffPeriod.NIGHT),  # Wed 06:45 local
        (datetime(2023, 11, 1, 6, 0, tzinfo=UTC), TariffPeriod.DAY),  # Wed 07:00 local, holiday
        (datetime(2023, 11, 1, 20, 45, tzinfo=UTC), TariffPeriod.DAY),  # Wed 21:45 local
        (datetime(2023, 11, 1, 21, 0, tzinfo=UTC), TariffPeriod.NIGHT),  # Wed 22:00 local
        (datetime(2023, 11, 4, 12, 0, tzinfo=UTC), TariffPeriod.NIGHT),  # Saturday noon
        (datetime(2023, 11, 5, 12, 0, tzinfo=UTC), TariffPeriod.NIGHT),  # Sunday noon
        (datetime(2023, 12, 25, 10, 0, tzinfo=UTC), TariffPeriod.DAY),  # Christmas Monday
        (datetime(2024, 7, 1, 5, 0, tzinfo=UTC), TariffPeriod.DAY),  # Mon 07:00 summer time
        (datetime(2024, 7, 1, 4, 45, tzinfo=UTC), TariffPeriod.NIGHT),  # Mon 06:45 summer time
    ],
)
def test_tariff_period(utc: datetime, period: TariffPeriod) -> None:
    assert tariff_period(utc) is period


@pytest.mark.parametrize(
    ("text", "wh"),
    [
        ("0,173", 173),
        ("0.000", 0),
        ("12", 12000),
        ("1,5", 1500),
        ("-0,002", -2),
        ("0,0005", 1),
        ("0,0004", 0),
        ("-1,2345", -1235),
        (",5", 500),
    ],
)
def test_kwh_to_wh(text: str, wh: int) -> None:
    assert kwh_to_wh(text) == wh


@pytest.mark.parametrize("text", ["", "abc", "1,2,3", "--1", "1e3"])
def test_kwh_to_wh_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="decimal"):
        kwh_to_wh(text)


def test_units_and_gas_energy() -> None:
    assert unit_of(Channel.GAS_VOLUME) is Unit.DM3
    assert unit_of(Channel.OFFTAKE) is Unit.WH
    # 0,495 m³ at 11,0 kWh/m³ = 5,445 kWh (Mijn Fluvius gas sample, 10-01-2022 07:00)
    assert gas_energy_wh(495, 11.0) == 5445
