"""What a simulated region looks like: its size, period, shares of equipment and fault rates.

The defaults describe a Flemish distribution grid of today (shares from the brief of the simulator and
the regulator's 2026 evaluation, seed 000): ~25 % of households with PV, ~80 % digital meters, 20 % of
those in measurement regime 3. The default size (2,000 electricity access points, 7 days) runs in seconds;
the size fields reach benchmark scale (1,000,000 access points × 1 day).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class FaultRates:
    """How often the head-end misbehaves; every injected fault is counted in :class:`FaultCounts`.

    Rates per meter (``non_communicating_*``), per meter-day (``short_gaps``, ``outage_start``,
    ``late_*``, ``corrected``) or per delivered reading line (``spike``, ``glitch``, ``duplicate``,
    ``malformed``).
    """

    non_communicating_electricity: float = 0.01
    non_communicating_gas: float = 0.036
    short_gaps: float = 0.004  # expected gaps of 1-8 intervals per meter-day
    outage_start: float = 0.0025  # an outage of 1-3 days starts (≈ 0.5 % of meter-days lost)
    late_2_days: float = 0.02  # the day's data comes one delivery late (on D+2 instead of D+1)
    late_5_days: float = 0.005  # ... four deliveries late (on D+5)
    corrected: float = 0.002  # re-delivered later with changed values, status ``validated``
    spike: float = 1e-5  # value above capacity × ¼ h
    glitch: float = 1e-5  # negative value
    duplicate: float = 0.001  # exact copy of the line in the same file
    malformed: float = 5e-6  # bad EAN check digit, start off the grid or non-numeric value


@dataclass(frozen=True)
class RegionConfig:
    """A region to simulate: ``access_points`` electricity access points (gas ones come on top)."""

    seed: int = 42
    access_points: int = 2_000
    start: date = date(2026, 11, 2)
    days: int = 7
    business_share: float = 0.08  # small businesses among the electricity access points
    amr_share: float = 0.005  # large connections (> 56 kVA) with a remotely read AMR meter
    pv_share: float = 0.25  # households with PV
    heat_pump_share: float = 0.08
    ev_share: float = 0.10
    battery_share: float = 0.04  # households with a home battery (all of them also have PV)
    gas_share: float = 0.60  # households with a gas connection
    digital_share: float = 0.80  # digital meters among households and small businesses (rest classic)
    smr3_share: float = 0.20  # measurement regime 3 among digital meters
    unregistered_pv_share: float = 0.02  # PV installations missing from the registry
    faults: FaultRates = field(default_factory=FaultRates)

    def __post_init__(self) -> None:
        if self.access_points < 1:
            raise ValueError("a region needs at least one access point")
        if self.days < 1:
            raise ValueError("simulate at least one day")
