"""The allocation keys of energy sharing per quarter hour, written once as Ibis expressions.

Source: seed 002 and the Flemish protocol's keys as issue 5 states them (ONE_ROUND, FIXED, RELATIVE,
OPTIMAL). Per quarter hour and participant p: gross injection ``I_p`` and gross offtake ``O_p`` [Wh],
key share ``k_p`` (``share_ppm`` / 1,000,000, Σ = 1). Injection and offtake are separate registers: no
netting within one access point, and nobody is offered their own injection.

ONE_ROUND, rewritten so that every per-quarter sum is one aggregation (``a_p``: the key weight in ppm,
``A = Σ a``, ``T = Σ I``):

- every injector i offers ``r_i`` per ppm of key to every other participant: FIXED ``r_i = I_i / A``
  (its own share stays unshared), RELATIVE ``r_i = I_i / (A − a_i)`` (its own share is left out and the
  rest renormalised; when ``A − a_i = 0`` nothing is offered);
- ``offered_p = a_p · (Σ_i r_i − r_p)``, ``shared_p = min(offered_p, O_p)``;
- ``B = Σ_p (offered_p − shared_p)`` (offered but not taken) returns to the injectors pro rata gross
  injection: ``net_injection_i = I_i − r_i·(A − a_i) + B · I_i / T``.

OPTIMAL repeats RELATIVE rounds on the net injection and net offtake with the key set to 0 for every
receiver whose net offtake reached 0 (round 1 uses the key as registered), summing ``shared``, until a
round shares nothing in that quarter. "Reached 0" is decided within the rates' rounding (below): a net
offtake of the most the round's offer can fall short of the exact one (key [ppm] × injectors,
in pWh) or less counts as 0. Otherwise that residue of a few pWh kept a receiver keyed, and the next round
offered it every other injector's whole remaining injection, of which it took the residue while the
rest returned pro rata and moved Wh between the injectors' net injection (found by the property test:
two participants, shares of 17 and 999,983 ppm). It ends: a round either brings at least one receiver's
offtake to 0 (it leaves the key) or everything offered is taken, after which only the rounding residue of
at most a few pWh is left, too small to offer.

Arithmetic (the rounding rule, declared): energies are carried as int64 pico-watt-hours (pWh, 10⁻¹² Wh),
so every sum is exact and independent of the engine's summation order. The quotients ``r_i`` are rounded
down to whole pWh per ppm; the pro-rata return ``B · I_i / T`` is ``floor(B · (I_i / T))`` in IEEE double
(a row-wise operation, identical on every engine). Before output rounding the result therefore lies within
a few mWh of the exact rational one, and conservation holds in pWh up to that residue. Then, per quarter:

- shared [Wh]: the total Σ shared is rounded half up to whole Wh and handed out by largest remainder
  (ties: the smaller participant id first); each ``shared_p ≤ O_p`` stays true;
- net offtake [Wh] = gross offtake − shared (exactly);
- net injection [Wh]: the total Σ I − Σ shared is handed out to the injectors by largest remainder of
  their net injection.

So per quarter Σ shared + Σ net injection = Σ gross injection and shared + net offtake = gross offtake
hold exactly in Wh (kWh with 3 decimals). The group's gross injection per quarter must stay below
``MAX_GROUP_INJECTION_WH`` (int64 pWh); :func:`allocate` is given only tables that respect it
(:func:`kwartier.sharing.inputs.check_group_quarters`).
"""

from __future__ import annotations

from typing import Any, Final

import ibis
import ibis.expr.types as ir

from kwartier.registry.sharing_groups import AllocationKey

PARTICIPANT: Final = "participant"  # ap in settlement runs, EAN in the stateless command
START: Final = "start"
SHARE_PPM: Final = "share_ppm"
OFFTAKE_WH: Final = "offtake_wh"
INJECTION_WH: Final = "injection_wh"
SHARED_WH: Final = "shared_wh"
NET_OFFTAKE_WH: Final = "net_offtake_wh"
NET_INJECTION_WH: Final = "net_injection_wh"

