"""The access points of a simulated region and what is behind each of them, drawn once per run.

Electricity access points are households, small businesses or large connections (> 56 kVA, AMR meter).
A share of the households also has a gas access point with its own EAN and meter; a gas meter is digital
when the household's electricity meter is (the roll-out replaces both at once). Capacities are the usual
Belgian connection sizes: 1×40 A 230 V = 9.2 kVA, 3×25 A 400 V = 17.3 kVA, 3×40 A = 27.7 kVA; gas
meters G4 (6 m³/h) and G6 (10 m³/h).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import IntEnum

import numpy as np

from kwartier.domain.ean import with_check_digit
from kwartier.simulate.arrays import BoolArray, FloatArray, IntArray
from kwartier.simulate.config import RegionConfig
from kwartier.simulate.profiles import PANEL_AZIMUTHS_DEG
from kwartier.simulate.weather import seasonal_temperature

EAN_PREFIX = "541448"  # GS1 Belgium (54) + a grid operator range; 6 + 11 digits + check digit = 18
HEATING_BASE_C = 16.5  # base temperature of heating degree days in Belgium (Synergrid)


class Segment(IntEnum):
    """Kind of electricity access point."""

    HOUSEHOLD = 0
    BUSINESS = 1
    LARGE = 2


class MeterKind(IntEnum):
    """Meter technology; only digital and AMR meters deliver interval data."""

    DIGITAL = 0
    AMR = 1
    CLASSIC = 2


METER_KIND_TEXT = ("digital", "amr", "classic")


@dataclass(frozen=True)
class Region:
    """Per-access-point attributes; electricity arrays have one entry per electricity access point,
    gas arrays one per gas access point (``gas_of`` = the electricity access point it belongs to)."""

    ean: list[str]
    meter: list[str]
    segment: IntArray
    grid_area: IntArray
    kind: IntArray
    smr3: BoolArray
    capacity_kva: FloatArray
    annual_kwh: FloatArray
    connected_from: IntArray  # days since 1970-01-01
    installed_from: IntArray
    pv_kwp: FloatArray  # 0: no PV
    pv_orientation: IntArray
    pv_registered: BoolArray
    pv_commissioned: IntArray
    battery_kwh: FloatArray  # 0: no battery
    battery_kw: FloatArray
    battery_commissioned: IntArray
    heat_pump_kw_per_k: FloatArray  # 0: no heat pump
    ev_charger_kw: FloatArray  # 0: no EV
    ev_sessions_per_day: FloatArray
    non_communicating: BoolArray
    gas_of: IntArray
    gas_ean: list[str]
    gas_meter: list[str]
    gas_kind: IntArray
    gas_smr3: BoolArray
    gas_capacity_m3h: FloatArray
    gas_base_m3_per_day: FloatArray
    gas_m3_per_degree_day: FloatArray
    gas_connected_from: IntArray
    gas_installed_from: IntArray
    gas_non_communicating: BoolArray

    @property
    def delivers(self) -> BoolArray:
        """Electricity meters that send interval data during the period."""
        delivers: BoolArray = (self.kind != MeterKind.CLASSIC) & ~self.non_communicating
        return delivers

    @property
    def gas_delivers(self) -> BoolArray:
        """Gas meters that send interval data during the period."""
        delivers: BoolArray = (self.gas_kind != MeterKind.CLASSIC) & ~self.gas_non_communicating
        return delivers

    @property
    def inverter_kva(self) -> FloatArray:
        """Inverter rating [kVA] of the PV installations: 0.9 × peak power, at most the connection."""
        return np.round(np.minimum(self.pv_kwp * 0.9, self.capacity_kva), 1).astype(np.float64)

    @property
    def injects(self) -> BoolArray:
        """Access points with a production installation (PV, or a battery which comes with PV)."""
        return self.pv_kwp > 0


def _days(value: date) -> int:
    return (value - date(1970, 1, 1)).days


def _dates_between(rng: np.random.Generator, low: IntArray, high: int) -> IntArray:
    """A uniform day in [low, high) for each element (days since the epoch)."""
    span = np.maximum(high - low, 1)
    return low + (rng.random(len(low)) * span).astype(np.int64)


def _eans(rng: np.random.Generator, count: int) -> list[str]:
    first = int(rng.integers(10**9, 5 * 10**10))
    return [with_check_digit(f"{EAN_PREFIX}{first + i:011d}") for i in range(count)]


def _serials(prefix: str, rng: np.random.Generator, count: int) -> list[str]:
    first = int(rng.integers(10**6, 10**7))
    return [f"{prefix}{first + i:08d}" for i in range(count)]


def heating_degree_days_normal() -> float:
    """Heating degree days [K·day] of a normal year at base 16.5 °C on the seasonal temperature curve."""
    year = [date(2025, 1, 1) + timedelta(days=d) for d in range(365)]
    return float(sum(max(0.0, HEATING_BASE_C - seasonal_temperature(day)) for day in year))


def build_region(config: RegionConfig, rng: np.random.Generator) -> Region:
    """Draw the region of ``config`` from ``rng`` (vectorised, one pass over all access points)."""
    n = config.access_points
    start = _days(config.start)
    draw = rng.random(n)
    segment = np.full(n, Segment.HOUSEHOLD, dtype=np.int64)
    segment[draw < config.amr_share + config.business_share] = Segment.BUSINESS
    segment[draw < config.amr_share] = Segment.LARGE
    household = segment == Segment.HOUSEHOLD
    business = segment == Segment.BUSINESS
    large = segment == Segment.LARGE

    kind = np.where(rng.random(n) < config.digital_share, MeterKind.DIGITAL, MeterKind.CLASSIC)
    kind[large] = MeterKind.AMR
    smr3 = (kind == MeterKind.AMR) | ((kind == MeterKind.DIGITAL) & (rng.random(n) < config.smr3_share))

    capacity = rng.choice(np.array([9.2, 17.3, 27.7]), size=n, p=[0.55, 0.40, 0.05])
    capacity[business] = rng.choice(np.array([17.3, 27.7, 43.6, 55.4]), size=int(business.sum()))
    capacity[large] = rng.choice(np.array([69.3, 110.9, 173.2, 250.0, 400.0, 630.0]), size=int(large.sum()))
    annual = rng.uniform(2_000, 6_000, n)
    annual[business] = capacity[business] * rng.uniform(300, 900, int(business.sum()))  # kVA × full-load h
    annual[large] = capacity[large] * rng.uniform(800, 2_500, int(large.sum()))

    pv_draw = rng.random(n)
    has_pv = np.where(household, pv_draw < config.pv_share, pv_draw < 0.3)
    pv_kwp = np.where(has_pv, rng.uniform(3.0, 9.0, n), 0.0)
    pv_kwp[business & has_pv] = np.minimum(
        rng.uniform(10, 40, int((business & has_pv).sum())), 0.8 * capacity[business & has_pv]
    )
    pv_kwp[large & has_pv] = capacity[large & has_pv] * rng.uniform(0.1, 0.5, int((large & has_pv).sum()))
    pv_kwp = np.round(pv_kwp, 1).astype(np.float64)
    orientation = rng.choice(len(PANEL_AZIMUTHS_DEG), size=n, p=[0.4, 0.15, 0.15, 0.15, 0.15]).astype(
        np.int64
    )

    battery_given_pv = min(1.0, config.battery_share / max(config.pv_share, 1e-9))
    has_battery = household & has_pv & (rng.random(n) < battery_given_pv)
    battery_kwh = np.where(has_battery, np.round(rng.uniform(5.0, 13.5, n), 1), 0.0)
    battery_kw = np.where(has_battery, np.minimum(np.round(battery_kwh / 2, 1), 5.0), 0.0)

    has_heat_pump = household & (rng.random(n) < config.heat_pump_share)
    heat_pump = np.where(has_heat_pump, rng.uniform(0.06, 0.14, n), 0.0)
    has_ev = household & (rng.random(n) < config.ev_share)
    ev_kw = np.where(has_ev, rng.choice(np.array([3.7, 7.4, 11.0]), size=n, p=[0.3, 0.5, 0.2]), 0.0)
    capacity[has_ev | has_heat_pump] = np.maximum(capacity[has_ev | has_heat_pump], 17.3)
    ev_sessions = np.where(has_ev, rng.uniform(0.3, 0.7, n), 0.0)

    connected = _dates_between(rng, np.full(n, _days(date(1965, 1, 1))), _days(date(2024, 1, 1)))
    digital_from = _dates_between(rng, np.maximum(connected, _days(date(2019, 1, 1))), start - 30)
    installed = np.where(kind == MeterKind.CLASSIC, connected, digital_from)
    pv_commissioned = _dates_between(rng, np.maximum(connected, _days(date(2009, 1, 1))), start - 60)
    battery_commissioned = _dates_between(
        rng, np.maximum(pv_commissioned, _days(date(2020, 1, 1))), start - 30
    )
    non_communicating = (kind == MeterKind.DIGITAL) & (
        rng.random(n) < config.faults.non_communicating_electricity
    )
    # ~2 % of PV installations are missing from the registry; only where the meter reports injection
    delivers = (kind != MeterKind.CLASSIC) & ~non_communicating
    pv_registered = ~(has_pv & delivers & (rng.random(n) < config.unregistered_pv_share))

    gas_given_no_heat_pump = min(1.0, config.gas_share / max(1 - config.heat_pump_share, 1e-9))
    gas_of = np.flatnonzero(household & ~has_heat_pump & (rng.random(n) < gas_given_no_heat_pump))
    g = len(gas_of)
    gas_kind = np.where(kind[gas_of] == MeterKind.DIGITAL, MeterKind.DIGITAL, MeterKind.CLASSIC).astype(
        np.int64
    )
    gas_annual = rng.uniform(800, 2_200, g)  # m³ a year (≈ 9-25 MWh)
    gas_base = rng.uniform(0.3, 0.9, g)  # hot water and cooking, m³ a day
    degree_day = np.maximum(gas_annual - 365 * gas_base, 100.0) / heating_degree_days_normal()
    gas_non_communicating = (gas_kind == MeterKind.DIGITAL) & (
        rng.random(g) < config.faults.non_communicating_gas
    )

    eans = _eans(rng, n + g)
    return Region(
        ean=eans[:n],
        meter=_serials("1SAG11", rng, n),
        segment=segment,
        grid_area=(rng.random(n) < 0.4).astype(np.int64),
        kind=kind.astype(np.int64),
        smr3=smr3,
        capacity_kva=capacity,
        annual_kwh=annual,
        connected_from=connected,
        installed_from=installed,
        pv_kwp=pv_kwp,
        pv_orientation=orientation,
        pv_registered=pv_registered,
        pv_commissioned=pv_commissioned,
        battery_kwh=battery_kwh,
        battery_kw=battery_kw,
        battery_commissioned=battery_commissioned,
        heat_pump_kw_per_k=heat_pump,
        ev_charger_kw=ev_kw,
        ev_sessions_per_day=ev_sessions,
        non_communicating=non_communicating,
        gas_of=gas_of.astype(np.int64),
        gas_ean=eans[n:],
        gas_meter=_serials("7FLO11", rng, g),
        gas_kind=gas_kind,
        gas_smr3=(gas_kind == MeterKind.DIGITAL) & (rng.random(g) < config.smr3_share),
        gas_capacity_m3h=rng.choice(np.array([6.0, 10.0]), size=g, p=[0.85, 0.15]),
        gas_base_m3_per_day=gas_base,
        gas_m3_per_degree_day=degree_day,
        gas_connected_from=connected[gas_of],
        gas_installed_from=installed[gas_of],
        gas_non_communicating=gas_non_communicating,
    )
