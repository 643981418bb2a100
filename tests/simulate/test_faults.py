"""Injected faults: what the files hold matches the true counts of the summary and the configured rates."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from kwartier.domain.ean import is_valid_ean
from kwartier.simulate.region import Region, build_region
from kwartier.simulate.simulator import REGION_STREAM
from tests.simulate.conftest import Simulated


@pytest.fixture(scope="module")
def region(faulty: Simulated) -> Region:
    return build_region(faulty.config, np.random.default_rng([faulty.config.seed, REGION_STREAM]))


@pytest.fixture(scope="module")
def text_lines(faulty: Simulated) -> pl.DataFrame:
    frame = pl.from_arrow(faulty.intervals(as_text=True))
    assert isinstance(frame, pl.DataFrame)
    return frame


@pytest.fixture(scope="module")
def lines(text_lines: pl.DataFrame, faulty: Simulated) -> pl.DataFrame:
    """Well-formed lines, with the market or gas day and the delivery date of their file."""
    known = set(faulty.master("access_points").column("ean").to_pylist())
    minute = pl.col("start").str.slice(14, 2).cast(pl.Int32)
    valid = text_lines.filter(
        pl.col("ean").is_in(list(known)) & (minute % 15 == 0) & pl.col("value").str.contains(r"^-?\d+$")
    )
    local_day = pl.col("start").str.slice(0, 10).str.to_date()
    hour = pl.col("start").str.slice(11, 2).cast(pl.Int32)
    is_gas = pl.col("channel").str.starts_with("gas")
    return valid.with_columns(
        value=pl.col("value").cast(pl.Int64),
        day=pl.when(is_gas & (hour < 6)).then(local_day - pl.duration(days=1)).otherwise(local_day),
        delivered=pl.col("file").str.slice(10, 10).str.to_date(),
        gas=is_gas,
    )


def _within(found: int, expected: float) -> bool:
    """``found`` is within 4 standard deviations of a Poisson count with mean ``expected``."""
    return bool(abs(found - expected) <= 4 * np.sqrt(expected) + 1)


def test_non_communicating_meters_have_no_lines(
    faulty: Simulated, region: Region, text_lines: pl.DataFrame
) -> None:
    silent = [region.ean[i] for i in np.flatnonzero(region.non_communicating)]
    silent += [region.gas_ean[i] for i in np.flatnonzero(region.gas_non_communicating)]
    faults = faulty.summary.faults
    assert len(silent) == faults.non_communicating_electricity_meters + faults.non_communicating_gas_meters
    assert text_lines.filter(pl.col("ean").is_in(silent)).is_empty()
    registers = pl.from_arrow(faulty.registers())
    assert isinstance(registers, pl.DataFrame)
    assert registers.filter(pl.col("ean").is_in(silent)).is_empty()
    electricity = faulty.summary.meters["electricity"]["digital"]
    gas = faulty.summary.meters["gas"]["digital"]
    assert _within(faults.non_communicating_electricity_meters, 0.01 * electricity)
    assert _within(faults.non_communicating_gas_meters, 0.036 * gas)


def test_classic_meters_deliver_nothing(faulty: Simulated, text_lines: pl.DataFrame) -> None:
    meters = faulty.master("meters").to_pylist()
    classic = {row["ean"] for row in meters if row["kind"] == "classic"}
    assert len(classic) > 100
    assert classic.isdisjoint(set(text_lines["ean"].unique().to_list()))
    digital = {row["ean"] for row in meters if row["kind"] in {"digital", "amr"}}
    assert len(set(text_lines["ean"].unique().to_list()) & digital) > 0.9 * len(digital)


def test_duplicates_spikes_and_glitches_match_the_summary(faulty: Simulated, lines: pl.DataFrame) -> None:
    faults = faulty.summary.faults
    # a file holds each (access point, channel, interval) once, unless the line is duplicated
    columns = ["file", "ean", "channel", "start"]
    copies = lines.group_by(columns).agg(pl.len(), pl.col("value").n_unique().alias("values"))
    copies = copies.filter(pl.col("len") > 1)
    assert (copies["values"] == 1).all()
    assert int((copies["len"] - 1).sum()) == faults.duplicated_lines
    assert _within(faults.duplicated_lines, 0.001 * len(lines))

    unique = lines.unique(columns).filter(pl.col("status") == "read")
    capacity = pl.from_arrow(faulty.master("capacities"))
    assert isinstance(capacity, pl.DataFrame)
    limit = pl.col("capacity").cast(pl.Float64) * pl.col("minutes").cast(pl.Float64) / 60 * 1000
    checked = unique.join(capacity.select("ean", "capacity"), on="ean")
    checked = checked.filter(pl.col("channel") != "gas_energy")
    assert len(checked.filter(pl.col("value") > limit)) == faults.spikes
    assert len(unique.filter(pl.col("value") < 0)) == faults.negative_glitches
    assert faults.spikes + faults.negative_glitches >= 1


def test_malformed_lines_match_the_summary(faulty: Simulated, text_lines: pl.DataFrame) -> None:
    faults = faulty.summary.faults
    bad_eans = [ean for ean in text_lines["ean"].unique().to_list() if not is_valid_ean(ean)]
    invalid = text_lines.filter(pl.col("ean").is_in(bad_eans))
    assert len(invalid) == faults.malformed_invalid_ean
    off_grid = text_lines.filter(pl.col("start").str.slice(14, 2).cast(pl.Int32) % 15 != 0)
    assert len(off_grid) == faults.malformed_off_grid_start
    not_numbers = text_lines.filter(~pl.col("value").str.contains(r"^-?\d+$"))
    assert len(not_numbers) == faults.malformed_non_numeric_value
    assert len(invalid) + len(off_grid) + len(not_numbers) >= 1


def test_late_deliveries_match_the_summary(faulty: Simulated, lines: pl.DataFrame) -> None:
    read = lines.filter(pl.col("status") == "read")
    on_time = pl.when(pl.col("gas")).then(2).otherwise(1)
    late_by = (pl.col("delivered") - pl.col("day")).dt.total_days() - on_time
    meter_days = read.select("ean", "day", "gas", late=late_by).unique()
    assert set(meter_days["late"].unique().to_list()) <= {0, 1, 4}
    faults = faulty.summary.faults
    assert len(meter_days.filter(pl.col("late") == 1)) == faults.late_2_days_meter_days
    assert len(meter_days.filter(pl.col("late") == 4)) == faults.late_5_days_meter_days
    assert _within(faults.late_2_days_meter_days, 0.02 * len(meter_days))
    assert _within(faults.late_5_days_meter_days, 0.005 * len(meter_days))


def test_outages_and_gaps_match_the_summary(faulty: Simulated, lines: pl.DataFrame) -> None:
    read = lines.filter(pl.col("status") == "read")
    delivered = read.select("ean", "day").unique()
    meters = delivered.select("ean").unique()
    days = pl.DataFrame({"day": [date(2026, 11, 2 + d) for d in range(faulty.config.days)]})
    missing = meters.join(days, how="cross").join(delivered, on=["ean", "day"], how="anti")
    faults = faulty.summary.faults
    assert len(missing) == faults.outage_meter_days
    meter_days = len(meters) * faulty.config.days
    assert 0.002 * meter_days <= faults.outage_meter_days <= 0.01 * meter_days

    # the main channel of a delivered meter-day holds every interval except the short gaps
    main = read.filter(pl.col("channel").is_in(["offtake", "gas_volume"]))
    main = main.select("ean", "day", "start").unique()
    per_day = main.group_by("ean", "day").len()
    expected = pl.when(pl.col("ean").is_in(_gas_eans(faulty))).then(24).otherwise(96)
    gap_intervals = int(per_day.select((expected - pl.col("len")).sum()).item())
    assert gap_intervals == faults.short_gap_intervals
    assert _within(faults.short_gaps, 0.004 * len(per_day))


def test_corrections_come_later_with_changed_values(faulty: Simulated, lines: pl.DataFrame) -> None:
    corrected = lines.filter(pl.col("status") == "validated")
    assert set(corrected["file"].str.ends_with("_2.csv").unique().to_list()) == {True}
    meter_days = corrected.select("ean", "day").unique()
    faults = faulty.summary.faults
    assert len(meter_days) == faults.corrected_meter_days
    assert faults.corrected_meter_days >= 1
    first = lines.filter(pl.col("status") == "read").select("ean", "channel", "start", "value", "delivered")
    compared = corrected.join(first, on=["ean", "channel", "start"], suffix="_first")
    assert (compared["delivered"] > compared["delivered_first"]).all()
    changed = compared.filter(pl.col("value") != pl.col("value_first")).select("ean", "day").unique()
    assert len(changed) == len(meter_days)


def _gas_eans(faulty: Simulated) -> list[str]:
    points = faulty.master("access_points").to_pylist()
    return [row["ean"] for row in points if row["energy"] == "gas"]