RESULT_COLUMNS: Final = (
    PARTICIPANT,
    START,
    OFFTAKE_WH,
    INJECTION_WH,
    SHARED_WH,
    NET_OFFTAKE_WH,
    NET_INJECTION_WH,
)

PWH_PER_WH: Final = 10**12
MAX_GROUP_INJECTION_WH: Final = 4_000_000
"""Largest Σ gross injection [Wh] of a group in one quarter hour (16 MW on average): int64 pWh headroom."""

# working columns of a round, in pWh (o: offtake left, i: injection left, s: shared so far)
_O, _I, _S, _A, _ROUND = "o_pwh", "i_pwh", "s_pwh", "key_ppm", "round_shared"
_SHORTFALL: Final = "shortfall_pwh"
"""Bound on how much less a round offered a participant than the exact rational offer [pWh]: each
injector's rate is rounded down by less than 1 pWh per ppm, so the offer falls short by less than
key [ppm] × injectors."""
_QUARTER: Final = "_quarter"
_ID_SPAN: Final = 1 << 23
"""Participants ranked by id in a remainder's tie-break key (see :func:`_extra_wh`)."""


def allocate(quarters: ir.Table, key: AllocationKey) -> ir.Table:
    """Allocate shared energy per quarter hour with ``key``.

    ``quarters``: one row per participant and quarter hour with ``participant``, ``start``,
    ``share_ppm`` [ppm], ``offtake_wh`` and ``injection_wh`` [Wh, ≥ 0]. Returns :data:`RESULT_COLUMNS`
    [Wh]. OPTIMAL runs its rounds one after the other; each round's table is materialised and only the
    quarters whose last round shared something go on.
    """
    base = _with_quarter_sums(quarters, _total_injection=quarters[INJECTION_WH])
    idle = base.filter(base._total_injection == 0)
    work = base.filter(base._total_injection > 0).select(
        PARTICIPANT,
        START,
        OFFTAKE_WH,
        INJECTION_WH,
        SHARE_PPM,
        **{
            _O: base[OFFTAKE_WH] * PWH_PER_WH,
            _I: base[INJECTION_WH] * PWH_PER_WH,
            _S: ibis.literal(0, "int64"),
            _A: base[SHARE_PPM],
        },
    )
    work = _one_round(work, relative=key is not AllocationKey.FIXED)
    if key is AllocationKey.OPTIMAL:
        work = _optimal_rounds(work)
    settled = _round_to_wh(work)
    unshared = idle.select(
        PARTICIPANT,
        START,
        OFFTAKE_WH,
        INJECTION_WH,
        **{
            SHARED_WH: ibis.literal(0, "int64"),
            NET_OFFTAKE_WH: idle[OFFTAKE_WH],
            NET_INJECTION_WH: idle[INJECTION_WH],
        },
    )
    return settled.union(unshared)


def _floordiv(a: ir.IntegerValue, b: ir.IntegerValue | int) -> ir.IntegerValue:
    """Exact ``a // b`` for int64 ``a ≥ 0``, ``b > 0`` on every engine (Ibis compiles ``//`` through a
    double, which is not exact beyond 2⁵³): the double quotient of the multiple ``a − a mod b`` is off by
    at most a few thousand, and that error, an exact multiple of ``b`` in int64, is divided out again."""
    multiple = a - a % b
    guess = (multiple / b).round().cast("int64")
    return guess + ((multiple - guess * b) / b).round().cast("int64")


def _on_spark(table: ir.Table) -> bool:
    """Whether ``table`` lives on PySpark (the per-quarter steps take window functions there)."""
    return bool(ibis.get_backend(table).name == "pyspark")


def _with_quarter_sums(table: ir.Table, **sums: Any) -> ir.Table:
    """``table`` with the per-quarter sums of the given column expressions on every row.

    On DuckDB the sums are one small materialised table, a row per quarter hour, joined with the rows: a
    hash join is several times cheaper there than a window sum, which carries every wide row through a
    sort. On PySpark, window sums: there joins with grouped tables make plans that grow with every round.
    """
    if _on_spark(table):
        return table.mutate(**{name: expr.sum().over(group_by=table[START]) for name, expr in sums.items()})
    grouped = table.group_by(START).aggregate(**{name: expr.sum() for name, expr in sums.items()})
    totals = grouped.rename({_QUARTER: START}).cache()
    return table.join(totals, table[START] == totals[_QUARTER]).drop(_QUARTER)


