"""True interval values of a chunk of access points: what the meters measure before any fault.

Electricity [Wh per quarter hour], net per quarter as a digital meter registers it:
``consumption + heat pump + EV charging − PV ± battery``; offtake is the positive part, injection the
negative part. Consumption = annual kWh × BDEW shape (H25 households, G25 businesses) × noise (a
log-normal day factor and a log-normal quarter-hour factor, both of mean 1). Heat pump: electric power
[kW] = coefficient [kW/K] × max(0, 15 °C − air temperature). EV: on a share of the days one charging
session that starts in the evening (≈ 18:30 ± 1 h 15) at the charger's power until 6-30 kWh are charged.
PV: kWp × clear-sky yield × clearness, limited by the inverter. Battery: charges from PV surplus, gives
back whenever the home takes from the grid, within its power and capacity, round-trip efficiency 90 %.
Offtake stays below 95 % of the connection capacity × ¼ h and injection below the inverter rating
× ¼ h: faults are added later, on purpose and counted.

Gas [dm³ per hour]: daily volume = base (hot water, cooking) + m³ per degree day × max(0, 16.5 °C − the
gas day's mean temperature), spread over the hours with a heating profile (morning and evening peaks)
and hourly log-normal noise, at most 90 % of the meter's capacity [m³/h]. Gas energy [Wh] = volume [dm³]
× the gas day's calorific value [kWh/m³], rounded half up (as :func:`kwartier.domain.channels.gas_energy_wh`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kwartier.simulate.arrays import FloatArray, IntArray, round_half_up
from kwartier.simulate.region import HEATING_BASE_C, Region, Segment
from kwartier.simulate.timeaxis import IntervalGrid

WH_PER_KW_QUARTER = 250.0
HEAT_PUMP_BASE_C = 15.0
BATTERY_EFFICIENCY = 0.9
OFFTAKE_LIMIT = 0.95
GAS_LIMIT = 0.9
# relative gas use per local hour (heating with night set-back, morning and evening peaks)
GAS_HOURLY_WEIGHT = np.array(
    [0.45, 0.4, 0.4, 0.4, 0.5, 0.9, 1.7, 1.8, 1.5, 1.1, 0.9, 0.85,
     0.85, 0.8, 0.8, 0.85, 1.0, 1.3, 1.45, 1.4, 1.3, 1.15, 0.9, 0.6],
)  # fmt: skip


@dataclass(frozen=True)
class Shapes:
    """Everything computed once per run that the loads of every chunk use."""

    household: FloatArray  # Wh per quarter per kWh/year (H25)
    business: FloatArray  # Wh per quarter per kWh/year (G25)
    pv: FloatArray  # (orientations, quarters) Wh per kWp, clear sky
    clearness: FloatArray  # per quarter
    temperature: FloatArray  # °C per quarter
    gas_temperature: FloatArray  # °C per gas hour
    calorific: FloatArray  # kWh/m³ per gas day


def _lognormal(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> FloatArray:
    """Log-normal factors of mean 1."""
    return np.exp(rng.standard_normal(shape) * sigma - sigma**2 / 2)


def _ev_charging(rng: np.random.Generator, region: Region, rows: IntArray, grid: IntervalGrid) -> FloatArray:
    """Charging energy [Wh per quarter] of the EVs among ``rows``."""
    charging = np.zeros((len(rows), grid.size + 1), dtype=np.float64)
    has_ev = np.flatnonzero(region.ev_charger_kw[rows] > 0)
    if len(has_ev) == 0:
        return charging[:, :-1]
    power = region.ev_charger_kw[rows[has_ev]]
    shape = (len(has_ev), grid.days)
    session = rng.random(shape) < region.ev_sessions_per_day[rows[has_ev]][:, None]
    arrival = np.clip(rng.normal(18.5, 1.25, shape), 16.0, 23.5)
    energy_kwh = rng.uniform(6.0, 30.0, shape)
    quarters = np.ceil(energy_kwh / (power[:, None] / 4)).astype(np.int64)
    begin = grid.day_offsets[:-1][None, :] + (arrival * 4).astype(np.int64)
    begin = np.minimum(begin, grid.size)
    end = np.minimum(begin + quarters, grid.size)
    who = np.broadcast_to(np.arange(len(has_ev))[:, None], shape)
    step = np.zeros((len(has_ev), grid.size + 1))
    watt_hours = np.where(session, power[:, None] * WH_PER_KW_QUARTER, 0.0)
    np.add.at(step, (who, begin), watt_hours)
    np.add.at(step, (who, end), -watt_hours)
    charging[has_ev] = np.cumsum(step, axis=1)
    return np.clip(charging[:, :-1], 0.0, None)


def _battery(net: FloatArray, capacity_kwh: FloatArray, power_kw: FloatArray) -> FloatArray:
    """Net energy after a self-consumption battery, quarter by quarter (Wh; positive = from the grid)."""
    stored = capacity_kwh * 500.0  # start half full, Wh
    full = capacity_kwh * 1000.0
    limit = power_kw * WH_PER_KW_QUARTER
    result = np.empty_like(net)
    for quarter in range(net.shape[1]):
        demand = net[:, quarter]
        charge = np.minimum(np.minimum(-demand, limit), (full - stored) / BATTERY_EFFICIENCY).clip(min=0.0)
        discharge = np.minimum(np.minimum(demand, limit), stored).clip(min=0.0)
        stored = stored + charge * BATTERY_EFFICIENCY - discharge
        result[:, quarter] = demand + charge - discharge
    return result


def electricity(
    rng: np.random.Generator, region: Region, rows: IntArray, grid: IntervalGrid, shapes: Shapes
) -> tuple[IntArray, IntArray]:
    """Offtake and injection [Wh] of the access points ``rows``, shape (len(rows), quarters)."""
    n, size = len(rows), grid.size
    segment = region.segment[rows]
    profile = np.where((segment == Segment.HOUSEHOLD)[:, None], shapes.household, shapes.business)
    sigma = np.select([segment == Segment.HOUSEHOLD, segment == Segment.BUSINESS], [0.4, 0.2], 0.1)
    day_factor = _lognormal(rng, (n, grid.days), 0.15)[:, grid.day]
    quarter_noise = np.exp(rng.standard_normal((n, size)) * sigma[:, None] - sigma[:, None] ** 2 / 2)
    load = region.annual_kwh[rows][:, None] * profile * day_factor * quarter_noise
    heat_pump = region.heat_pump_kw_per_k[rows]
    if heat_pump.any():
        cold = np.clip(HEAT_PUMP_BASE_C - shapes.temperature, 0.0, None)
        load += heat_pump[:, None] * cold * WH_PER_KW_QUARTER * _lognormal(rng, (n, size), 0.3)
    load += _ev_charging(rng, region, rows, grid)
    inverter = region.inverter_kva[rows][:, None] * WH_PER_KW_QUARTER
    pv = region.pv_kwp[rows][:, None] * shapes.pv[region.pv_orientation[rows]] * shapes.clearness
    net = load - np.minimum(pv, inverter)
    battery = np.flatnonzero(region.battery_kwh[rows] > 0)
    if len(battery):
        net[battery] = _battery(
            net[battery], region.battery_kwh[rows[battery]], region.battery_kw[rows[battery]]
        )
    limit = region.capacity_kva[rows][:, None] * WH_PER_KW_QUARTER * OFFTAKE_LIMIT
    offtake = round_half_up(np.minimum(np.clip(net, 0.0, None), limit))
    injection = round_half_up(np.minimum(np.clip(-net, 0.0, None), np.minimum(inverter, limit)))
    return offtake, injection


def gas(
    rng: np.random.Generator, region: Region, rows: IntArray, grid: IntervalGrid, shapes: Shapes
) -> tuple[IntArray, IntArray]:
    """Gas volume [dm³] and energy [Wh] of the gas access points ``rows``, shape (len(rows), hours)."""
    n = len(rows)
    hour_of_day = grid.local_hour.astype(np.int64)
    weight = GAS_HOURLY_WEIGHT[hour_of_day]
    day_weight = np.bincount(grid.day, weights=weight, minlength=grid.days)
    day_temperature = np.bincount(
        grid.day, weights=shapes.gas_temperature, minlength=grid.days
    ) / np.bincount(grid.day, minlength=grid.days)
    degree_days = np.clip(HEATING_BASE_C - day_temperature, 0.0, None)
    daily_m3 = (
        region.gas_base_m3_per_day[rows][:, None] + region.gas_m3_per_degree_day[rows][:, None] * degree_days
    )
    share = weight / day_weight[grid.day]
    volume_m3 = daily_m3[:, grid.day] * share * _lognormal(rng, (n, grid.size), 0.3)
    limit = region.gas_capacity_m3h[rows][:, None] * GAS_LIMIT * grid.minutes / 60
    volume = round_half_up(np.minimum(volume_m3, limit) * 1000.0)
    energy = round_half_up(volume * shapes.calorific[grid.day])
    return volume, energy
