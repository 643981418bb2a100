"""Properties of the state machines over random message sequences (Hypothesis), pure:
- no reservation is ever past its deadline after a message or a tick, and every open process holds one
  (an access point is never blocked silently);
- history is append-only: a step only adds facts, all recorded at the step's instant;
- a deactivated access point has no supplier; every outbox message id is unique;
- replaying the same messages gives the same register.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kwartier.market import messages as m
from kwartier.market.codes import OPEN_STATES, Attribute
from kwartier.market.processes import Outcome, Snapshot, advance, handle
from kwartier.market.processes import apply_outcome as fold
from kwartier.market.register import value_at
from tests.market.helpers import (
    BALANS,
    DSO,
    E1,
    ROLES,
    STROOM,
    VOLT,
    WATT,
    Readings,
    at,
    master,
    message,
)

START = date(2026, 1, 1)
SUPPLIERS = (STROOM, VOLT, WATT)
CUSTOMERS = ("C1", "C2", "C3")


@st.composite
def steps(draw: st.DrawFn) -> list[tuple[int, dict[str, Any]]]:
    """A sequence of (day offset, message fields or a tick) with days non-decreasing."""
    count = draw(st.integers(min_value=1, max_value=14))
    day = 0
    sequence = []
    for number in range(count):
        day += draw(st.integers(min_value=0, max_value=12))
        kind = draw(
            st.sampled_from(["switch", "move_in", "move_out", "end", "regime", "cancel", "resolve", "tick"])
        )
        offset = draw(
            st.one_of(st.integers(min_value=0, max_value=15), st.integers(min_value=-3, max_value=40))
        )
        fields: dict[str, Any] = {
            "kind": kind,
            "id": f"m{number}",
            "offset": offset,
            "sender": draw(st.sampled_from(SUPPLIERS)),
            "customer": draw(st.sampled_from(CUSTOMERS)),
            "target": f"m{draw(st.integers(min_value=0, max_value=max(number - 1, 0)))}",
        }
        sequence.append((day, fields))
    return sequence


def _inbound(day: int, fields: dict[str, Any]) -> m.Inbound | None:
    received = at((START + timedelta(days=day)).isoformat())
    target = (START + timedelta(days=day + fields["offset"])).isoformat()
    today = (START + timedelta(days=day)).isoformat()
    sender, customer, kind, message_id = fields["sender"], fields["customer"], fields["kind"], fields["id"]
    if kind == "switch":
        return message(
            "switch_request",
            message_id,
            sender,
            received,
            customer=customer,
            consent_date=today,
            effective_date=target,
            brp=BALANS,
        )
    if kind == "move_in":
        return message(
            "move_in", message_id, sender, received, customer=customer, move_date=target, brp=STROOM
        )
    if kind == "move_out":
        return message("move_out", message_id, sender, received, customer=customer, move_date=target)
    if kind == "end":
        return message("end_of_supply", message_id, sender, received, end_date=target)
    if kind == "regime":
        return message(
            "regime_change_request",
            message_id,
            sender,
            received,
            regime="SMR3",
            effective_date=target,
            requested_by="customer",
        )
    if kind == "cancel":
        return message("cancel", message_id, sender, received, process_id=fields["target"])
    if kind == "resolve":
        return message(
            "resolve",
            message_id,
            DSO,
            received,
            process_id=fields["target"],
            action="enter_index",
            index={"offtake/day": 100 + day},
        )
    return None


def _run(
    sequence: list[tuple[int, dict[str, Any]]], silent: frozenset[int]
) -> tuple[Snapshot, list[Outcome]]:
    readings = Readings(
        {(E1, START + timedelta(days=d)): {"offtake/day": 10 * d} for d in range(-10, 400) if d not in silent}
    )
    occupy = message(
        "move_in",
        "given",
        STROOM,
        at(START.isoformat(), 6),
        customer="C1",
        move_date=START.isoformat(),
        brp=STROOM,
    )
    snapshot = fold(master(E1), handle(master(E1), occupy, ROLES, readings))
    outcomes = []
    for day, fields in sequence:
        inbound = _inbound(day, fields)
        now: datetime
        if inbound is None:
            now = at((START + timedelta(days=day)).isoformat(), 18)
            outcome = advance(snapshot, now, readings)
        else:
            now = inbound.received_at
            outcome = handle(snapshot, inbound, ROLES, readings)
        _check_step(outcome, now)
        snapshot = fold(snapshot, outcome)
        _check_state(snapshot, now)
        outcomes.append(outcome)
    return snapshot, outcomes


def _check_step(outcome: Outcome, now: datetime) -> None:
    assert all(fact.recorded_at == now for fact in outcome.facts)
    assert all(r.released_at is None or r.released_at == now for r in outcome.reservations.values())


def _check_state(snapshot: Snapshot, now: datetime) -> None:
    active = {r.process_id: r for r in snapshot.reservations}
    assert all(r.deadline > now for r in active.values()), "a reservation is past its deadline"
    for process in snapshot.processes:
        if process.state in OPEN_STATES:
            assert process.id in active, f"{process.id} is open without a reservation"
    for offset in range(-5, 200, 3):
        day = START + timedelta(days=offset)
        if value_at(snapshot.facts, Attribute.STATUS, day) == "deactivated":
            assert value_at(snapshot.facts, Attribute.SUPPLIER, day) is None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequence=steps(), silent=st.frozensets(st.integers(min_value=0, max_value=120), max_size=40))
def test_random_message_sequences_keep_the_invariants(
    sequence: list[tuple[int, dict[str, Any]]], silent: frozenset[int]
) -> None:
    snapshot, outcomes = _run(sequence, silent)
    ids = [message.message_id for outcome in outcomes for message in outcome.outbox]
    assert len(ids) == len(set(ids))
    again, _ = _run(sequence, silent)
    assert again.facts == snapshot.facts
    assert sorted(again.processes, key=lambda p: p.id) == sorted(snapshot.processes, key=lambda p: p.id)