def _one_round(table: ir.Table, *, relative: bool) -> ir.Table:
    """ONE_ROUND on the working columns; adds the quarter's shared energy of this round [pWh]."""
    table = table.select(PARTICIPANT, START, OFFTAKE_WH, INJECTION_WH, SHARE_PPM, _O, _I, _S, _A)
    t = _with_quarter_sums(
        table, _key_total=table[_A], _inj_total=table[_I], _injectors=(table[_I] > 0).cast("int64")
    )
    others = t._key_total - t[_A]
    divisor = others if relative else t._key_total
    rate = ibis.cases(
        ((t[_I] > 0) & (divisor > 0), _floordiv(t[_I], divisor)), else_=ibis.literal(0, "int64")
    )
    t = t.mutate(_rate=rate.cast("int64"), _others=others)
    t = _with_quarter_sums(t, _rate_total=t._rate)
    offered = t[_A] * (t._rate_total - t._rate)
    t = t.mutate(_offered=offered, _taken=ibis.least(offered, t[_O]))
    t = _with_quarter_sums(t, _left=t._offered - t._taken, **{_ROUND: t._taken})
    returned = ibis.cases(
        (
            t._inj_total > 0,
            (t._left.cast("float64") * (t[_I].cast("float64") / t._inj_total.cast("float64"))),
        ),
        else_=ibis.literal(0.0, "float64"),
    )
    return t.select(
        PARTICIPANT,
        START,
        OFFTAKE_WH,
        INJECTION_WH,
        SHARE_PPM,
        _ROUND,
        **{
            _O: t[_O] - t._taken,
            _I: t[_I] - t._rate * t._others + returned.floor().cast("int64"),
            _S: t[_S] + t._taken,
            _A: t[_A],
            _SHORTFALL: t[_A] * t._injectors,
        },
    )


def _optimal_rounds(table: ir.Table) -> ir.Table:
    """RELATIVE rounds after round 1 until every quarter had a round that shared nothing.

    Only the rows of quarters whose last round shared something go on, and of those only the rows with
    offtake or injection left: from round 2 on a row without offtake has key 0 and a row without
    injection offers nothing, so a row with neither changes no sum."""
    finished: list[ir.Table] = []
    current = table
    while True:
        current = current.cache()
        # a row with neither offtake nor injection left is inert in every later round: it leaves early
        busy = (current[_ROUND] > 0) & ((current[_O] > 0) | (current[_I] > 0))
        finished.append(current.filter(~busy))
        current = current.filter(busy)
        if current.count().execute() == 0:
            break
        rekeyed = current.mutate(
            **{_A: ibis.cases((current[_O] > current[_SHORTFALL], current[SHARE_PPM]), else_=0).cast("int64")}
        )
        current = _one_round(rekeyed, relative=True)
    return ibis.union(*finished)


def _round_to_wh(table: ir.Table) -> ir.Table:
    """The output rounding of the module docstring: exact conservation per quarter in Wh.

    Both targets come from one aggregation: Σ shared [Wh] is the rounded total, so the net injection's
    total is Σ gross injection − that target. The ``target − Σ floor`` participants with the largest
    remainders (ties: the smaller id) get one Wh more each (:func:`_extra_wh`)."""
    t = table.mutate(
        _shared_floor=_floordiv(table[_S], PWH_PER_WH),
        _shared_rest=table[_S] % PWH_PER_WH,
        _inj_floor=_floordiv(table[_I], PWH_PER_WH),
        _inj_rest=table[_I] % PWH_PER_WH,
    )
    sums = {
        "_shared_total": t[_S],
        "_shared_floor_total": t._shared_floor,
        "_inj_floor_total": t._inj_floor,
        "_inj_wh_total": t[INJECTION_WH],
    }
    t, shared_extra, inj_extra = _extra_wh(t, sums)
    shared = (t._shared_floor + shared_extra.cast("int64")).cast("int64")
    return t.select(
        PARTICIPANT,
        START,
        OFFTAKE_WH,
        INJECTION_WH,
        **{
            SHARED_WH: shared,
            NET_OFFTAKE_WH: (t[OFFTAKE_WH] - shared).cast("int64"),
            NET_INJECTION_WH: (t._inj_floor + inj_extra.cast("int64")).cast("int64"),
        },
    )


