"""Normalised shapes computed once per run: BDEW standard load profiles and clear-sky PV yield.

- Households follow the BDEW H25 profile and small businesses the G25 profile (the 2025 revision of the
  BDEW H0 / G0 standard load profiles, demandlib ``bdew.H25`` / ``bdew.G25``; demandlib's older
  ``ElecSlp`` H0/G0 does not run on pandas 3). Holidays are the Belgian public holidays of the
  ``holidays`` package; they count as Sundays. demandlib gives kW per 1 GWh/year on local wall-clock
  quarter hours; this module turns that into Wh per quarter hour per kWh/year. On the autumn DST day the
  repeated wall-clock hour takes the profile values of that hour twice, on the spring DST day the
  skipped hour is left out.
- PV [Wh per kWp per quarter hour]: pvlib Ineichen clear-sky irradiance at 51.0 N 4.4 E (Linke
  turbidity 3.5, a Belgian yearly mean), transposed to the plane of the panels (isotropic sky, 35°
  tilt) for a few orientations, times a performance ratio of 0.85. Clouds come from :mod:`weather`.
"""

from __future__ import annotations

import warnings
from datetime import timedelta

import holidays
import numpy as np
import pandas as pd
import pvlib
from demandlib import bdew

from kwartier.simulate.arrays import FloatArray
from kwartier.simulate.timeaxis import IntervalGrid

LATITUDE = 51.0
LONGITUDE = 4.4
ALTITUDE_M = 20.0
LINKE_TURBIDITY = 3.5
PANEL_TILT_DEG = 35.0
PANEL_AZIMUTHS_DEG = (180.0, 135.0, 225.0, 90.0, 270.0)  # south, south-east, south-west, east, west
PERFORMANCE_RATIO = 0.85
WH_PER_KW_QUARTER = 250.0  # 1 kW during 15 min = 0.25 kWh = 250 Wh


def bdew_shapes(grid: IntervalGrid) -> tuple[FloatArray, FloatArray]:
    """H25 and G25 energy of each quarter hour of ``grid`` [Wh per kWh of annual consumption]."""
    first = pd.Timestamp(grid.first_day)
    count = (grid.days + 1) * 96
    wall_clock = pd.date_range(first, periods=count, freq="15min")
    years = sorted({grid.first_day.year, (grid.first_day + timedelta(days=grid.days)).year})
    belgian_holidays = dict(holidays.country_holidays("BE", years=years))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # demandlib uses pandas' deprecated ``inplace``
        household = bdew.H25(wall_clock, holidays=belgian_holidays).to_numpy(dtype=np.float64)
        business = bdew.G25(wall_clock, holidays=belgian_holidays).to_numpy(dtype=np.float64)
    position = ((grid.local_wall - np.datetime64(first, "m")).astype(np.int64) // 15).astype(np.int64)
    # kW per GWh/year → Wh per quarter per kWh/year: × 250 Wh/kW / 1e6 kWh/GWh
    scale = WH_PER_KW_QUARTER / 1e6
    return household[position] * scale, business[position] * scale


def pv_shapes(grid: IntervalGrid) -> FloatArray:
    """Clear-sky PV yield [Wh per kWp] of each interval, one row per orientation in PANEL_AZIMUTHS_DEG."""
    step = pd.Timedelta(minutes=grid.minutes)
    middle = pd.DatetimeIndex([pd.Timestamp(start) for start in grid.starts]) + step / 2
    site = pvlib.location.Location(LATITUDE, LONGITUDE, tz="UTC", altitude=ALTITUDE_M)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pvlib uses pandas' deprecated ``dayofyear``
        sun = site.get_solarposition(middle)
        sky = site.get_clearsky(middle, model="ineichen", solar_position=sun, linke_turbidity=LINKE_TURBIDITY)
    rows = []
    for azimuth in PANEL_AZIMUTHS_DEG:
        plane = pvlib.irradiance.get_total_irradiance(
            PANEL_TILT_DEG,
            azimuth,
            sun["apparent_zenith"],
            sun["azimuth"],
            sky["dni"],
            sky["ghi"],
            sky["dhi"],
        )
        irradiance = np.nan_to_num(plane["poa_global"].to_numpy(dtype=np.float64)).clip(min=0.0)
        # kWp is rated at 1000 W/m²; energy over the interval in Wh
        rows.append(irradiance / 1000.0 * PERFORMANCE_RATIO * grid.minutes / 60 * 1000.0)
    return np.vstack(rows)
