"""Synthetic weather of the region: air temperature, cloudiness and the calorific value of gas.

- Temperature [°C]: a seasonal normal fitted to the Uccle climate normals (coldest mid-January ≈ 3.2 °C,
  warmest mid-July ≈ 18.4 °C, KMI/IRM 1991-2020), plus a daily anomaly following an AR(1) process
  (persistence 0.75, standard deviation 3 °C) and a diurnal cosine peaking at 15:00 local time.
- Clearness [0.05-1]: the share of clear-sky irradiance that reaches the panels (≈ 0.54 on average,
  which gives the Belgian ≈ 900 kWh/kWp a year); a daily level from an
  AR(1) process (persistence 0.6) squashed by a logistic function, times an hourly AR(1) fluctuation.
- Calorific value [kWh/m³]: the upper calorific value of each gas day, an AR(1) walk around 11.25,
  clipped to 11.0-11.5 (the range of the H-gas the Flemish grids carry).
The same weather holds for the whole region (it spans a few tens of kilometres).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from kwartier.domain.timegrid import local_midnight_utc
from kwartier.simulate.arrays import FloatArray
from kwartier.simulate.timeaxis import IntervalGrid

SEASONAL_MEAN_C = 10.8
SEASONAL_AMPLITUDE_C = 7.6
COLDEST_DAY_OF_YEAR = 15
DAILY_ANOMALY_SD_C = 3.0
DAILY_ANOMALY_PERSISTENCE = 0.75
DIURNAL_PEAK_HOUR = 15.0
CALORIFIC_MEAN = 11.25
CALORIFIC_RANGE = (11.0, 11.5)
MIN_CLEARNESS = 0.05


def seasonal_temperature(day: date) -> float:
    """Climate-normal daily mean temperature [°C] of ``day`` at Uccle (see the module docstring)."""
    phase = 2 * np.pi * (day.timetuple().tm_yday - COLDEST_DAY_OF_YEAR) / 365.25
    return float(SEASONAL_MEAN_C - SEASONAL_AMPLITUDE_C * np.cos(phase))


def _ar1(rng: np.random.Generator, size: int, persistence: float, sd: float) -> FloatArray:
    """A stationary AR(1) series with marginal standard deviation ``sd``."""
    shocks = rng.standard_normal(size) * sd * np.sqrt(1 - persistence**2)
    series = np.empty(size, dtype=np.float64)
    level = rng.standard_normal() * sd
    for index in range(size):
        level = persistence * level + shocks[index]
        series[index] = level
    return series


@dataclass(frozen=True)
class Weather:
    """Daily and hourly weather from ``first_day`` on (one spare day for the last gas day)."""

    first_day: date
    daily_mean_c: FloatArray  # per calendar day
    diurnal_amplitude_c: FloatArray  # per calendar day
    hourly_clearness: FloatArray  # per UTC hour from local midnight of first_day
    calorific_kwh_per_m3: FloatArray  # per gas day


def simulate_weather(rng: np.random.Generator, first_day: date, days: int) -> Weather:
    """Draw the weather of ``days`` days (plus one) from ``rng``."""
    span = days + 1
    calendar = [first_day + timedelta(days=d) for d in range(span)]
    seasonal = np.array([seasonal_temperature(day) for day in calendar])
    anomaly = _ar1(rng, span, DAILY_ANOMALY_PERSISTENCE, DAILY_ANOMALY_SD_C)
    # wider diurnal swings in summer: 3 °C in January, 5 °C in July
    amplitude = 4.0 + (seasonal - SEASONAL_MEAN_C) / SEASONAL_AMPLITUDE_C
    daily_level = _ar1(rng, span, 0.6, 1.2)
    daily_clearness = 0.15 + 0.85 / (1 + np.exp(-(daily_level - 0.1) * 1.5))
    hours = span * 24 + 2
    fluctuation = np.exp(_ar1(rng, hours, 0.8, 0.25))
    hourly_day = np.minimum(np.arange(hours) // 24, span - 1)
    clearness = np.clip(daily_clearness[hourly_day] * fluctuation, MIN_CLEARNESS, 1.0)
    calorific = np.clip(CALORIFIC_MEAN + _ar1(rng, span, 0.8, 0.08), *CALORIFIC_RANGE)
    return Weather(first_day, seasonal + anomaly, amplitude, clearness, calorific)


def temperature(weather: Weather, grid: IntervalGrid) -> FloatArray:
    """Air temperature [°C] at the start of each interval of ``grid``."""
    calendar_day = (grid.local_wall.astype("datetime64[D]") - np.datetime64(weather.first_day)).astype(int)
    calendar_day = np.clip(calendar_day, 0, len(weather.daily_mean_c) - 1)
    diurnal = np.cos(2 * np.pi * (grid.local_hour - DIURNAL_PEAK_HOUR) / 24)
    result: FloatArray = (
        weather.daily_mean_c[calendar_day] + weather.diurnal_amplitude_c[calendar_day] * diurnal
    )
    return result


def clearness(weather: Weather, grid: IntervalGrid) -> FloatArray:
    """Clearness [0.05-1] of each interval of ``grid`` (the hour it falls in)."""
    origin = local_midnight_utc(weather.first_day)
    hour = np.array([int((start - origin).total_seconds()) // 3600 for start in grid.starts], dtype=np.int64)
    return weather.hourly_clearness[np.clip(hour, 0, len(weather.hourly_clearness) - 1)]
