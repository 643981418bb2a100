"""The market state machines, pure: state + message → new state, outbox messages, rejections."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from kwartier.market import messages as m
from kwartier.market.codes import (
    DSO_QUEUE,
    HEAD_END,
    NOTICE_DAYS,
    AttentionReason,
    Attribute,
    ProcessKind,
    ProcessState,
    RejectionCode,
)
from kwartier.market.processes import TRANSITIONS, Outcome, Process, Snapshot, TransitionError, _Work, advance
from kwartier.market.processes import apply_outcome as fold
from kwartier.market.register import value_at
from tests.market.helpers import (
    BALANS,
    DSO,
    E1,
    E2,
    E3,
    STRANGER,
    STROOM,
    UNKNOWN,
    VOLT,
    Readings,
    at,
    master,
    message,
    midnight,
    occupied,
    run,
)


def _types(outcome: Outcome) -> list[tuple[str, str]]:
    return sorted((m.message_type(type(o)), o.recipient) for o in outcome.outbox)


def _process(snapshot: Snapshot, process_id: str) -> Process:
    return next(p for p in snapshot.processes if p.id == process_id)


def _rejected(outcome: Outcome, code: RejectionCode) -> None:
    assert outcome.answer["accepted"] is False
    assert outcome.answer["code"] == code.value, outcome.answer
    assert not outcome.facts and not outcome.processes and not outcome.reservations
    (rejection,) = outcome.outbox
    assert isinstance(rejection, m.Rejection) and rejection.code == code


def _switch(
    message_id: str = "sw1", sender: str = VOLT, received: str = "2026-02-01", **fields: str
) -> m.Inbound:
    values = {"customer": "C1", "consent_date": "2026-01-30", "effective_date": "2026-02-10", "brp": BALANS}
    return message("switch_request", message_id, sender, at(received), **(values | fields))


def test_a_switch_waits_for_its_date_then_hands_the_remote_reading_to_both_suppliers() -> None:
    snapshot, readings = occupied(E1)
    snapshot, (accepted,) = run(snapshot, [_switch()], readings)
    assert accepted.answer == {"message_id": "sw1", "accepted": True, "process_id": "sw1"}
    assert _types(accepted) == [("confirmation", VOLT)]
    assert _process(snapshot, "sw1").state == ProcessState.PENDING
    (reservation,) = snapshot.reservations
    assert reservation.owner == VOLT and reservation.deadline == midnight("2026-02-10") + timedelta(days=3)

    readings.readings[(E1, date(2026, 2, 10))] = {"offtake/day": 2000}
    done = advance(snapshot, at("2026-02-11"), readings)
    snapshot = fold(snapshot, done)
    assert _types(done) == [
        ("handover_index", STROOM),
        ("handover_index", VOLT),
        ("supply_ended", STROOM),
        ("supply_started", VOLT),
    ]
    assert _process(snapshot, "sw1").state == ProcessState.COMPLETED
    assert not snapshot.reservations
    assert value_at(snapshot.facts, Attribute.SUPPLIER, date(2026, 2, 9)) == STROOM
    assert value_at(snapshot.facts, Attribute.SUPPLIER, date(2026, 2, 10)) == VOLT
    assert value_at(snapshot.facts, Attribute.BRP, date(2026, 2, 10)) == BALANS
    # bitemporal: as known before the switch was processed, Stroom still supplies on 10 February
    assert value_at(snapshot.facts, Attribute.SUPPLIER, date(2026, 2, 10), at("2026-02-05")) == STROOM


@pytest.mark.parametrize(
    ("fields", "sender", "code"),
    [
        ({"effective_date": "2026-01-31"}, VOLT, RejectionCode.EFFECTIVE_DATE_IN_PAST),
        ({"effective_date": "2026-06-01"}, VOLT, RejectionCode.EFFECTIVE_DATE_TOO_FAR),
        ({"consent_date": "2026-02-02"}, VOLT, RejectionCode.CONSENT_AFTER_REQUEST),
        ({"customer": "C9"}, VOLT, RejectionCode.CUSTOMER_MISMATCH),
        ({}, STROOM, RejectionCode.ALREADY_SUPPLIER),
        ({"brp": VOLT}, VOLT, RejectionCode.UNKNOWN_BRP),
        ({}, STRANGER, RejectionCode.UNKNOWN_SENDER),
        ({}, DSO, RejectionCode.NOT_AUTHORISED),
    ],
)
def test_a_switch_is_rejected_with_a_reason(fields: dict[str, str], sender: str, code: RejectionCode) -> None:
    snapshot, readings = occupied(E1)
    _, (outcome,) = run(snapshot, [_switch(sender=sender, **fields)], readings)
    _rejected(outcome, code)


def test_a_switch_on_an_unknown_ean_or_a_vacant_access_point_is_rejected() -> None:
    unknown = message(
        "switch_request",
        "sw1",
        VOLT,
        at("2026-02-01"),
        UNKNOWN,
        customer="C1",
        consent_date="2026-01-30",
        effective_date="2026-02-10",
        brp=BALANS,
    )
    _, (outcome,) = run(Snapshot(UNKNOWN, known=False), [unknown], Readings())
    _rejected(outcome, RejectionCode.UNKNOWN_EAN)
    assert outcome.outbox[0].ean is None
    _, (vacant,) = run(master(E1), [_switch()], Readings())
    _rejected(vacant, RejectionCode.NO_GRID_USER)


def test_a_second_switch_while_one_is_pending_names_the_reservation_holding_the_access_point() -> None:
    snapshot, readings = occupied(E1)
    first = _switch()
    second = _switch("sw2", VOLT, received="2026-02-03", effective_date="2026-02-12")
    snapshot, (_, outcome) = run(
        snapshot, [first, _switch("sw1b", VOLT, effective_date="2026-02-12")], readings
    )
    _rejected(outcome, RejectionCode.OVERLAPPING_PROCESS)
    assert "sw1" in outcome.answer["text"] and f"owner {VOLT}" in outcome.answer["text"]
    # once cancelled, the access point is free again
    cancel = message("cancel", "c1", VOLT, at("2026-02-03"), process_id="sw1")
    snapshot, (cancelled, _) = run(snapshot, [cancel, second], readings)
    assert cancelled.answer["accepted"] and not any(r.process_id == "sw1" for r in snapshot.reservations)
    assert _process(snapshot, "sw2").state == ProcessState.PENDING


def test_the_same_inbound_twice_is_idempotent_in_the_pure_function() -> None:
    snapshot, readings = occupied(E1)
    assert handle_twice(snapshot, _switch(), readings)


def handle_twice(snapshot: Snapshot, inbound: m.Inbound, readings: Readings) -> bool:
    first = run(snapshot, [inbound], readings)[1][0]
    second = run(snapshot, [inbound], readings)[1][0]
    return first == second


def _move_out(
    message_id: str = "mo1",
    sender: str = STROOM,
    customer: str = "C1",
    day: str = "2026-03-01",
    received: str = "2026-03-01",
) -> m.Inbound:
    return message("move_out", message_id, sender, at(received), customer=customer, move_date=day)


@pytest.mark.parametrize(
    ("inbound", "code"),
    [
        (_move_out(customer="C2"), RejectionCode.CUSTOMER_MISMATCH),
        (_move_out(sender=VOLT), RejectionCode.NOT_SUPPLIER),
        (_move_out(day="2026-01-04", received="2026-01-20"), RejectionCode.CUSTOMER_MISMATCH),
        (_move_out(day="2026-01-20", received="2026-03-01"), RejectionCode.EFFECTIVE_DATE_IN_PAST),
    ],
)
def test_a_move_out_that_does_not_match_the_register_is_rejected(
    inbound: m.Inbound, code: RejectionCode
) -> None:
    snapshot, readings = occupied(E1)
    _, (outcome,) = run(snapshot, [inbound], readings)
    _rejected(outcome, code)


def test_a_move_out_dated_before_the_last_handed_over_index_is_rejected() -> None:
    snapshot, readings = occupied(E1)
    exchange = message(
        "meter_exchange",
        "mx1",
        DSO,
        at("2026-01-20"),
        exchange_date="2026-01-20",
        old_serial="M1",
        closing_index={"offtake/day": 1500},
        new_serial="M9",
        new_kind="digital",
        opening_index={"offtake/day": 0},
    )
    snapshot, (exchanged, outcome) = run(
        snapshot, [exchange, _move_out(day="2026-01-15", received="2026-01-25")], readings
    )
    assert exchanged.answer["accepted"]
    _rejected(outcome, RejectionCode.DATE_BEFORE_LAST_READING)


def test_move_out_and_move_in_on_one_day_share_the_remote_reading_and_no_deactivation_follows() -> None:
    snapshot, readings = occupied(E1)
    readings.readings[(E1, date(2026, 3, 1))] = {"offtake/day": 4321}
    move_in = message(
        "move_in", "mi2", VOLT, at("2026-02-20"), customer="C2", move_date="2026-03-01", brp=BALANS
    )
    snapshot, outcomes = run(snapshot, [move_in, _move_out(received="2026-02-21")], readings)
    assert all(o.answer["accepted"] for o in outcomes)
    done = advance(snapshot, at("2026-03-02"), readings)
    snapshot = fold(snapshot, done)
    assert value_at(snapshot.facts, Attribute.GRID_USER, date(2026, 2, 28)) == "C1"
    assert value_at(snapshot.facts, Attribute.GRID_USER, date(2026, 3, 1)) == "C2"
    assert value_at(snapshot.facts, Attribute.SUPPLIER, date(2026, 3, 1)) == VOLT
    states = {p.id: p.state for p in snapshot.processes}
    assert states == {
        "given-" + E1: ProcessState.COMPLETED,
        "mi2": ProcessState.COMPLETED,
        "mo1": ProcessState.COMPLETED,
        "mo1/end": ProcessState.CANCELLED,
    }
    indexes = [o for o in done.outbox if isinstance(o, m.HandoverIndex)]
    assert {(o.recipient, o.index["offtake/day"], o.index_date) for o in indexes} == {
        (STROOM, 4321, date(2026, 3, 1)),
        (VOLT, 4321, date(2026, 3, 1)),
    }
    assert not snapshot.reservations


def test_a_move_in_without_move_out_ends_the_previous_supply_at_the_move_date() -> None:
    snapshot, readings = occupied(E1)
    readings.readings[(E1, date(2026, 3, 1))] = {"offtake/day": 4321}
    move_in = message(
        "move_in", "mi2", VOLT, at("2026-03-03"), customer="C2", move_date="2026-03-01", brp=BALANS
    )
    snapshot, (outcome,) = run(snapshot, [move_in], readings)
    assert _types(outcome) == [
        ("confirmation", VOLT),
        ("handover_index", STROOM),
        ("handover_index", VOLT),
        ("supply_ended", STROOM),
        ("supply_started", VOLT),
    ]
    assert value_at(snapshot.facts, Attribute.GRID_USER, date(2026, 3, 1)) == "C2"


def test_a_vacant_digital_meter_is_deactivated_remotely_after_the_notice_period() -> None:
    snapshot, readings = occupied(E1)
    readings.readings[(E1, date(2026, 3, 1))] = {"offtake/day": 4321}
    snapshot, _ = run(snapshot, [_move_out()], readings)
    end = date(2026, 3, 1) + timedelta(days=NOTICE_DAYS)
    assert _process(snapshot, "mo1/end").state == ProcessState.NOTICE
    assert _process(snapshot, "mo1/end").effective_date == end
    readings.readings[(E1, end)] = {"offtake/day": 4400}
    done = advance(snapshot, at(end.isoformat(), 12), readings)
    snapshot = fold(snapshot, done)
    assert _types(done) == [
        ("deactivation_order", HEAD_END),
        ("handover_index", STROOM),
        ("supply_ended", STROOM),
    ]
    assert value_at(snapshot.facts, Attribute.STATUS, end) == "deactivated"
    assert value_at(snapshot.facts, Attribute.SUPPLIER, end) is None
    assert value_at(snapshot.facts, Attribute.SUPPLIER, end - timedelta(days=1)) == STROOM
    assert _process(snapshot, "mo1/end").state == ProcessState.COMPLETED
    # a switch cannot follow; a move-in reactivates
    later = end.isoformat()
    _, (switch,) = run(
        snapshot, [_switch("sw9", received=later, consent_date=later, effective_date=later)], readings
    )
    _rejected(switch, RejectionCode.DEACTIVATED)
    readings.readings[(E1, end + timedelta(days=5))] = {"offtake/day": 4400}
    move_in = message(
        "move_in",
        "mi3",
        VOLT,
        at(later),
        customer="C3",
        move_date=(end + timedelta(days=5)).isoformat(),
        brp=BALANS,
    )
    snapshot, (moved_in,) = run(snapshot, [move_in], readings)
    snapshot = fold(snapshot, advance(snapshot, at((end + timedelta(days=6)).isoformat()), readings))
    assert moved_in.answer["accepted"]
    assert value_at(snapshot.facts, Attribute.STATUS, end + timedelta(days=5)) == "connected"
    assert value_at(snapshot.facts, Attribute.SUPPLIER, end + timedelta(days=5)) == VOLT


def test_a_classic_meter_needs_a_field_deactivation_which_the_work_queue_resolves() -> None:
    snapshot, readings = occupied(E2)
    leave = message(
        "move_out",
        "mo1",
        STROOM,
        at("2026-03-01"),
        E2,
        customer="C1",
        move_date="2026-03-01",
        index={"offtake/day": 7000},
    )
    snapshot, _ = run(snapshot, [leave], readings)
    assert _process(snapshot, "mo1").state == ProcessState.COMPLETED  # index came with the message
    end = date(2026, 3, 31)
    snapshot = fold(snapshot, advance(snapshot, at(end.isoformat()), readings))
    process = _process(snapshot, "mo1/end")
    assert process.state == ProcessState.NEEDS_ATTENTION and process.attention is not None
    assert process.attention.reason == AttentionReason.FIELD_DEACTIVATION
    (reservation,) = snapshot.reservations
    assert reservation.owner == DSO_QUEUE
    resolve = message(
        "resolve",
        "r1",
        DSO,
        at("2026-04-02"),
        E2,
        process_id="mo1/end",
        action="deactivated_in_field",
        index={"offtake/day": 7100},
    )
    snapshot, (resolved,) = run(snapshot, [resolve], readings)
    assert resolved.answer["accepted"]
    assert _process(snapshot, "mo1/end").state == ProcessState.COMPLETED
    assert value_at(snapshot.facts, Attribute.STATUS, date(2026, 4, 2)) == "deactivated"
    assert not snapshot.reservations


def test_a_missing_remote_reading_escalates_at_the_deadline_and_a_late_reading_completes_it() -> None:
    snapshot, readings = occupied(E1)
    readings.readings.clear()
    snapshot, _ = run(snapshot, [_switch()], readings)
    for day in ("2026-02-10", "2026-02-12"):  # in effect, waiting within the D+3 grace
        snapshot = fold(snapshot, advance(snapshot, at(day), readings))
        assert _process(snapshot, "sw1").state == ProcessState.AWAITING_INDEX
    assert (
        value_at(snapshot.facts, Attribute.SUPPLIER, date(2026, 2, 10)) == VOLT
    )  # the customer is not held up
    late = advance(snapshot, at("2026-02-14"), readings)
    snapshot = fold(snapshot, late)
    process = _process(snapshot, "sw1")
    assert process.state == ProcessState.NEEDS_ATTENTION and process.attention is not None
    assert process.attention.reason == AttentionReason.NO_REMOTE_READING
    assert _types(late) == [("attention_needed", VOLT), ("attention_needed", DSO_QUEUE)]
    (reservation,) = snapshot.reservations
    assert (reservation.owner, reservation.level) == (DSO_QUEUE, 1) and reservation.deadline > at(
        "2026-02-14"
    )
    snapshot = fold(snapshot, advance(snapshot, at("2026-02-25"), readings))
    (reservation,) = snapshot.reservations
    assert reservation.level == 2 and reservation.deadline > at("2026-02-25")
    readings.readings[(E1, date(2026, 2, 10))] = {"offtake/day": 2000}
    snapshot = fold(snapshot, advance(snapshot, at("2026-02-26"), readings))
    assert _process(snapshot, "sw1").state == ProcessState.COMPLETED
    assert not snapshot.reservations


def test_resolving_with_an_entered_index_completes_and_a_wrong_action_is_rejected() -> None:
    snapshot, readings = occupied(E1)
    readings.readings.clear()
    snapshot, _ = run(snapshot, [_switch()], readings)
    snapshot = fold(snapshot, advance(snapshot, at("2026-02-14"), readings))
    wrong = message(
        "resolve",
        "r0",
        DSO,
        at("2026-02-15"),
        process_id="sw1",
        action="deactivated_in_field",
        index={"offtake/day": 1},
    )
    right = message(
        "resolve",
        "r1",
        DSO,
        at("2026-02-15"),
        process_id="sw1",
        action="enter_index",
        index={"offtake/day": 1999},
    )
    snapshot, (rejected, accepted) = run(snapshot, [wrong, right], readings)
    _rejected(rejected, RejectionCode.ACTION_NOT_POSSIBLE)
    assert accepted.answer["accepted"]
    assert [o.source for o in accepted.outbox if isinstance(o, m.HandoverIndex)] == ["entered", "entered"]


def test_regime_change_rules_of_seed_002() -> None:
    snapshot, readings = occupied(E1)
    smr3 = message(
        "regime_change_request",
        "rg1",
        STROOM,
        at("2026-02-01"),
        regime="SMR3",
        effective_date="2026-02-01",
        requested_by="customer",
    )
    back = message(
        "regime_change_request",
        "rg2",
        STROOM,
        at("2026-02-05"),
        regime="SMR1",
        effective_date="2026-02-06",
        requested_by="supplier",
    )
    readings.readings[(E1, date(2026, 2, 1))] = {"offtake/day": 1800}
    snapshot, (accepted, refused) = run(snapshot, [smr3, back], readings)
    assert accepted.answer["accepted"]
    assert value_at(snapshot.facts, Attribute.REGIME, date(2026, 2, 1)) == {
        "regime": "SMR3",
        "requested_by": "customer",
    }
    _rejected(refused, RejectionCode.REGIME_CUSTOMER_CHOICE)
    classic, classic_readings = occupied(E2)
    on_classic = message(
        "regime_change_request",
        "rg3",
        STROOM,
        at("2026-02-01"),
        E2,
        regime="SMR3",
        effective_date="2026-02-01",
        requested_by="customer",
    )
    _, (outcome,) = run(classic, [on_classic], classic_readings)
    _rejected(outcome, RejectionCode.REGIME_NEEDS_DIGITAL_METER)


def test_a_production_installation_reaches_the_register_and_the_supplier_with_its_lead_time() -> None:
    snapshot, readings = occupied(E3)
    pv = message(
        "production_registration",
        "pv1",
        DSO,
        at("2026-02-03"),
        E3,
        kind="pv",
        kva=4.5,
        commissioned_on="2026-01-20",
        notified_on="2026-01-31",
    )
    snapshot, (outcome, again) = run(snapshot, [pv, pv.model_copy(update={"message_id": "pv2"})], readings)
    (notice,) = [o for o in outcome.outbox if isinstance(o, m.RegisterChanged)]
    assert (notice.recipient, notice.lead_time_days, notice.valid_from) == (STROOM, 3, date(2026, 1, 20))
    assert value_at(snapshot.facts, "installation:pv:2026-01-20", date(2026, 1, 20))["kva"] == 4.5
    _rejected(again, RejectionCode.INSTALLATION_EXISTS)


def test_a_meter_exchange_checks_the_old_meter_and_hands_closing_and_opening_indexes() -> None:
    snapshot, readings = occupied(E2)
    wrong = message(
        "meter_exchange",
        "mx0",
        DSO,
        at("2026-02-03"),
        E2,
        exchange_date="2026-02-03",
        old_serial="M1",
        closing_index={"offtake/day": 1},
        new_serial="M7",
        new_kind="digital",
        opening_index={"offtake/day": 0},
    )
    right = wrong.model_copy(update={"message_id": "mx1", "old_serial": "M2"})
    snapshot, (rejected, accepted) = run(snapshot, [wrong, right], readings)
    _rejected(rejected, RejectionCode.METER_MISMATCH)
    assert _types(accepted) == [
        ("handover_index", STROOM),
        ("handover_index", STROOM),
        ("register_changed", STROOM),
    ]
    assert value_at(snapshot.facts, Attribute.METER, date(2026, 2, 3)) == {"serial": "M7", "kind": "digital"}


def test_end_of_supply_needs_notice_and_a_switch_in_the_notice_period_supersedes_it() -> None:
    snapshot, readings = occupied(E1)
    short = message("end_of_supply", "eos0", STROOM, at("2026-02-01"), end_date="2026-02-10")
    ok = message("end_of_supply", "eos1", STROOM, at("2026-02-01"), end_date="2026-03-15")
    snapshot, (rejected, accepted, switched) = run(
        snapshot, [short, ok, _switch(received="2026-02-02")], readings
    )
    _rejected(rejected, RejectionCode.EFFECTIVE_DATE_IN_PAST)
    assert accepted.answer["accepted"] and switched.answer["accepted"]
    assert _process(snapshot, "eos1").state == ProcessState.CANCELLED


def test_every_state_machine_refuses_a_transition_it_does_not_list() -> None:
    snapshot, _ = occupied(E1)
    work = _Work(snapshot, at("2026-02-01"), Readings(), None)
    process = snapshot.processes[0]
    assert process.state == ProcessState.COMPLETED
    with pytest.raises(TransitionError):
        work.move(process, ProcessState.PENDING, "back")
    for kind, table in TRANSITIONS.items():
        reachable = set(table[None]).union(*table.values())
        assert ProcessState.COMPLETED in reachable, kind
        assert all(
            state in table
            for state in reachable
            if state not in (ProcessState.COMPLETED, ProcessState.CANCELLED)
        ), kind
    assert ProcessKind.PRODUCTION in TRANSITIONS


def test_an_end_of_supply_cannot_slip_in_before_a_pending_switch() -> None:
    snapshot, readings = occupied(E1)
    switch = _switch(effective_date="2026-04-20", received="2026-02-01", consent_date="2026-02-01")
    end = message("end_of_supply", "eos1", STROOM, at("2026-02-02"), end_date="2026-03-15")
    _, (accepted, refused) = run(snapshot, [switch, end], readings)
    assert accepted.answer["accepted"]
    _rejected(refused, RejectionCode.OVERLAPPING_PROCESS)


def test_a_second_move_out_for_the_same_departure_is_rejected() -> None:
    snapshot, readings = occupied(E1)
    readings.readings[(E1, date(2026, 3, 1))] = {"offtake/day": 4321}
    again = _move_out("mo2", received="2026-03-02")
    _, (first, second) = run(snapshot, [_move_out(), again], readings)
    assert first.answer["accepted"]
    _rejected(second, RejectionCode.CUSTOMER_MISMATCH)
    assert "already left" in second.answer["text"]
