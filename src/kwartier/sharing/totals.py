"""Totals per participant of an allocation result, and the P2P sale per seller (seed 002).

- shared [Wh]: what the participant received (its supplier no longer bills the energy component);
- self-sufficiency: shared / gross offtake (0 when there is no offtake), a fraction;
- sold [Wh], per P2P seller: gross injection − net injection, the energy the buyer took from it; the
  amount [EUR] is sold [kWh] × the registered price, rounded half up to the cent, settled between them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from kwartier.sharing.allocation import (
    INJECTION_WH,
    NET_INJECTION_WH,
    NET_OFFTAKE_WH,
    OFFTAKE_WH,
    PARTICIPANT,
    SHARED_WH,
    START,
)

CENT: Final = Decimal("0.01")
ENERGY_COLUMNS: Final = (OFFTAKE_WH, INJECTION_WH, SHARED_WH, NET_OFFTAKE_WH, NET_INJECTION_WH)


@dataclass(frozen=True)
class Totals:
    """One participant's totals over the result [Wh]."""

    participant: str
    offtake_wh: int
    injection_wh: int
    shared_wh: int
    net_offtake_wh: int
    net_injection_wh: int

    @property
    def given_wh(self) -> int:
        """Own injection taken by others [Wh] (for a P2P seller: sold)."""
        return self.injection_wh - self.net_injection_wh

    @property
    def self_sufficiency(self) -> float:
        """Shared / gross offtake (0 without offtake)."""
        return self.shared_wh / self.offtake_wh if self.offtake_wh else 0.0


def totals_per_participant(result: pa.Table) -> list[Totals]:
    """Sum the energy columns of ``result`` per participant, ordered by participant."""
    summed = result.group_by(PARTICIPANT).aggregate([(c, "sum") for c in ENERGY_COLUMNS])
    summed = summed.sort_by(PARTICIPANT)
    return [
        Totals(row[PARTICIPANT], *(int(row[f"{c}_sum"]) for c in ENERGY_COLUMNS))
        for row in summed.to_pylist()
    ]


def amount_eur(wh: int, price_eur_per_kwh: Decimal) -> Decimal:
    """``wh`` [Wh] at ``price_eur_per_kwh`` [EUR/kWh], rounded half up to the cent."""
    return (Decimal(wh) / 1000 * price_eur_per_kwh).quantize(CENT, rounding=ROUND_HALF_UP)


class ConservationError(AssertionError):
    """A settlement result does not conserve energy (a bug, never bad input)."""


def check_conservation(result: pa.Table) -> None:
    """Raise :class:`ConservationError` unless, in Wh, shared + net offtake = gross offtake on every row
    and Σ shared + Σ net injection = Σ gross injection in every quarter hour (issue 5)."""
    rows = pc.add(result.column(SHARED_WH), result.column(NET_OFFTAKE_WH))
    if pc.any(pc.not_equal(rows, result.column(OFFTAKE_WH))).as_py():
        raise ConservationError("shared + net offtake differs from gross offtake on some row")
    per_quarter = result.group_by(START).aggregate(
        [(c, "sum") for c in (SHARED_WH, NET_INJECTION_WH, INJECTION_WH)]
    )
    out = pc.add(per_quarter.column(f"{SHARED_WH}_sum"), per_quarter.column(f"{NET_INJECTION_WH}_sum"))
    if pc.any(pc.not_equal(out, per_quarter.column(f"{INJECTION_WH}_sum"))).as_py():
        raise ConservationError("Σ shared + Σ net injection differs from Σ gross injection in some quarter")
