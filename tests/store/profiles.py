"""Realistic synthetic quarter-hour readings for store tests: households with and without solar panels.

Offtake: a base load of 30-80 Wh per quarter hour, a morning and an evening peak, and random appliance
spikes; injection (about 40 % of the access points have solar panels): a clear-sky bell between 06:00
and 21:00 local time scaled by season and daily cloudiness, minus self-consumption, never negative.
The tariff period follows :func:`kwartier.domain.channels.tariff_period`. Values are integer Wh.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from kwartier.domain.channels import Channel, ReadingStatus, tariff_period
from kwartier.domain.timegrid import QUARTER_MINUTES
from kwartier.schema import STORED_READINGS


def quarter_grid(start: datetime, end: datetime) -> pd.DatetimeIndex:
    """UTC starts of the quarter hours in [start, end)."""
    return pd.date_range(start, end, freq="15min", inclusive="left", tz="UTC")


def household_readings(
    aps: list[str], start: datetime, end: datetime, *, batch: str, recorded_at: datetime, seed: int = 1
) -> pa.Table:
    """Offtake (and injection for solar households) of ``aps`` for the quarter hours in [start, end)."""
    rng = np.random.default_rng(seed)
    grid = quarter_grid(start, end)
    local = grid.tz_convert("Europe/Brussels")
    hour = local.hour.to_numpy() + local.minute.to_numpy() / 60
    day_of_year = local.day_of_year.to_numpy()
    tariffs = np.array([tariff_period(t.to_pydatetime()).value for t in grid])
    season = 0.55 + 0.45 * np.cos((day_of_year - 172) / 365 * 2 * np.pi)
    bell = np.clip(np.sin((hour - 6) / 15 * np.pi), 0, None) ** 1.5 * season
    n = len(grid)
    starts = pa.array(grid.as_unit("us"), pa.timestamp("us", tz="UTC"))
    tariff_column = pa.array(tariffs).dictionary_encode().cast(pa.string())
    constant = {
        "minutes": pa.array(np.full(n, QUARTER_MINUTES, np.int16)),
        "status": pa.array([ReadingStatus.MEASURED.value] * n),
        "rule": pa.nulls(n, pa.string()),
        "method": pa.nulls(n, pa.string()),
        "batch": pa.array([batch] * n),
        "recorded_at": pa.array([recorded_at] * n, pa.timestamp("us", tz="UTC")),
    }
    frames = []
    for i, ap in enumerate(aps):
        base = rng.uniform(30, 80)
        shape = 1 + 1.2 * np.exp(-((hour - 8) ** 2) / 2) + 2.0 * np.exp(-((hour - 19) ** 2) / 4)
        spikes = rng.exponential(40, n) * (rng.random(n) < 0.15)
        offtake = base * shape + spikes + rng.normal(0, 6, n)
        channels = {Channel.OFFTAKE.value: offtake}
        if i % 5 < 2:
            clouds = np.repeat(rng.uniform(0.2, 1.0, n // 96 + 2), 96)[:n]
            produced = rng.uniform(600, 1100) * bell * clouds
            channels[Channel.INJECTION.value] = produced - offtake * 0.5
            channels[Channel.OFFTAKE.value] = offtake - np.minimum(produced, offtake * 0.5)
        for channel, values in channels.items():
            columns = {
                "ap": pa.array([ap] * n),
                "channel": pa.array([channel] * n),
                "tariff": tariff_column,
                "start": starts,
                **constant,
                "value": pa.array(np.clip(np.rint(values), 0, None).astype(np.int64)),
            }
            frames.append(
                pa.table({name: columns[name] for name in STORED_READINGS.names}, schema=STORED_READINGS)
            )
    return pa.concat_tables(frames)


def daily_recorded_at(starts: pa.Array) -> pa.Array:
    """A recorded_at per row: the day after the reading's UTC day, 04:00 UTC (a daily collection run)."""
    days = pa.compute.floor_temporal(starts, unit="day")
    return pa.compute.add(days, pa.scalar(timedelta(hours=28), pa.duration("us")))
