"""An independent second method: the keys of issue 5 exactly as its pseudo-code, in ``Fraction``.

One quarter hour at a time, one injector at a time (the Ibis version sums per quarter instead), no
fixed point: the values are exact rationals until :func:`round_quarter` applies the same declared output
rule as :mod:`kwartier.sharing.allocation` (largest remainder, ties to the smaller participant id).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from kwartier.registry.sharing_groups import AllocationKey


@dataclass(frozen=True)
class Exact:
    """Exact shared energy and net injection per participant of one quarter hour [Wh]."""

    shared: dict[str, Fraction]
    net_injection: dict[str, Fraction]


def one_round(
    injection: dict[str, Fraction], offtake: dict[str, Fraction], key: dict[str, Fraction], *, relative: bool
) -> Exact:
    """ONE_ROUND(I, O, k, mode) of issue 5, literally."""
    offered = dict.fromkeys(key, Fraction(0))
    not_shared = dict.fromkeys(key, Fraction(0))
    for i, amount in injection.items():
        if amount <= 0:
            continue
        shares = dict(key)
        if relative:
            shares[i] = Fraction(0)
            total = sum(shares.values(), Fraction(0))
            shares = {p: (k / total if total else Fraction(0)) for p, k in shares.items()}
        given = Fraction(0)
        for p, k in shares.items():
            if p != i:
                offered[p] += amount * k
                given += amount * k
        not_shared[i] += amount - given
    shared = {p: min(offered[p], offtake[p]) for p in key}
    left = sum((offered[p] - shared[p] for p in key), Fraction(0))
    total_injection = sum(injection.values(), Fraction(0))
    net_injection = {
        p: not_shared[p] + (left * injection[p] / total_injection if total_injection else Fraction(0))
        for p in key
    }
    return Exact(shared, net_injection)


def allocate_quarter(
    injection: dict[str, int], offtake: dict[str, int], share_ppm: dict[str, int], key: AllocationKey
) -> Exact:
    """FIXED, RELATIVE or OPTIMAL for one quarter hour, exact."""
    inj = {p: Fraction(v) for p, v in injection.items()}
    off = {p: Fraction(v) for p, v in offtake.items()}
    weights = {p: Fraction(v, 1_000_000) for p, v in share_ppm.items()}
    result = one_round(inj, off, weights, relative=key is not AllocationKey.FIXED)
    if key is not AllocationKey.OPTIMAL:
        return result
    shared = dict(result.shared)
    while True:
        off = {p: off[p] - result.shared[p] for p in off}
        inj = result.net_injection
        rekeyed = {p: (weights[p] if off[p] > 0 else Fraction(0)) for p in weights}
        result = one_round(inj, off, rekeyed, relative=True)
        if sum(result.shared.values(), Fraction(0)) == 0:
            return Exact(shared, inj)
        shared = {p: shared[p] + result.shared[p] for p in shared}


def _largest_remainder(values: dict[str, Fraction], total: int) -> dict[str, int]:
    floors = {p: v.numerator // v.denominator for p, v in values.items()}
    order = sorted((p for p in values if values[p] != floors[p]), key=lambda p: (-(values[p] - floors[p]), p))
    extra = set(order[: total - sum(floors.values())])
    return {p: floors[p] + (1 if p in extra else 0) for p in values}


def round_quarter(exact: Exact, injection: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """Shared and net injection in whole Wh by the declared rule: exact conservation."""
    total = sum(exact.shared.values(), Fraction(0))
    shared = _largest_remainder(exact.shared, int(total + Fraction(1, 2)))
    net_injection = _largest_remainder(exact.net_injection, sum(injection.values()) - sum(shared.values()))
    return shared, net_injection
