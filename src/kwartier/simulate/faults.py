"""Faults of the head-end, drawn per meter-day and per reading line, and their true counts.

Per meter-day (a market day for electricity, a gas day for gas) of a meter that communicates:
- outage: from a day on, the meter delivers nothing for 1-3 days (neither intervals nor registers);
- late delivery: the day arrives one delivery late (the file of D+2 instead of D+1) or four late (D+5);
- correction: the first delivery has a run of 4-16 intervals under-registered (× 0.2-0.8, around the
  day's peak so the values change) and 2-6 deliveries later the true day comes again, status
  ``validated``;
- short gaps: 1-8 consecutive intervals missing from the first delivery.
Per delivered line: a spike (above the connection capacity × the interval), a negative glitch, an exact
duplicate in the same file. Malformed lines are added per file by :mod:`headend`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kwartier.simulate.arrays import BoolArray, FloatArray, IntArray
from kwartier.simulate.config import FaultRates
from kwartier.simulate.timeaxis import IntervalGrid

NOT_DELIVERED = -1
LATE_2_EXTRA = 1
LATE_5_EXTRA = 4
MAX_GAP = 8


@dataclass
class FaultCounts:
    """True numbers of each injected fault (meters, meter-days, intervals or lines, as named)."""

    non_communicating_electricity_meters: int = 0
    non_communicating_gas_meters: int = 0
    outage_meter_days: int = 0
    late_2_days_meter_days: int = 0
    late_5_days_meter_days: int = 0
    corrected_meter_days: int = 0
    short_gaps: int = 0
    short_gap_intervals: int = 0
    spikes: int = 0
    negative_glitches: int = 0
    duplicated_lines: int = 0
    malformed_invalid_ean: int = 0
    malformed_off_grid_start: int = 0
    malformed_non_numeric_value: int = 0
    unregistered_pv: int = 0


@dataclass(frozen=True)
class DeliveryPlan:
    """When each meter-day of a chunk is delivered (delivery index = days after the period start)."""

    delivery: IntArray  # (meters, days); NOT_DELIVERED during an outage
    redelivery: IntArray  # (meters, days); the corrected re-delivery, or NOT_DELIVERED
    present: BoolArray  # (meters, intervals); False: a short gap in the first delivery


def plan_deliveries(
    rng: np.random.Generator,
    meters: int,
    grid: IntervalGrid,
    on_time: int,
    rates: FaultRates,
    counts: FaultCounts,
) -> DeliveryPlan:
    """Draw outages, late days, corrections and gaps; ``on_time`` = delivery of day 0 when on time."""
    days = grid.days
    shape = (meters, days)
    outage = np.zeros(shape, dtype=np.bool_)
    starts = np.argwhere(rng.random(shape) < rates.outage_start)
    lengths = rng.integers(1, 4, len(starts))
    for (meter, day), length in zip(starts, lengths, strict=True):
        outage[meter, day : day + length] = True
    counts.outage_meter_days += int(outage.sum())

    draw = rng.random(shape)
    late_5 = ~outage & (draw < rates.late_5_days)
    late_2 = ~outage & ~late_5 & (draw < rates.late_5_days + rates.late_2_days)
    counts.late_2_days_meter_days += int(late_2.sum())
    counts.late_5_days_meter_days += int(late_5.sum())
    extra = np.where(late_5, LATE_5_EXTRA, np.where(late_2, LATE_2_EXTRA, 0))
    delivery = np.where(outage, NOT_DELIVERED, np.arange(days)[None, :] + on_time + extra).astype(np.int64)

    corrected = ~outage & (rng.random(shape) < rates.corrected)
    counts.corrected_meter_days += int(corrected.sum())
    later = rng.integers(2, 7, shape)
    redelivery = np.where(corrected, delivery + later, NOT_DELIVERED).astype(np.int64)

    present = np.ones((meters, grid.size), dtype=np.bool_)
    gap_count = np.where(outage, 0, rng.poisson(rates.short_gaps, shape))
    for meter, day in np.argwhere(gap_count > 0):
        first, end = grid.day_offsets[day], grid.day_offsets[day + 1]
        for _ in range(gap_count[meter, day]):
            begin = int(rng.integers(first, end))
            present[meter, begin : min(begin + int(rng.integers(1, MAX_GAP + 1)), end)] = False
    counts.short_gaps += int(gap_count.sum())
    counts.short_gap_intervals += int((~present).sum())
    return DeliveryPlan(delivery, redelivery, present)


def under_register(
    rng: np.random.Generator, plan: DeliveryPlan, grid: IntervalGrid, values: list[IntArray]
) -> list[IntArray]:
    """Copies of ``values`` (channels, first one leading) as first delivered: corrected days distorted."""
    delivered = [channel.copy() for channel in values]
    for meter, day in np.argwhere(plan.redelivery != NOT_DELIVERED):
        first, end = int(grid.day_offsets[day]), int(grid.day_offsets[day + 1])
        peak = first + int(np.argmax(values[0][meter, first:end]))
        length = int(rng.integers(4, 17))
        begin = int(np.clip(peak - rng.integers(0, length), first, max(first, end - length)))
        factor = rng.uniform(0.2, 0.8)
        for channel in delivered:
            channel[meter, begin : begin + length] = np.floor(channel[meter, begin : begin + length] * factor)
    return delivered


def _positions(rng: np.random.Generator, size: int, rate: float) -> IntArray:
    """Distinct random positions in [0, size), each taken with probability ≈ ``rate``."""
    if size == 0 or rate <= 0:
        return np.zeros(0, dtype=np.int64)
    return np.unique(rng.integers(0, size, rng.binomial(size, rate))).astype(np.int64)


def spike_and_glitch(
    rng: np.random.Generator, values: IntArray, ceiling: FloatArray, rates: FaultRates, counts: FaultCounts
) -> IntArray:
    """``values`` with spikes (1.5-4 × ``ceiling``, the row's maximum possible value) and negative
    glitches (−1 … −500) at the configured per-line rates."""
    result = values.copy()
    spikes = _positions(rng, len(values), rates.spike)
    result[spikes] = np.ceil(ceiling[spikes] * rng.uniform(1.5, 4.0, len(spikes))).astype(np.int64)
    glitches = np.setdiff1d(_positions(rng, len(values), rates.glitch), spikes)
    result[glitches] = -rng.integers(1, 501, len(glitches))
    counts.spikes += len(spikes)
    counts.negative_glitches += len(glitches)
    return result


def duplicate_lines(rng: np.random.Generator, size: int, rates: FaultRates, counts: FaultCounts) -> IntArray:
    """Row order with each duplicated line written twice in a row."""
    repeat = np.ones(size, dtype=np.int64)
    duplicated = _positions(rng, size, rates.duplicate)
    repeat[duplicated] = 2
    counts.duplicated_lines += len(duplicated)
    return np.repeat(np.arange(size, dtype=np.int64), repeat)
