"""``simulate_region``: master data, head-end deliveries and a manifest of a deterministic region.

The run: draw the region (:mod:`region`) and the weather (:mod:`weather`), compute the shapes once
(:mod:`profiles`), then for each chunk of access points the true values (:mod:`loads`), the faults
(:mod:`faults`) and the delivery files (:mod:`headend`). Every random draw comes from a generator seeded
by (seed, stream, chunk), so the same configuration gives byte-identical files.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from kwartier.domain.channels import Channel, Energy, Unit
from kwartier.domain.source_status import SourceStatus
from kwartier.simulate.arrays import BoolArray, FloatArray, IntArray
from kwartier.simulate.config import RegionConfig
from kwartier.simulate.faults import (
    NOT_DELIVERED,
    DeliveryPlan,
    FaultCounts,
    duplicate_lines,
    plan_deliveries,
    spike_and_glitch,
    under_register,
)
from kwartier.simulate.headend import (
    CORRECTION_SEQUENCE,
    DAILY_SEQUENCE,
    DeliveredFile,
    Deliveries,
    interval_table,
    register_table,
)
from kwartier.simulate.loads import WH_PER_KW_QUARTER, Shapes, electricity, gas
from kwartier.simulate.master import write_master
from kwartier.simulate.profiles import bdew_shapes, pv_shapes
from kwartier.simulate.region import METER_KIND_TEXT, Region, Segment, build_region
from kwartier.simulate.timeaxis import TARIFFS, IntervalGrid, electricity_grid, gas_grid
from kwartier.simulate.weather import clearness, simulate_weather, temperature

Progress = Callable[[str, int, int], None]
INTERVALS_PER_CHUNK = 3_000_000
REGION_STREAM, WEATHER_STREAM, CHUNK_STREAM, MALFORMED_STREAM = 0, 1, 2, 3
TARIFF_TEXT = pa.array([tariff.value for tariff in TARIFFS])


@dataclass(frozen=True)
class RegionSummary:
    """What was simulated: the region, the files and the true fault counts."""

    seed: int
    start: date
    days: int
    electricity_access_points: int
    gas_access_points: int
    households: int
    businesses: int
    large_connections: int
    pv: int
    heat_pumps: int
    evs: int
    batteries: int
    meters: dict[str, dict[str, int]]
    smr3_meters: int
    interval_files: int
    register_files: int
    interval_lines: int
    register_lines: int
    faults: FaultCounts = field(default_factory=FaultCounts)


@dataclass(frozen=True)
class _Channel:
    name: Channel
    unit: Unit
    has: BoolArray  # per chunk meter
    true: IntArray
    delivered: IntArray
    ceiling: FloatArray | None  # per chunk meter; None: no spikes


@dataclass(frozen=True)
class _ChunkEnergy:
    energy: Energy
    grid: IntervalGrid
    ean: pa.Array
    meter: pa.Array
    plan: DeliveryPlan
    channels: list[_Channel]
    registers: dict[tuple[Channel, str], IntArray]  # (channel, tariff) → index (meters, days + 1)


def _expand(meters: IntArray, days: IntArray, grid: IntervalGrid) -> tuple[IntArray, IntArray]:
    """(meter, interval) lines of the meter-days (``meters[i]``, ``days[i]``), day by day."""
    lengths = np.diff(grid.day_offsets)[days]
    before = np.repeat(np.cumsum(lengths) - lengths, lengths)
    intervals = np.repeat(grid.day_offsets[days], lengths) + (np.arange(int(lengths.sum())) - before)
    return np.repeat(meters, lengths), intervals


def _registers(
    rng: np.random.Generator, channels: list[_Channel], grid: IntervalGrid, tariffs: tuple[int, ...]
) -> dict[tuple[Channel, str], IntArray]:
    """Register indexes at each day boundary: a random start plus the cumulated true day sums."""
    result = {}
    for channel in channels:
        for tariff in tariffs:
            in_tariff = np.where(grid.tariff == tariff, channel.true, 0)
            daily = np.add.reduceat(in_tariff, grid.day_offsets[:-1], axis=1)
            first = rng.integers(0, 30_000_000, (len(daily), 1))
            result[(channel.name, TARIFFS[tariff].value)] = first + np.concatenate(
                [np.zeros_like(first), np.cumsum(daily, axis=1)], axis=1
            )
    return result


def _write_chunk(
    part: _ChunkEnergy,
    deliveries: Deliveries,
    rng: np.random.Generator,
    config: RegionConfig,
    counts: FaultCounts,
) -> None:
    grid, plan = part.grid, part.plan
    is_gas = part.energy is Energy.GAS
    for target in np.unique(plan.delivery[plan.delivery != NOT_DELIVERED]):
        days, meters = np.nonzero(target == plan.delivery.T)
        covered = {int(d) for d in days}
        market, gas_days = (set(), covered) if is_gas else (covered, set())
        line_meter, line_interval = _expand(meters, days, grid)
        present = plan.present[line_meter, line_interval]
        line_meter, line_interval = line_meter[present], line_interval[present]
        for channel in part.channels:
            keep = channel.has[line_meter]
            m, q = line_meter[keep], line_interval[keep]
            values = channel.delivered[m, q]
            if channel.ceiling is not None:
                values = spike_and_glitch(rng, values, channel.ceiling[m], config.faults, counts)
            order = duplicate_lines(rng, len(values), config.faults, counts)
            m, q, values = m[order], q[order], values[order]
            table = interval_table(
                part.ean,
                part.meter,
                m,
                channel.name.value,
                TARIFF_TEXT.take(grid.tariff[q]),
                grid.start_text.take(q),
                grid.minutes,
                values,
                channel.unit.value,
                SourceStatus.READ.value,
            )
            deliveries.write("intervals", int(target), DAILY_SEQUENCE, table, market, gas_days)
        first_day = meters[days == 0]
        bound_meters = np.concatenate([first_day, meters])
        bounds = np.concatenate([np.zeros(len(first_day), dtype=np.int64), days + 1])
        read_at = pa.array(part.grid.boundary_text).take(pa.array(bounds))
        for (channel_name, tariff), index in part.registers.items():
            has = next(c.has for c in part.channels if c.name is channel_name)[bound_meters]
            table = register_table(
                part.ean,
                part.meter,
                bound_meters[has],
                channel_name.value,
                tariff,
                read_at.filter(pa.array(has)),
                index[bound_meters[has], bounds[has]],
                next(c.unit for c in part.channels if c.name is channel_name).value,
            )
            deliveries.write("registers", int(target), DAILY_SEQUENCE, table, market, gas_days)
    for target in np.unique(plan.redelivery[plan.redelivery != NOT_DELIVERED]):
        days, meters = np.nonzero(target == plan.redelivery.T)
        covered = {int(d) for d in days}
        market, gas_days = (set(), covered) if is_gas else (covered, set())
        line_meter, line_interval = _expand(meters, days, grid)
        for channel in part.channels:
            keep = channel.has[line_meter]
            m, q = line_meter[keep], line_interval[keep]
            table = interval_table(
                part.ean,
                part.meter,
                m,
                channel.name.value,
                TARIFF_TEXT.take(grid.tariff[q]),
                grid.start_text.take(q),
                grid.minutes,
                channel.true[m, q],
                channel.unit.value,
                SourceStatus.VALIDATED.value,
            )
            deliveries.write("intervals", int(target), CORRECTION_SEQUENCE, table, market, gas_days)


def _electricity_part(
    rng: np.random.Generator,
    region: Region,
    rows: IntArray,
    grid: IntervalGrid,
    shapes: Shapes,
    config: RegionConfig,
    counts: FaultCounts,
) -> _ChunkEnergy:
    offtake, injection = electricity(rng, region, rows, grid, shapes)
    plan = plan_deliveries(rng, len(rows), grid, 1, config.faults, counts)
    delivered = under_register(rng, plan, grid, [offtake, injection])
    ceiling = region.capacity_kva[rows] * WH_PER_KW_QUARTER
    channels = [
        _Channel(Channel.OFFTAKE, Unit.WH, np.ones(len(rows), np.bool_), offtake, delivered[0], ceiling),
        _Channel(Channel.INJECTION, Unit.WH, region.injects[rows], injection, delivered[1], ceiling),
    ]
    return _ChunkEnergy(
        Energy.ELECTRICITY,
        grid,
        pa.array([region.ean[i] for i in rows], pa.string()),
        pa.array([region.meter[i] for i in rows], pa.string()),
        plan,
        channels,
        _registers(rng, channels, grid, (0, 1)),
    )


def _gas_part(
    rng: np.random.Generator,
    region: Region,
    rows: IntArray,
    grid: IntervalGrid,
    shapes: Shapes,
    config: RegionConfig,
    counts: FaultCounts,
) -> _ChunkEnergy:
    volume, energy = gas(rng, region, rows, grid, shapes)
    plan = plan_deliveries(rng, len(rows), grid, 2, config.faults, counts)
    delivered = under_register(rng, plan, grid, [volume, energy])
    every = np.ones(len(rows), np.bool_)
    channels = [
        _Channel(
            Channel.GAS_VOLUME, Unit.DM3, every, volume, delivered[0], region.gas_capacity_m3h[rows] * 1000.0
        ),
        _Channel(Channel.GAS_ENERGY, Unit.WH, every, energy, delivered[1], None),
    ]
    volume_only = [channels[0]]
    return _ChunkEnergy(
        Energy.GAS,
        grid,
        pa.array([region.gas_ean[i] for i in rows], pa.string()),
        pa.array([region.gas_meter[i] for i in rows], pa.string()),
        plan,
        channels,
        _registers(rng, volume_only, grid, (2,)),
    )


def _summary(
    config: RegionConfig, region: Region, files: list[DeliveredFile], counts: FaultCounts
) -> RegionSummary:
    def kinds(values: IntArray) -> dict[str, int]:
        return {text: int((values == i).sum()) for i, text in enumerate(METER_KIND_TEXT)}

    interval_files = [f for f in files if f.kind == "intervals"]
    register_files = [f for f in files if f.kind == "registers"]
    return RegionSummary(
        seed=config.seed,
        start=config.start,
        days=config.days,
        electricity_access_points=len(region.ean),
        gas_access_points=len(region.gas_ean),
        households=int((region.segment == Segment.HOUSEHOLD).sum()),
        businesses=int((region.segment == Segment.BUSINESS).sum()),
        large_connections=int((region.segment == Segment.LARGE).sum()),
        pv=int((region.pv_kwp > 0).sum()),
        heat_pumps=int((region.heat_pump_kw_per_k > 0).sum()),
        evs=int((region.ev_charger_kw > 0).sum()),
        batteries=int((region.battery_kwh > 0).sum()),
        meters={Energy.ELECTRICITY.value: kinds(region.kind), Energy.GAS.value: kinds(region.gas_kind)},
        smr3_meters=int(region.smr3.sum() + region.gas_smr3.sum()),
        interval_files=len(interval_files),
        register_files=len(register_files),
        interval_lines=sum(f.lines for f in interval_files),
        register_lines=sum(f.lines for f in register_files),
        faults=counts,
    )


def simulate_region(config: RegionConfig, out: Path, progress: Progress | None = None) -> RegionSummary:
    """Simulate ``config`` into ``out``: ``master/*.csv``, ``headend/*.csv`` and ``manifest.json``."""
    out.mkdir(parents=True, exist_ok=True)
    region = build_region(config, np.random.default_rng([config.seed, REGION_STREAM]))
    write_master(region, out)
    if progress:
        progress("master data", 1, 1)
    power_grid, gas_hours = electricity_grid(config.start, config.days), gas_grid(config.start, config.days)
    weather = simulate_weather(
        np.random.default_rng([config.seed, WEATHER_STREAM]), config.start, config.days
    )
    household, business = bdew_shapes(power_grid)
    shapes = Shapes(
        household=household,
        business=business,
        pv=pv_shapes(power_grid),
        clearness=clearness(weather, power_grid),
        temperature=temperature(weather, power_grid),
        gas_temperature=temperature(weather, gas_hours),
        calorific=weather.calorific_kwh_per_m3[: config.days],
    )
    counts = FaultCounts(
        non_communicating_electricity_meters=int(region.non_communicating.sum()),
        non_communicating_gas_meters=int(region.gas_non_communicating.sum()),
        unregistered_pv=int(((region.pv_kwp > 0) & ~region.pv_registered).sum()),
    )
    deliveries = Deliveries(out, config.start)
    size = max(1, INTERVALS_PER_CHUNK // power_grid.size)
    chunks = range(0, config.access_points, size)
    for number, first in enumerate(chunks):
        rng = np.random.default_rng([config.seed, CHUNK_STREAM, number])
        last = min(first + size, config.access_points)
        rows = first + np.flatnonzero(region.delivers[first:last])
        parts = [_electricity_part(rng, region, rows, power_grid, shapes, config, counts)]
        gas_span = np.searchsorted(region.gas_of, [first, last])
        gas_rows = gas_span[0] + np.flatnonzero(region.gas_delivers[gas_span[0] : gas_span[1]])
        parts.append(_gas_part(rng, region, gas_rows, gas_hours, shapes, config, counts))
        for part in parts:
            _write_chunk(part, deliveries, rng, config, counts)
        if progress:
            progress("head-end files", number + 1, len(chunks))
    deliveries.add_malformed(
        np.random.default_rng([config.seed, MALFORMED_STREAM]), config.faults.malformed, counts
    )
    files = deliveries.close()
    summary = _summary(config, region, files, counts)
    manifest = {"files": [asdict(f) for f in files], "summary": asdict(summary)}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
    return summary
