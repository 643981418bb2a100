"""Channels, units and tariff periods of the measured quantities.

Rules:
- electricity offtake and injection are separate registers, in integer Wh (design.md "Energy");
- gas offtake is measured as volume, stored in integer dm³ (litres), and converted to energy with the
  calorific value (upper calorific value in kWh/m³) into integer Wh;
- the electricity tariff period of an interval follows the regulated day/night calendar of the
  Flemish DSO: weekdays 07:00-22:00 local time are *day*, all other hours and the whole weekend are
  *night*; public holidays stay *day* (checked against the real Mijn Fluvius exports: Wednesday
  2023-11-01 and Monday 2023-12-25 carry "Offtake Day" from 07:00 to 22:00). An exclusive-night meter
  has its own register (*exclusive night*); gas has one register (*total*).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from kwartier.domain.timegrid import BRUSSELS

DAY_START_HOUR = 7
DAY_END_HOUR = 22
SATURDAY = 5


class Energy(StrEnum):
    """The carrier an access point delivers."""

    ELECTRICITY = "electricity"
    GAS = "gas"


class Channel(StrEnum):
    """A measured quantity; its unit is fixed by the channel (see :func:`unit_of`)."""

    OFFTAKE = "offtake"
    INJECTION = "injection"
    GAS_VOLUME = "gas_volume"
    GAS_ENERGY = "gas_energy"


class Unit(StrEnum):
    """Storage units: integers only."""

    WH = "Wh"
    DM3 = "dm3"


class TariffPeriod(StrEnum):
    """Register of the tariff calendar a value belongs to."""

    DAY = "day"
    NIGHT = "night"
    EXCLUSIVE_NIGHT = "excl_night"
    TOTAL = "total"


class ReadingStatus(StrEnum):
    """Status of a stored value version."""

    MEASURED = "measured"
    ESTIMATED = "estimated"
    REJECTED = "rejected"


def unit_of(channel: Channel) -> Unit:
    """The storage unit of ``channel``: Wh for energy, dm³ for gas volume."""
    return Unit.DM3 if channel is Channel.GAS_VOLUME else Unit.WH


def energy_of(channel: Channel) -> Energy:
    """The carrier measured by ``channel``."""
    return Energy.GAS if channel in (Channel.GAS_VOLUME, Channel.GAS_ENERGY) else Energy.ELECTRICITY


def resolution_of(energy: Energy) -> int:
    """Interval length in minutes for measurement regime 3: 15 for electricity, 60 for gas."""
    return 15 if energy is Energy.ELECTRICITY else 60


def tariff_period(start: datetime) -> TariffPeriod:
    """Day or night period of the electricity interval starting at ``start`` (aware datetime)."""
    local = start.astimezone(BRUSSELS)
    if local.weekday() >= SATURDAY:
        return TariffPeriod.NIGHT
    if DAY_START_HOUR <= local.hour < DAY_END_HOUR:
        return TariffPeriod.DAY
    return TariffPeriod.NIGHT


def gas_energy_wh(volume_dm3: int, calorific_kwh_per_m3: float) -> int:
    """Gas energy in Wh of ``volume_dm3`` litres at an upper calorific value in kWh/m³.

    Wh = dm³ × (kWh/m³) (since 1 m³ = 1000 dm³ and 1 kWh = 1000 Wh), rounded half away from zero.
    """
    exact = volume_dm3 * calorific_kwh_per_m3
    return int(exact + 0.5) if exact >= 0 else -int(-exact + 0.5)


def kwh_to_wh(kwh: str) -> int:
    """Exact conversion of a decimal kWh text ('0,173', '1.5', '-0.002') to integer Wh.

    Values with more than 3 decimals are rounded half away from zero at the Wh.
    """
    text = kwh.strip().replace(",", ".")
    negative = text.startswith("-")
    digits = text[1:] if text[:1] in "+-" else text
    whole, _, fraction = digits.partition(".")
    if not (whole or fraction) or not (whole + fraction).isdigit():
        raise ValueError(f"{kwh!r} is not a decimal number")
    fraction = fraction.ljust(4, "0")
    wh = int(whole or "0") * 1000 + int(fraction[:3])
    if int(fraction[3]) >= 5:
        wh += 1
    return -wh if negative else wh
