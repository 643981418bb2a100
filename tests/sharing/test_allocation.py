"""The keys against the published worked example and against the exact ``Fraction`` reference."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kwartier.config import EngineName
from kwartier.engine import connect
from kwartier.registry.sharing_groups import AllocationKey

from .builders import Case, run
from .reference import allocate_quarter, round_quarter

# issue 5: participants 1-6, injection 70/10/20/0/0/0, key 0/10/22.5/22.5/22.5/22.5 %, offtake
# 0/30/22/30/18/20 (kWh in one quarter hour)
EXAMPLE: Case = [
    {
        "1": (70_000, 0, 0),
        "2": (10_000, 30_000, 100_000),
        "3": (20_000, 22_000, 225_000),
        "4": (0, 30_000, 225_000),
        "5": (0, 18_000, 225_000),
        "6": (0, 20_000, 225_000),
    }
]
PUBLISHED_KWH: dict[AllocationKey, tuple[list[float | None], list[float]]] = {
    AllocationKey.FIXED: ([0, 9, 18, 22.5, 18, 20], [4.9, 1.7, 5.9, 0, 0, 0]),
    AllocationKey.RELATIVE: (
        [0, 9.580645, 18.25, 24.056452, 18, 20],
        [7.079032, 1.011290, 2.022581, 0, 0, 0],
    ),
    AllocationKey.OPTIMAL: ([None, None, None, None, None, None], [0, 0, 0, 0, 0, 0]),
}


@pytest.fixture(scope="module")
def duckdb() -> Iterator[Any]:
    backend = connect(EngineName.DUCKDB)
    yield backend
    gc.collect()  # OPTIMAL's cached round tables drop themselves on collection: while still connected
    backend.disconnect()


@pytest.mark.parametrize("key", list(AllocationKey))
def test_reference_reproduces_the_published_example(key: AllocationKey) -> None:
    injection = {p: v[0] for p, v in EXAMPLE[0].items()}
    offtake = {p: v[1] for p, v in EXAMPLE[0].items()}
    shares = {p: v[2] for p, v in EXAMPLE[0].items()}
    exact = allocate_quarter(injection, offtake, shares, key)
    shared_kwh, net_injection_kwh = PUBLISHED_KWH[key]
    for p, published in zip("123456", shared_kwh, strict=True):
        if published is not None:
            assert abs(exact.shared[p] / 1000 - Fraction(str(published))) < Fraction(1, 10**6)
    for p, published in zip("123456", net_injection_kwh, strict=True):
        assert abs(exact.net_injection[p] / 1000 - Fraction(str(published))) < Fraction(1, 10**6)
    total_shared = sum(exact.shared.values(), Fraction(0)) / 1000
    expected_total = {"fixed": Fraction(875, 10), "relative": None, "optimal": Fraction(100)}[key.value]
    if expected_total is not None:
        assert total_shared == expected_total
    else:
        assert abs(total_shared - Fraction("89.887097")) < Fraction(1, 10**6)


@pytest.mark.parametrize("key", list(AllocationKey))
def test_ibis_equals_the_rounded_reference_on_the_example(duckdb: Any, key: AllocationKey) -> None:
    _assert_matches_reference(run(duckdb, EXAMPLE, key), EXAMPLE, key, tolerance_wh=0)


def _assert_matches_reference(
    result: dict[tuple[int, str], dict[str, int]], case: Case, key: AllocationKey, *, tolerance_wh: int
) -> None:
    for n, values in enumerate(case):
        injection = {p: v[0] for p, v in values.items()}
        offtake = {p: v[1] for p, v in values.items()}
        shares = {p: v[2] for p, v in values.items()}
        shared, net_injection = round_quarter(allocate_quarter(injection, offtake, shares, key), injection)
        rows = {p: result[(n, p)] for p in values}
        for p, row in rows.items():
            assert row["offtake_wh"] == offtake[p] and row["injection_wh"] == injection[p]
            assert abs(row["shared_wh"] - shared[p]) <= tolerance_wh, (n, p, row, shared[p])
            assert abs(row["net_injection_wh"] - net_injection[p]) <= tolerance_wh, (
                n,
                p,
                row,
                net_injection[p],
            )
            assert row["shared_wh"] + row["net_offtake_wh"] == row["offtake_wh"]
            assert 0 <= row["shared_wh"] <= row["offtake_wh"] and row["net_injection_wh"] >= 0
        total_shared = sum(r["shared_wh"] for r in rows.values())
        assert total_shared + sum(r["net_injection_wh"] for r in rows.values()) == sum(injection.values())
        assert abs(total_shared - sum(shared.values())) <= tolerance_wh


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """A group of 2-6 participants (shares in ppm summing to 1, some 0) over 1-5 quarter hours."""
    n = draw(st.integers(2, 6))
    cuts = sorted(draw(st.lists(st.integers(0, 1_000_000), min_size=n - 1, max_size=n - 1)))
    shares = [b - a for a, b in zip([0, *cuts], [*cuts, 1_000_000], strict=True)]
    energy = st.one_of(st.just(0), st.integers(0, 40), st.integers(0, 20_000))
    quarters = draw(st.integers(1, 5))
    return [{f"p{i}": (draw(energy), draw(energy), shares[i]) for i in range(n)} for _ in range(quarters)]


@pytest.mark.parametrize("key", list(AllocationKey))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=cases())
def test_ibis_agrees_with_the_exact_reference(duckdb: Any, key: AllocationKey, case: Case) -> None:
    """Within 1 Wh of the exact rationals rounded by the same rule (the fixed point's mWh can move a
    value across a rounding boundary); conservation exact in every quarter."""
    _assert_matches_reference(run(duckdb, case, key), case, key, tolerance_wh=1)


@pytest.mark.parametrize("key", list(AllocationKey))
def test_a_rounding_residue_of_the_offer_moves_no_injection(duckdb: Any, key: AllocationKey) -> None:
    """p1 offers its 2 Wh to p0, the only other one keyed: exactly p0's offtake, but 17 × ⌊2 Wh / 17⌋ in
    pWh falls 9 pWh short. That residue must not keep p0 keyed in a second OPTIMAL round, which offered it
    p1's remaining injection and returned it pro rata (net injection 7 and 0 instead of 5 and 2; found by
    the property test below)."""
    case = [{"p0": (7, 2, 17), "p1": (2, 0, 999_983)}]
    _assert_matches_reference(run(duckdb, case, key), case, key, tolerance_wh=0)


def test_only_receiver_left_is_an_injector(duckdb: Any) -> None:
    """b injects 3 kWh and is the only one with offtake (10 kWh); a injects 5 kWh, shares 50/50.

    RELATIVE: a offers all 5 to b (taken); b offers its 3 to a, who takes nothing, so the 3 return pro
    rata gross injection: a 3 × 5/8 = 1.875, b 1.125. OPTIMAL round 2: a has no offtake left and leaves
    the key; a's 1.875 goes to b; b's own 1.125 cannot be offered to b and stays its net injection.
    """
    case: Case = [{"a": (5_000, 0, 500_000), "b": (3_000, 10_000, 500_000)}]
    relative = run(duckdb, case, AllocationKey.RELATIVE)
    assert [relative[(0, p)]["net_injection_wh"] for p in "ab"] == [1_875, 1_125]
    assert relative[(0, "b")]["shared_wh"] == 5_000
    optimal = run(duckdb, case, AllocationKey.OPTIMAL)
    assert [optimal[(0, p)]["net_injection_wh"] for p in "ab"] == [0, 1_125]
    assert optimal[(0, "b")]["shared_wh"] == 6_875
    fixed = run(duckdb, case, AllocationKey.FIXED)
    assert fixed[(0, "b")]["shared_wh"] == 2_500  # a's injection × b's share 0.5
    # own halves stay (2.5 and 1.5); b's 1.5 offered to a returns 5/8 : 3/8 = 0.9375 and 0.5625; the
    # tie of remainders (.5 each) goes to the smaller id
    assert [fixed[(0, p)]["net_injection_wh"] for p in "ab"] == [3_438, 2_062]