def _extra_wh(table: ir.Table, sums: dict[str, Any]) -> tuple[ir.Table, ir.BooleanValue, ir.BooleanValue]:
    """``table`` with the quarter ``sums``, and per row whether it gets one Wh more of shared energy and of
    net injection: whether it is among the ``k`` rows of its quarter with the largest remainder (ties: the
    smaller participant id), ``k`` = Σ shared rounded − Σ floor for shared energy, and Σ gross injection −
    Σ shared rounded − Σ floor for net injection. Rows with remainder 0 never get one.

    Two ways to the same rows. PySpark: ``row_number`` over the quarter ordered by remainder and id,
    ``< k``. DuckDB, without sorting wide rows: every row gets the integer ``remainder · 2²³ + (2²³ − 1 −
    id rank)`` (remainder < 10¹² < 2⁴⁰, so it fits in int64 for up to 2²³ participants), which orders
    exactly as remainder desc, id asc; the quarter's aggregation collects these keys of the rows with a
    remainder, sorted, and the ``k``-th largest is the threshold a row must reach."""
    if _on_spark(table):
        t = _with_quarter_sums(table, **sums)
        shared_target = _floordiv(t._shared_total + PWH_PER_WH // 2, PWH_PER_WH)
        shared_rank = ibis.row_number().over(
            group_by=t[START], order_by=[t._shared_rest.desc(), t[PARTICIPANT]]
        )
        inj_rank = ibis.row_number().over(group_by=t[START], order_by=[t._inj_rest.desc(), t[PARTICIPANT]])
        shared_extra = (shared_rank < shared_target - t._shared_floor_total) & (t._shared_rest > 0)
        inj_extra = (inj_rank < t._inj_wh_total - shared_target - t._inj_floor_total) & (t._inj_rest > 0)
        return t, shared_extra, inj_extra
    ids = table.select(PARTICIPANT).distinct()
    ids = ids.mutate(_id_rank=ibis.row_number().over(order_by=ids[PARTICIPANT])).cache()
    keyed = table.join(ids, PARTICIPANT)
    tie = _ID_SPAN - 1 - keyed._id_rank
    keyed = keyed.mutate(
        _shared_key=keyed._shared_rest * _ID_SPAN + tie, _inj_key=keyed._inj_rest * _ID_SPAN + tie
    )
    grouped = keyed.group_by(START).aggregate(
        **{name: expr.sum() for name, expr in sums.items()},
        _shared_keys=keyed._shared_key.collect(
            where=keyed._shared_rest > 0, order_by=keyed._shared_key.desc()
        ),
        _inj_keys=keyed._inj_key.collect(where=keyed._inj_rest > 0, order_by=keyed._inj_key.desc()),
    )
    shared_target = _floordiv(grouped._shared_total + PWH_PER_WH // 2, PWH_PER_WH)
    # k is at most the number of participants: int32 also keeps DuckDB's HUGEINT sums out of the index
    shared_k = (shared_target - grouped._shared_floor_total).cast("int32")
    inj_k = (grouped._inj_wh_total - shared_target - grouped._inj_floor_total).cast("int32")
    thresholds = grouped.select(
        grouped[START].name(_QUARTER),
        *(grouped[name] for name in sums),
        ibis.ifelse(shared_k > 0, grouped._shared_keys[shared_k - 1], None).name("_shared_threshold"),
        ibis.ifelse(inj_k > 0, grouped._inj_keys[inj_k - 1], None).name("_inj_threshold"),
    ).cache()
    t = keyed.join(thresholds, keyed[START] == thresholds[_QUARTER]).drop(_QUARTER)
    shared_extra = (t._shared_key >= t._shared_threshold).fill_null(False)
    inj_extra = (t._inj_key >= t._inj_threshold).fill_null(False)
    return t, shared_extra, inj_extra
