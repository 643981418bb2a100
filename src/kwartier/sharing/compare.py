"""Choosing a key: the three keys side by side on past data of a registered group (issue 5).

Per participant and in total, for each key: shared energy [Wh], self-sufficiency (shared / gross
offtake) and the money involved [EUR], with the energy price and the injection compensation as
parameters (seed 002 quotes December 2022 averages: 0.41 EUR/kWh energy component, 0.21 EUR/kWh
compensation for injection):

- a receiver saves shared × energy price (only the energy component is replaced, seed 002);
- an injector loses given × compensation, ``given`` = its injection taken by others, for which its
  supplier no longer pays the compensation (seed 002: "dan valt die terugleveringsvergoeding weg");
- the net benefit is the saving minus the loss; for the group it is Σ shared × (price − compensation).

Amounts are rounded half up to the cent per participant; the total is the sum of the rounded amounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Final

from kwartier.config import Settings
from kwartier.registry.sharing_groups import AllocationKey
from kwartier.sharing.settlement import allocate_inputs, gather
from kwartier.sharing.totals import Totals, amount_eur, totals_per_participant

ENERGY_PRICE_EUR_PER_KWH: Final = Decimal("0.41")
INJECTION_COMPENSATION_EUR_PER_KWH: Final = Decimal("0.21")


@dataclass(frozen=True)
class KeyOutcome:
    """One participant (EAN) under one key."""

    key: AllocationKey
    ean: str
    totals: Totals
    saving_eur: Decimal
    lost_compensation_eur: Decimal

    @property
    def benefit_eur(self) -> Decimal:
        """Saving minus lost compensation [EUR]."""
        return self.saving_eur - self.lost_compensation_eur


def compare_keys(
    settings: Settings,
    code: str,
    day_from: date,
    day_to: date,
    *,
    as_of: datetime | None = None,
    energy_price: Decimal = ENERGY_PRICE_EUR_PER_KWH,
    compensation: Decimal = INJECTION_COMPENSATION_EUR_PER_KWH,
) -> list[KeyOutcome]:
    """Every participant's outcome under FIXED, RELATIVE and OPTIMAL over [day_from, day_to), each key
    applied to the whole range with the registered shares (ordered by key, then EAN)."""
    outcomes: list[KeyOutcome] = []
    with gather(settings, code, day_from, day_to, as_of) as inputs:
        ean_of = {ap: ean for ean, ap in inputs.ap_of.items()}
        for key in AllocationKey:
            summed: dict[str, list[int]] = {}
            for n in range(len(inputs.periods)):
                for t in totals_per_participant(allocate_inputs(inputs, n, key, settings.engine)):
                    values = [t.offtake_wh, t.injection_wh, t.shared_wh, t.net_offtake_wh, t.net_injection_wh]
                    previous = summed.setdefault(t.participant, [0] * len(values))
                    summed[t.participant] = [a + b for a, b in zip(previous, values, strict=True)]
            for ap, values in sorted(summed.items(), key=lambda item: ean_of[item[0]]):
                totals = Totals(ap, *values)
                outcomes.append(
                    KeyOutcome(
                        key,
                        ean_of[ap],
                        totals,
                        amount_eur(totals.shared_wh, energy_price),
                        amount_eur(totals.given_wh, compensation),
                    )
                )
    return outcomes
