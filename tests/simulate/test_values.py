"""True values on fault-free runs: DST days, registers, physical plausibility, daylight."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import polars as pl
import pytest

from kwartier.domain.channels import tariff_period
from kwartier.domain.timegrid import BRUSSELS
from kwartier.simulate.profiles import bdew_shapes
from kwartier.simulate.region import Region, Segment, build_region
from kwartier.simulate.simulator import REGION_STREAM
from kwartier.simulate.timeaxis import electricity_grid
from tests.simulate.conftest import Simulated


def _lines(simulated: Simulated) -> pl.DataFrame:
    frame = pl.from_arrow(simulated.intervals())
    assert isinstance(frame, pl.DataFrame)
    local_day = pl.col("start").str.slice(0, 10).str.to_date()
    hour = pl.col("start").str.slice(11, 2).cast(pl.Int32)
    gas_day = pl.when(hour < 6).then(local_day - pl.duration(days=1)).otherwise(local_day)
    is_gas = pl.col("channel").str.starts_with("gas")
    return frame.with_columns(day=pl.when(is_gas).then(gas_day).otherwise(local_day))


def _region(simulated: Simulated) -> Region:
    return build_region(simulated.config, np.random.default_rng([simulated.config.seed, REGION_STREAM]))


def test_dst_days_have_100_quarters_and_25_gas_hours(clean_dst: Simulated) -> None:
    counts = _lines(clean_dst).group_by("ean", "channel", "day").len()
    expected = {
        ("offtake", date(2026, 10, 24)): 96,
        ("offtake", date(2026, 10, 25)): 100,
        ("offtake", date(2026, 10, 26)): 96,
        ("gas_volume", date(2026, 10, 24)): 25,
        ("gas_volume", date(2026, 10, 25)): 24,
        ("gas_energy", date(2026, 10, 24)): 25,
    }
    for (channel, day), quarters in expected.items():
        found = counts.filter((pl.col("channel") == channel) & (pl.col("day") == day))["len"]
        assert len(found) > 10
        assert set(found.to_list()) == {quarters}


def test_register_deltas_equal_the_interval_sums(clean_dst: Simulated) -> None:
    lines = _lines(clean_dst)
    sums = lines.group_by("ean", "channel", "tariff", "day").agg(pl.col("value").sum())
    registers = pl.from_arrow(clean_dst.registers())
    assert isinstance(registers, pl.DataFrame)
    read_day = pl.col("read_at").str.slice(0, 10).str.to_date() - pl.duration(days=1)
    deltas = (
        registers.sort("read_at")
        .with_columns(delta=pl.col("index").diff().over("ean", "channel", "tariff"), day=read_day)
        .drop_nulls("delta")
    )
    joined = deltas.join(sums, on=["ean", "channel", "tariff", "day"], how="left")
    assert len(joined) > 1000
    assert joined["value"].fill_null(0).to_list() == joined["delta"].to_list()
    # three days → four readings per register, gas read at 06:00
    assert set(registers.group_by("ean", "channel", "tariff").len()["len"].to_list()) == {4}
    gas_reads = registers.filter(pl.col("channel") == "gas_volume")["read_at"].str.slice(11, 5)
    assert set(gas_reads.to_list()) == {"06:00"}


def test_values_stay_within_the_connection(clean_winter: Simulated) -> None:
    capacity = pl.from_arrow(clean_winter.master("capacities"))
    assert isinstance(capacity, pl.DataFrame)
    lines = _lines(clean_winter).join(capacity.select("ean", "capacity"), on="ean")
    limit = pl.col("capacity").cast(pl.Float64) * pl.col("minutes") / 60 * 1000
    outside = (pl.col("value") < 0) | (pl.col("value") > limit)
    bad = lines.filter((pl.col("channel") != "gas_energy") & outside)
    assert bad.is_empty()
    gas = lines.filter(pl.col("channel").str.starts_with("gas")).pivot(
        "channel", index=["ean", "start"], values="value"
    )
    heavy = gas.filter(pl.col("gas_volume") >= 200)
    ratio = (heavy["gas_energy"] / heavy["gas_volume"]).to_numpy()
    assert len(ratio) > 1000
    assert ratio.min() >= 10.99
    assert ratio.max() <= 11.51


def test_tariff_follows_the_day_night_calendar(clean_winter: Simulated) -> None:
    sample = _lines(clean_winter).filter(pl.col("channel") == "offtake").sample(3000, seed=1)
    for start, tariff in zip(sample["start"].to_list(), sample["tariff"].to_list(), strict=True):
        assert tariff == tariff_period(datetime.fromisoformat(start)).value


def test_winter_week_of_a_household_is_plausible(clean_winter: Simulated) -> None:
    region = _region(clean_winter)
    plain = (
        (region.segment == Segment.HOUSEHOLD)
        & (region.pv_kwp == 0)
        & (region.heat_pump_kw_per_k == 0)
        & (region.ev_charger_kw == 0)
        & region.delivers
    )
    eans = [region.ean[i] for i in np.flatnonzero(plain)]
    offtake = _lines(clean_winter).filter((pl.col("channel") == "offtake") & pl.col("ean").is_in(eans))
    per_day = offtake.group_by("ean").agg(kwh=pl.col("value").sum() / 1000 / clean_winter.config.days)
    assert len(per_day) > 200
    assert 5 <= per_day["kwh"].mean() <= 25  # type: ignore[operator]
    assert per_day["kwh"].min() >= 3  # type: ignore[operator]
    assert per_day["kwh"].max() <= 35  # type: ignore[operator]


def test_pv_injects_only_in_daylight(clean_winter: Simulated) -> None:
    injection = _lines(clean_winter).filter(pl.col("channel") == "injection")
    sunny = injection.filter(pl.col("value") > 0)
    assert sunny["value"].sum() > 0
    # Brussels, 16-22 November: sunrise ≈ 08:05-08:15, sunset ≈ 16:40-16:50 local time
    clock = sunny["start"].str.slice(11, 5)
    assert clock.min() >= "07:45"  # type: ignore[operator]
    assert clock.max() < "17:00"  # type: ignore[operator]


@pytest.mark.parametrize("year", [2026, 2028])
def test_bdew_shapes_hold_the_annual_consumption(year: int) -> None:
    """1 kWh of annual consumption is 1000 Wh over the year, also across DST days (± 1 %)."""
    first = date(year, 1, 1)
    days = (date(year + 1, 1, 1) - first).days
    household, business = bdew_shapes(electricity_grid(first, days))
    assert household.sum() == pytest.approx(1000.0, rel=0.01)
    assert business.sum() == pytest.approx(1000.0, rel=0.01)


def test_interval_starts_are_local_iso_on_the_grid(clean_dst: Simulated) -> None:
    starts = _lines(clean_dst)["start"].unique().to_list()
    for text in starts:
        instant = datetime.fromisoformat(text)
        assert instant.utcoffset() == instant.astimezone(BRUSSELS).utcoffset()
        assert instant.minute % 15 == 0
        assert instant.second == 0
