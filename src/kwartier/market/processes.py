"""The market processes as explicit state machines: (snapshot of one access point, message) → outcome.

Pure: :func:`handle` and :func:`advance` read a :class:`Snapshot` (the register facts, processes and
reservations of one access point) and return an :class:`Outcome` (facts to append, processes and
reservations in their new state, process events, outbox messages, the answer to the sender). The
service (:mod:`kwartier.market.service`) loads snapshots and writes outcomes.

Rules (seed 000 §4.2: a lock that could not be lifted blocked thousands of access points):
- a process may *reserve* its access point, but every reservation has an owner, a deadline and an
  escalation: when the deadline passes unfinished the process moves to ``needs_attention`` (reason and
  possible actions, in the work queue of the DSO's market operations) and the reservation escalates,
  one level up with a new deadline, each time it passes again. No reservation is ever past its deadline
  after :func:`advance`;
- only a ``pending`` process (not yet in effect) excludes another of the same slot (supply: switch,
  move-in, move-out; regime: regime change); a move supersedes a pending switch, and a switch or a
  move-in supersedes an end of supply in its notice period. Once a process changed the register it only
  waits for its index, which excludes nobody: a change dated before it is refused as overlapping;
- the time of a message is its ``received_at``; :func:`handle` first brings the processes to that time
  (:func:`advance`), so replaying the same messages in the same order gives the same register;
- a change takes effect on its effective date (``valid_from``) whenever it is processed; it is recorded
  at the time it is processed (``recorded_at``): the register is bitemporal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, Final, TypeVar

from pydantic import BaseModel

from kwartier.domain.timegrid import local_midnight_utc
from kwartier.market import messages as m
from kwartier.market.codes import (
    ACTIONS,
    DSO_QUEUE,
    ESCALATION_PERIOD,
    HEAD_END,
    INDEX_PREFIX,
    INSTALLATION_PREFIX,
    MAX_MOVE_BACK_DAYS,
    MAX_SWITCH_AHEAD_DAYS,
    NOTICE_DAYS,
    OPEN_STATES,
    READING_GRACE,
    REJECTION_TEXT,
    Action,
    AttentionReason,
    Attribute,
    ProcessKind,
    ProcessState,
    RejectionCode,
    Status,
)
from kwartier.market.register import Fact, last_index_date, market_day, meter_at, regime_at, value_at
from kwartier.registry.codes import MeterKind, PartyRole, Regime

Index = Mapping[str, int]
Readings = Callable[[str, date], Index | None]
"""The remote reading of an access point's meter at 00:00 (Europe/Brussels) of a day, None if none."""

S = ProcessState
TRANSITIONS: Final[dict[ProcessKind, dict[ProcessState | None, frozenset[ProcessState]]]] = {
    kind: {
        None: frozenset({S.PENDING}),
        S.PENDING: frozenset({S.AWAITING_INDEX, S.CANCELLED}),
        S.AWAITING_INDEX: frozenset({S.COMPLETED, S.NEEDS_ATTENTION}),
        S.NEEDS_ATTENTION: frozenset({S.AWAITING_INDEX, S.COMPLETED, S.NEEDS_ATTENTION}),
    }
    for kind in (ProcessKind.SWITCH, ProcessKind.MOVE_IN, ProcessKind.MOVE_OUT, ProcessKind.REGIME_CHANGE)
} | {
    ProcessKind.END_OF_SUPPLY: {
        None: frozenset({S.NOTICE}),
        S.NOTICE: frozenset({S.AWAITING_INDEX, S.NEEDS_ATTENTION, S.CANCELLED}),
        S.AWAITING_INDEX: frozenset({S.COMPLETED, S.NEEDS_ATTENTION}),
        S.NEEDS_ATTENTION: frozenset({S.AWAITING_INDEX, S.COMPLETED, S.CANCELLED, S.NEEDS_ATTENTION}),
    },
    ProcessKind.PRODUCTION: {None: frozenset({S.COMPLETED})},
    ProcessKind.METER_EXCHANGE: {None: frozenset({S.COMPLETED})},
}
"""Every state a process of each kind can move to from each state (None: when it is created)."""

_REMOTE: Final = frozenset({MeterKind.DIGITAL.value, MeterKind.AMR.value})
_SUPPLY_SLOT: Final = frozenset({ProcessKind.SWITCH, ProcessKind.MOVE_IN, ProcessKind.MOVE_OUT})
# on one day, a move-out takes effect before the move-in of the next occupant, and both before a switch
_DUE_ORDER: Final = {
    ProcessKind.MOVE_OUT: 0,
    ProcessKind.END_OF_SUPPLY: 1,
    ProcessKind.MOVE_IN: 2,
    ProcessKind.SWITCH: 3,
    ProcessKind.REGIME_CHANGE: 4,
}


_Record = TypeVar("_Record")


def _changed(record: _Record, **changes: Any) -> _Record:
    """A copy of frozen dataclass ``record`` with ``changes``: what ``dataclasses.replace`` gives for
    the records of this module (none has ``__post_init__``, slots or init-only fields), without its
    per-field introspection, which took a fifth of the state machines' time. Unknown fields raise."""
    fields = record.__dict__
    if not changes.keys() <= fields.keys():
        raise TypeError(f"{type(record).__name__} has no field {sorted(changes.keys() - fields.keys())}")
    copy = object.__new__(type(record))
    copy.__dict__.update(fields, **changes)
    return copy


class TransitionError(RuntimeError):
    """A process was asked to move to a state its state machine does not allow (a bug, never data)."""


@dataclass(frozen=True)
class Attention:
    """Why a process needs attention, the actions possible, and since when."""

    reason: AttentionReason
    text: str
    actions: tuple[Action, ...]
    since: datetime


@dataclass(frozen=True)
class Process:
    """A market process on access point ``ean``, identified by the id of the message that started it."""

    id: str
    kind: ProcessKind
    ean: str
    state: ProcessState
    sender: str
    effective_date: date
    created_at: datetime
    updated_at: datetime
    steps: int = 0
    data: Mapping[str, Any] = field(default_factory=dict)
    attention: Attention | None = None


@dataclass(frozen=True)
class Reservation:
    """Process ``process_id`` reserves ``ean``: ``owner`` must act by ``deadline``, else ``escalation``."""

    process_id: str
    ean: str
    owner: str
    reserved_at: datetime
    deadline: datetime
    escalation: str
    level: int = 0
    released_at: datetime | None = None
    release_reason: str | None = None


@dataclass(frozen=True)
class Event:
    """Process ``process_id`` moved from ``from_state`` to ``to_state`` at ``at`` (append-only history)."""

    process_id: str
    step: int
    at: datetime
    from_state: ProcessState | None
    to_state: ProcessState
    note: str
    message_id: str | None


@dataclass(frozen=True)
class Snapshot:
    """What the register knows of one access point: ``known`` is False for an EAN it does not hold."""

    ean: str
    known: bool
    facts: tuple[Fact, ...] = ()
    processes: tuple[Process, ...] = ()
    reservations: tuple[Reservation, ...] = ()


@dataclass
class Outcome:
    """What processing a message (or advancing the clock) changed; ``answer`` is for the sender."""

    facts: list[Fact] = field(default_factory=list)
    processes: dict[str, Process] = field(default_factory=dict)
    reservations: dict[str, Reservation] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    outbox: list[m.OutboundBase] = field(default_factory=list)
    answer: dict[str, Any] = field(default_factory=dict)


def apply_outcome(snapshot: Snapshot, outcome: Outcome) -> Snapshot:
    """``snapshot`` after ``outcome``: what the registry holds once the outcome is written."""
    processes = {p.id: p for p in snapshot.processes} | outcome.processes
    reservations = {r.process_id: r for r in snapshot.reservations} | outcome.reservations
    return _changed(
        snapshot,
        facts=snapshot.facts + tuple(outcome.facts),
        processes=tuple(processes.values()),
        reservations=tuple(r for r in reservations.values() if r.released_at is None),
    )


@dataclass(frozen=True)
class Refusal:
    """A rejection decided by a rule: its code and a text saying what exactly did not match."""

    code: RejectionCode
    detail: str = ""

    @property
    def text(self) -> str:
        base = REJECTION_TEXT[self.code]
        return f"{base}: {self.detail}" if self.detail else base


class _Work:
    """A working copy of a snapshot that records every change it makes into an :class:`Outcome`."""

    def __init__(self, snapshot: Snapshot, now: datetime, readings: Readings, message_id: str | None) -> None:
        self.ean = snapshot.ean
        self.known = snapshot.known
        self.now = now
        self.today = market_day(now)
        self.readings = readings
        self.message_id = message_id
        self.facts = list(snapshot.facts)
        self.processes = {p.id: p for p in snapshot.processes}
        self.reservations = {r.process_id: r for r in snapshot.reservations if r.released_at is None}
        self.outcome = Outcome()
        # outbox ids: the inbound message id, or the EAN and instant of a clock tick, and a counter
        self.trigger = message_id or f"tick/{snapshot.ean}/{now.astimezone(UTC):%Y%m%dT%H%M%S.%fZ}"
        self._sent = 0

    # -- the register ----------------------------------------------------------------------------------
    def value(self, attribute: str, day: date) -> Any:
        return value_at(self.facts, attribute, day)

    def record(self, attribute: str, value: Any, valid_from: date, process: Process) -> None:
        fact = Fact(self.ean, attribute, value, valid_from, self.now, process.id, process.kind.value)
        self.facts.append(fact)
        self.outcome.facts.append(fact)

    # -- processes -------------------------------------------------------------------------------------
    def _store(self, process: Process) -> Process:
        self.processes[process.id] = process
        self.outcome.processes[process.id] = process
        return process

    def create(self, process: Process, note: str) -> Process:
        if process.state not in TRANSITIONS[process.kind][None]:
            raise TransitionError(f"a {process.kind} process cannot start in {process.state}")
        self._event(process, None, note)
        return self._store(_changed(process, steps=1))

    def move(
        self, process: Process, to: ProcessState, note: str, attention: Attention | None = None
    ) -> Process:
        allowed = TRANSITIONS[process.kind].get(process.state, frozenset())
        if to not in allowed:
            raise TransitionError(f"{process.kind} {process.id}: {process.state} → {to} is not allowed")
        moved = _changed(process, state=to, updated_at=self.now, attention=attention, steps=process.steps + 1)
        self._event(moved, process.state, note)
        if to not in OPEN_STATES:
            self.release(moved, to.value)
        return self._store(moved)

    def _event(self, process: Process, from_state: ProcessState | None, note: str) -> None:
        self.outcome.events.append(
            Event(process.id, process.steps + 1, self.now, from_state, process.state, note, self.message_id)
        )

    def open(self) -> list[Process]:
        return [p for p in self.processes.values() if p.state in OPEN_STATES]

    # -- reservations ----------------------------------------------------------------------------------
    def reserve(self, process: Process, owner: str, deadline: datetime, escalation: str) -> None:
        current = self.reservations.get(process.id)
        reservation = Reservation(
            process.id,
            self.ean,
            owner,
            current.reserved_at if current else self.now,
            deadline,
            escalation,
            current.level if current else 0,
        )
        self.reservations[process.id] = reservation
        self.outcome.reservations[process.id] = reservation

    def release(self, process: Process, reason: str) -> None:
        current = self.reservations.pop(process.id, None)
        if current is not None:
            self.outcome.reservations[process.id] = _changed(
                current, released_at=self.now, release_reason=reason
            )

    def escalate(self, reservation: Reservation) -> Reservation:
        escalated = _changed(
            reservation,
            owner=DSO_QUEUE,
            deadline=max(reservation.deadline, self.now) + ESCALATION_PERIOD,
            level=reservation.level + 1,
        )
        self.reservations[reservation.process_id] = escalated
        self.outcome.reservations[reservation.process_id] = escalated
        return escalated

    # -- the outbox ------------------------------------------------------------------------------------
    def send(
        self, model: type[m.OutboundBase], recipient: str | None, process: Process | None, **fields: Any
    ) -> None:
        if recipient is None:
            return
        self._sent += 1
        message_id = f"{self.trigger}/{self._sent}"
        self.outcome.outbox.append(
            model(
                version=m.VERSION,
                message_id=message_id,
                recipient=recipient,
                created_at=self.now,
                ean=self.ean if self.known else None,
                process_id=process.id if process else None,
                **fields,
            )
        )


@lru_cache(maxsize=4096)  # a pure function of the day; a batch names few days, each many times
def _deadline(day: date) -> datetime:
    """00:00 Europe/Brussels of ``day`` + the reading grace, in UTC."""
    return local_midnight_utc(day) + READING_GRACE


# -- the clock -----------------------------------------------------------------------------------------
def advance(snapshot: Snapshot, now: datetime, readings: Readings) -> Outcome:
    """Bring the processes of ``snapshot`` to instant ``now``: take due changes into effect, fetch due
    indexes, and move every process whose reservation passed its deadline to ``needs_attention`` (or
    escalate it one level up when it already is)."""
    work = _Work(snapshot, now, readings, None)
    _advance(work)
    return work.outcome


def _advance(work: _Work) -> None:
    due = sorted(work.open(), key=lambda p: (p.effective_date, _DUE_ORDER.get(p.kind, 9), p.created_at, p.id))
    for process in due:
        _progress(work, work.processes[process.id])
    for reservation in sorted(work.reservations.values(), key=lambda r: r.process_id):
        if reservation.deadline > work.now:
            continue
        process = work.processes[reservation.process_id]
        if process.state == S.NEEDS_ATTENTION:
            escalated = work.escalate(reservation)
            assert process.attention is not None
            moved = work.move(
                process, S.NEEDS_ATTENTION, f"escalated to level {escalated.level}", process.attention
            )
            _notify_attention(work, moved, escalated)
            continue
        reason = (
            AttentionReason.NO_REMOTE_READING
            if process.state == S.AWAITING_INDEX
            else AttentionReason.DEADLINE_PASSED
        )
        _attention(
            work, process, reason, f"deadline {reservation.deadline.isoformat()} passed", reservation.deadline
        )


def _progress(work: _Work, process: Process) -> None:
    """Do the next step of ``process`` if it is due at ``work.now``."""
    if process.state == S.PENDING and process.effective_date <= work.today:
        _take_effect(work, process)
    elif process.state == S.NOTICE and process.effective_date <= work.today:
        _deactivate(work, process)
    elif process.state in (S.AWAITING_INDEX, S.NEEDS_ATTENTION) and process.data.get("awaits_reading"):
        _fetch_index(work, process)


def _attention(work: _Work, process: Process, reason: AttentionReason, text: str, since: datetime) -> Process:
    attention = Attention(reason, text, ACTIONS[reason], since)
    moved = work.move(process, S.NEEDS_ATTENTION, f"{reason.value}: {text}", attention)
    current = work.reservations.get(process.id)
    reservation = work.escalate(current) if current else None
    if reservation is None:
        work.reserve(moved, DSO_QUEUE, work.now + ESCALATION_PERIOD, "escalate to the next level")
        reservation = work.reservations[moved.id]
    _notify_attention(work, moved, reservation)
    return moved


def _notify_attention(work: _Work, process: Process, reservation: Reservation) -> None:
    assert process.attention is not None
    for recipient in (DSO_QUEUE, process.sender):
        work.send(
            m.AttentionNeeded,
            recipient,
            process,
            reason=f"{process.attention.reason.value}: {process.attention.text}",
            actions=list(process.attention.actions),
            deadline=reservation.deadline,
        )


# -- taking effect -------------------------------------------------------------------------------------
def _take_effect(work: _Work, process: Process) -> None:
    day = process.effective_date
    data = dict(process.data)
    if process.kind in (ProcessKind.SWITCH, ProcessKind.MOVE_IN):
        _supersede(work, process)
    if process.kind == ProcessKind.SWITCH:
        old = work.value(Attribute.SUPPLIER, day)
        work.record(Attribute.SUPPLIER, process.sender, day, process)
        work.record(Attribute.BRP, data["brp"], day, process)
        work.send(m.SupplyEnded, old, process, reason=process.kind, end_date=day)
        work.send(
            m.SupplyStarted,
            process.sender,
            process,
            reason=process.kind,
            start_date=day,
            customer=data["customer"],
            brp=data["brp"],
        )
        data["index_to"] = [p for p in (old, process.sender) if p]
    elif process.kind == ProcessKind.MOVE_IN:
        old = work.value(Attribute.SUPPLIER, day)
        work.record(Attribute.GRID_USER, data["customer"], day, process)
        work.record(Attribute.SUPPLIER, process.sender, day, process)
        work.record(Attribute.BRP, data["brp"], day, process)
        if work.value(Attribute.STATUS, day) != Status.CONNECTED:
            work.record(Attribute.STATUS, Status.CONNECTED.value, day, process)
        if old != process.sender:
            work.send(m.SupplyEnded, old, process, reason=process.kind, end_date=day)
        work.send(
            m.SupplyStarted,
            process.sender,
            process,
            reason=process.kind,
            start_date=day,
            customer=data["customer"],
            brp=data["brp"],
        )
        data["index_to"] = (
            [p for p in (old, process.sender) if p] if old != process.sender else [process.sender]
        )
    elif process.kind == ProcessKind.MOVE_OUT:
        data["index_to"] = [process.sender]
        if work.value(Attribute.GRID_USER, day) == data["customer"]:
            work.record(Attribute.GRID_USER, None, day, process)
            _start_end_of_supply(work, process, max(day, work.today) + timedelta(days=NOTICE_DAYS))
        else:  # the next occupant's move-in already took over on that day, with its index
            data["taken_over"] = True
    elif process.kind == ProcessKind.REGIME_CHANGE:
        value = {"regime": data["regime"], "requested_by": data["requested_by"]}
        work.record(Attribute.REGIME, value, day, process)
        work.send(
            m.RegisterChanged,
            work.value(Attribute.SUPPLIER, day),
            process,
            attribute=Attribute.REGIME.value,
            value=value,
            valid_from=day,
        )
        data["index_to"] = [p for p in (work.value(Attribute.SUPPLIER, day),) if p]
    data["awaits_reading"] = True
    moved = work.move(_changed(process, data=data), S.AWAITING_INDEX, "took effect")
    work.reserve(moved, process.sender, _deadline(day), "needs attention: no index by the deadline")
    _fetch_index(work, moved)


def _start_end_of_supply(work: _Work, cause: Process, end_date: date) -> None:
    process = Process(
        id=f"{cause.id}/end",
        kind=ProcessKind.END_OF_SUPPLY,
        ean=work.ean,
        state=S.NOTICE,
        sender=cause.sender,
        effective_date=end_date,
        created_at=work.now,
        updated_at=work.now,
        data={"cause": cause.id},
    )
    created = work.create(process, f"no successor after {cause.kind.value} {cause.id}")
    work.reserve(
        created, cause.sender, _deadline(end_date), "needs attention: not deactivated by the deadline"
    )


def _deactivate(work: _Work, process: Process) -> None:
    day = process.effective_date
    meter = meter_at(work.facts, day)
    if meter is None or meter["kind"] not in _REMOTE:
        _attention(
            work,
            process,
            AttentionReason.FIELD_DEACTIVATION,
            "the meter cannot be deactivated remotely",
            work.now,
        )
        return
    _deactivated(work, process, day)
    work.send(
        m.DeactivationOrder,
        HEAD_END,
        work.processes[process.id],
        deactivation_date=day,
        meter_serial=meter["serial"],
    )
    current = work.processes[process.id]
    moved = work.move(
        _changed(current, data=dict(current.data, awaits_reading=True)),
        S.AWAITING_INDEX,
        "deactivated remotely",
    )
    work.reserve(moved, DSO_QUEUE, _deadline(day), "needs attention: no index by the deadline")
    _fetch_index(work, moved)


def _deactivated(work: _Work, process: Process, day: date) -> None:
    supplier = work.value(Attribute.SUPPLIER, day)
    work.record(Attribute.STATUS, Status.DEACTIVATED.value, day, process)
    work.record(Attribute.SUPPLIER, None, day, process)
    work.record(Attribute.BRP, None, day, process)
    work.send(m.SupplyEnded, supplier, process, reason=process.kind, end_date=day)
    work.processes[process.id] = _changed(
        process, data=dict(process.data, index_to=[supplier] if supplier else [])
    )


def _fetch_index(work: _Work, process: Process) -> None:
    day = process.effective_date
    meter = meter_at(work.facts, day)
    if process.data.get("taken_over"):
        work.move(process, S.COMPLETED, "the next occupant's move-in handed the index over")
        return
    if meter is not None and meter["kind"] in _REMOTE:
        reading = work.readings(work.ean, day)
        if reading is not None:
            _hand_over(work, process, day, meter["serial"], reading, "remote_reading")
        return  # the reservation's deadline escalates it when no reading comes
    given = process.data.get("index")
    if given is not None and meter is not None:
        _hand_over(work, process, day, meter["serial"], given, "message")
    elif process.state != S.NEEDS_ATTENTION:
        _attention(work, process, AttentionReason.INDEX_NEEDED, "the meter is not read remotely", work.now)


def _hand_over(work: _Work, process: Process, day: date, serial: str, index: Index, source: str) -> None:
    current = work.processes[process.id]
    work.record(
        f"{INDEX_PREFIX}{day.isoformat()}:{serial}", {"index": dict(index), "source": source}, day, current
    )
    for recipient in dict.fromkeys(current.data.get("index_to", [])):
        work.send(
            m.HandoverIndex,
            recipient,
            current,
            index_date=day,
            meter_serial=serial,
            index=dict(index),
            source=source,
        )
    work.move(current, S.COMPLETED, f"index handed over ({source})")


# -- inbound messages ----------------------------------------------------------------------------------
def handle(
    snapshot: Snapshot, message: m.Inbound, roles: Mapping[str, frozenset[PartyRole]], readings: Readings
) -> Outcome:
    """Process inbound ``message`` on the access point of ``snapshot``; ``roles`` gives the roles of the
    sender and of a named balance responsible party on the day of receipt."""
    work = _Work(snapshot, message.received_at, readings, message.message_id)
    if snapshot.known:
        _advance(work)
    refusal = _check(work, message, roles)
    if refusal is not None:
        work.send(
            m.Rejection,
            message.sender,
            None,
            ref_message_id=message.message_id,
            code=refusal.code,
            text=refusal.text,
        )
        work.outcome.answer = {
            "message_id": message.message_id,
            "accepted": False,
            "code": refusal.code.value,
            "text": refusal.text,
        }
        return work.outcome
    process_id = _accept(work, message)
    _advance(work)  # a change dated in the past may already be due, or its deadline passed
    work.outcome.answer = {"message_id": message.message_id, "accepted": True, "process_id": process_id}
    return work.outcome


def _check(work: _Work, message: m.Inbound, roles: Mapping[str, frozenset[PartyRole]]) -> Refusal | None:
    sender_roles = roles.get(message.sender)
    if sender_roles is None:
        return Refusal(RejectionCode.UNKNOWN_SENDER, message.sender)
    needed = (
        PartyRole.DSO
        if isinstance(message, (m.ProductionRegistration, m.MeterExchange, m.ResolveProcess))
        else None
    )
    if needed is None and not isinstance(message, m.CancelProcess):
        needed = PartyRole.SUPPLIER
    if needed is not None and needed not in sender_roles:
        return Refusal(RejectionCode.NOT_AUTHORISED, f"{message.type} needs the role {needed.value}")
    if not work.known:
        return Refusal(RejectionCode.UNKNOWN_EAN, message.ean)
    brp = getattr(message, "brp", None)
    if brp is not None and PartyRole.BRP not in roles.get(brp, frozenset()):
        return Refusal(RejectionCode.UNKNOWN_BRP, brp)
    check = _CHECKS[type(message)]
    return check(work, message)


def _dated(work: _Work, day: date, back_days: int) -> Refusal | None:
    if day < work.today - timedelta(days=back_days):
        return Refusal(
            RejectionCode.EFFECTIVE_DATE_IN_PAST, f"{day} is before {work.today - timedelta(days=back_days)}"
        )
    if day > work.today + timedelta(days=MAX_SWITCH_AHEAD_DAYS):
        return Refusal(
            RejectionCode.EFFECTIVE_DATE_TOO_FAR, f"{day} is more than {MAX_SWITCH_AHEAD_DAYS} days ahead"
        )
    return None


def _overlap(work: _Work, kind: ProcessKind, day: date, slot: frozenset[ProcessKind]) -> Refusal | None:
    """A pending process of the same slot, or an open one dated after ``day`` (a change cannot slip in
    before an unfinished one), unless a process of ``kind`` on ``day`` supersedes it."""
    for process in sorted(work.open(), key=lambda p: p.id):
        if process.kind == ProcessKind.END_OF_SUPPLY or _supersedes(kind, day, process):
            continue
        same_slot = process.state == S.PENDING and process.kind in slot
        if same_slot or process.effective_date > day:
            reservation = work.reservations.get(process.id)
            holder = (
                f", owner {reservation.owner} until {reservation.deadline.isoformat()}" if reservation else ""
            )
            return Refusal(
                RejectionCode.OVERLAPPING_PROCESS,
                f"{process.kind.value} {process.id} ({process.state.value}, "
                f"effective {process.effective_date}{holder})",
            )
    return None


def _check_switch(work: _Work, message: m.Inbound) -> Refusal | None:
    assert isinstance(message, m.SwitchRequest)
    day = message.effective_date
    if day < work.today:
        return Refusal(RejectionCode.EFFECTIVE_DATE_IN_PAST, f"{day} is before {work.today}")
    if message.consent_date > work.today:
        return Refusal(
            RejectionCode.CONSENT_AFTER_REQUEST, f"consent {message.consent_date}, received {work.today}"
        )
    if day < message.consent_date:
        return Refusal(RejectionCode.EFFECTIVE_BEFORE_CONSENT, f"{day} < {message.consent_date}")
    return (
        _dated(work, day, 0)
        or _active(work, day)
        or _customer(work, message.customer, day)
        or _not_already(work, message.sender, day)
        or _overlap(work, ProcessKind.SWITCH, day, _SUPPLY_SLOT)
    )


def _active(work: _Work, day: date) -> Refusal | None:
    if work.value(Attribute.STATUS, day) == Status.DEACTIVATED:
        return Refusal(RejectionCode.DEACTIVATED, str(day))
    return None


def _customer(work: _Work, customer: str, day: date) -> Refusal | None:
    grid_user = work.value(Attribute.GRID_USER, day)
    if grid_user is None:
        return Refusal(RejectionCode.NO_GRID_USER, str(day))
    if grid_user != customer:
        return Refusal(RejectionCode.CUSTOMER_MISMATCH, f"{customer} is not the grid user on {day}")
    return None


def _not_already(work: _Work, sender: str, day: date) -> Refusal | None:
    if work.value(Attribute.SUPPLIER, day) == sender:
        return Refusal(RejectionCode.ALREADY_SUPPLIER, str(day))
    return None


def _supplier(work: _Work, sender: str, day: date) -> Refusal | None:
    if work.value(Attribute.SUPPLIER, day) != sender:
        return Refusal(RejectionCode.NOT_SUPPLIER, f"{sender} on {day}")
    return None


def _after_last_index(work: _Work, day: date) -> Refusal | None:
    last = last_index_date(work.facts)
    if last is not None and day < last:
        return Refusal(RejectionCode.DATE_BEFORE_LAST_READING, f"{day} is before the index of {last}")
    return None


def _check_move_in(work: _Work, message: m.Inbound) -> Refusal | None:
    assert isinstance(message, m.MoveIn)
    day = message.move_date
    refusal = _dated(work, day, MAX_MOVE_BACK_DAYS) or _after_last_index(work, day)
    if refusal is not None:
        return refusal
    if (
        work.value(Attribute.GRID_USER, day) == message.customer
        and work.value(Attribute.SUPPLIER, day) == message.sender
    ):
        return Refusal(RejectionCode.ALREADY_SUPPLIER, f"{message.customer} on {day}")
    return _overlap(work, ProcessKind.MOVE_IN, day, frozenset({ProcessKind.MOVE_IN}))


def _check_move_out(work: _Work, message: m.Inbound) -> Refusal | None:
    assert isinstance(message, m.MoveOut)
    day = message.move_date
    before = day - timedelta(days=1)  # the leaving customer occupies the access point up to its move date
    grid_user = work.value(Attribute.GRID_USER, before)
    if grid_user != message.customer:
        return Refusal(
            RejectionCode.CUSTOMER_MISMATCH, f"{message.customer} is not the grid user on {before}"
        )
    if work.value(Attribute.GRID_USER, day) is None:
        return Refusal(RejectionCode.CUSTOMER_MISMATCH, f"{message.customer} already left on {day}")
    return (
        _supplier(work, message.sender, before)
        or _dated(work, day, MAX_MOVE_BACK_DAYS)
        or _after_last_index(work, day)
        or _overlap(work, ProcessKind.MOVE_OUT, day, frozenset({ProcessKind.MOVE_OUT}))
    )


def _check_end_of_supply(work: _Work, message: m.Inbound) -> Refusal | None:
    assert isinstance(message, m.EndOfSupply)
    day = message.end_date
    if day < work.today + timedelta(days=NOTICE_DAYS):
        return Refusal(
            RejectionCode.EFFECTIVE_DATE_IN_PAST, f"{day}: give at least {NOTICE_DAYS} days' notice"
        )
    if any(p.kind == ProcessKind.END_OF_SUPPLY for p in work.open()):
        return Refusal(RejectionCode.OVERLAPPING_PROCESS, "an end of supply is already open")
    return (
        _supplier(work, message.sender, work.today)
        or _dated(work, day, 0)
        or _active(work, day)
        or _overlap(work, ProcessKind.END_OF_SUPPLY, day, frozenset())
    )


def _check_regime(work: _Work, message: m.Inbound) -> Refusal | None:
    assert isinstance(message, m.RegimeChangeRequest)
    day = message.effective_date
    refusal = _dated(work, day, 0) or _supplier(work, message.sender, day)
    if refusal is not None:
        return refusal
    current = regime_at(work.facts, day)
    if current is not None and current["regime"] == message.regime.value:
        return Refusal(RejectionCode.REGIME_UNCHANGED, message.regime.value)
    meter = meter_at(work.facts, day)
    if message.regime == Regime.SMR3 and (meter is None or meter["kind"] not in _REMOTE):
        return Refusal(
            RejectionCode.REGIME_NEEDS_DIGITAL_METER, f"meter {meter['serial'] if meter else 'none'}"
        )
    if (
        message.requested_by == "supplier"
        and current is not None
        and current["regime"] == Regime.SMR3.value
        and current.get("requested_by") == "customer"
    ):
        return Refusal(RejectionCode.REGIME_CUSTOMER_CHOICE, "only the customer can ask to leave SMR3")
    return _overlap(work, ProcessKind.REGIME_CHANGE, day, frozenset({ProcessKind.REGIME_CHANGE}))


def _check_production(work: _Work, message: m.Inbound) -> Refusal | None:
    assert isinstance(message, m.ProductionRegistration)
    if max(message.commissioned_on, message.notified_on) > work.today:
        return Refusal(
            RejectionCode.DATE_IN_FUTURE,
            f"commissioned {message.commissioned_on}, notified {message.notified_on}",
        )
    name = f"{INSTALLATION_PREFIX}{message.kind.value}:{message.commissioned_on.isoformat()}"
    if work.value(name, work.today) is not None:
        return Refusal(RejectionCode.INSTALLATION_EXISTS, name)
    return None


def _check_exchange(work: _Work, message: m.Inbound) -> Refusal | None:
    assert isinstance(message, m.MeterExchange)
    day = message.exchange_date
    if day > work.today:
        return Refusal(RejectionCode.DATE_IN_FUTURE, str(day))
    refusal = _after_last_index(work, day) or _dated(work, day, MAX_MOVE_BACK_DAYS)
    if refusal is not None:
        return refusal
    meter = meter_at(work.facts, day)
    if meter is None or meter["serial"] != message.old_serial:
        return Refusal(RejectionCode.METER_MISMATCH, f"{message.old_serial} on {day}")
    return None


def _check_cancel(work: _Work, message: m.Inbound) -> Refusal | None:
    assert isinstance(message, m.CancelProcess)
    process = work.processes.get(message.process_id)
    if process is None:
        return Refusal(RejectionCode.UNKNOWN_PROCESS, message.process_id)
    if process.sender != message.sender or process.state not in (S.PENDING, S.NOTICE):
        return Refusal(RejectionCode.PROCESS_NOT_CANCELLABLE, f"{process.id} is {process.state.value}")
    return None


def _check_resolve(work: _Work, message: m.Inbound) -> Refusal | None:
    assert isinstance(message, m.ResolveProcess)
    process = work.processes.get(message.process_id)
    if process is None:
        return Refusal(RejectionCode.UNKNOWN_PROCESS, message.process_id)
    if (
        process.attention is None
        or process.state != S.NEEDS_ATTENTION
        or message.action not in process.attention.actions
    ):
        return Refusal(
            RejectionCode.ACTION_NOT_POSSIBLE,
            f"{message.action.value} on {process.id} ({process.state.value})",
        )
    if message.action in (Action.ENTER_INDEX, Action.DEACTIVATED_IN_FIELD) and message.index is None:
        return Refusal(RejectionCode.ACTION_NOT_POSSIBLE, f"{message.action.value} needs an index")
    if meter_at(work.facts, process.effective_date) is None:
        return Refusal(RejectionCode.ACTION_NOT_POSSIBLE, f"no meter on {process.effective_date}")
    return None


_CHECKS: Final[dict[type[BaseModel], Callable[[_Work, m.Inbound], Refusal | None]]] = {
    m.SwitchRequest: _check_switch,
    m.MoveIn: _check_move_in,
    m.MoveOut: _check_move_out,
    m.EndOfSupply: _check_end_of_supply,
    m.RegimeChangeRequest: _check_regime,
    m.ProductionRegistration: _check_production,
    m.MeterExchange: _check_exchange,
    m.CancelProcess: _check_cancel,
    m.ResolveProcess: _check_resolve,
}


def _accept(work: _Work, message: m.Inbound) -> str:
    """Start the process of an accepted ``message`` (or act on the process it names); return its id."""
    if isinstance(message, m.CancelProcess):
        process = work.processes[message.process_id]
        work.move(process, S.CANCELLED, f"cancelled by {message.sender}")
        return process.id
    if isinstance(message, m.ResolveProcess):
        return _resolve(work, message)
    if isinstance(message, m.ProductionRegistration):
        return _register_production(work, message)
    if isinstance(message, m.MeterExchange):
        return _exchange_meter(work, message)
    kind, day, data = _start(message)
    process = Process(
        message.message_id,
        kind,
        work.ean,
        S.NOTICE if kind == ProcessKind.END_OF_SUPPLY else S.PENDING,
        message.sender,
        day,
        work.now,
        work.now,
        data=data,
    )
    if kind in (ProcessKind.SWITCH, ProcessKind.MOVE_IN, ProcessKind.MOVE_OUT):
        _supersede(work, process)
    created = work.create(process, f"accepted {message.type}")
    work.reserve(created, message.sender, _deadline(day), "needs attention: not in effect by the deadline")
    work.send(
        m.Confirmation,
        message.sender,
        created,
        ref_message_id=message.message_id,
        kind=kind,
        state=created.state,
        effective_date=day,
    )
    _progress(work, created)
    return created.id


def _start(message: m.Inbound) -> tuple[ProcessKind, date, dict[str, Any]]:
    index = getattr(message, "index", None)
    if isinstance(message, m.SwitchRequest):
        return (
            ProcessKind.SWITCH,
            message.effective_date,
            {
                "customer": message.customer,
                "brp": message.brp,
                "consent_date": message.consent_date.isoformat(),
            },
        )
    if isinstance(message, m.MoveIn):
        return (
            ProcessKind.MOVE_IN,
            message.move_date,
            {"customer": message.customer, "brp": message.brp, "index": index},
        )
    if isinstance(message, m.MoveOut):
        return ProcessKind.MOVE_OUT, message.move_date, {"customer": message.customer, "index": index}
    if isinstance(message, m.EndOfSupply):
        return ProcessKind.END_OF_SUPPLY, message.end_date, {}
    assert isinstance(message, m.RegimeChangeRequest)
    return (
        ProcessKind.REGIME_CHANGE,
        message.effective_date,
        {"regime": message.regime.value, "requested_by": message.requested_by},
    )


def _supersedes(kind: ProcessKind, day: date, other: Process) -> bool:
    """A move supersedes a pending switch; a switch or move-in an end of supply still in its notice
    (when it takes effect by the end date)."""
    moves = kind in (ProcessKind.MOVE_IN, ProcessKind.MOVE_OUT)
    if other.kind == ProcessKind.SWITCH and other.state == S.PENDING:
        return moves
    return (
        other.kind == ProcessKind.END_OF_SUPPLY
        and other.state == S.NOTICE
        and kind in (ProcessKind.SWITCH, ProcessKind.MOVE_IN)
        and day <= other.effective_date
    )


def _supersede(work: _Work, process: Process) -> None:
    """Cancel the processes ``process`` supersedes (:func:`_supersedes`) and tell their senders."""
    for other in sorted(work.open(), key=lambda p: p.id):
        if other.id != process.id and _supersedes(process.kind, process.effective_date, other):
            cancelled = work.move(other, S.CANCELLED, f"superseded by {process.kind.value} {process.id}")
            work.send(
                m.Rejection,
                other.sender,
                cancelled,
                ref_message_id=other.id,
                code=RejectionCode.OVERLAPPING_PROCESS,
                text=f"superseded by {process.kind.value} {process.id} effective {process.effective_date}",
            )


def _register_production(work: _Work, message: m.ProductionRegistration) -> str:
    lead_time = (work.today - message.notified_on).days
    value = {
        "kind": message.kind.value,
        "kva": message.kva,
        "commissioned_on": message.commissioned_on.isoformat(),
    }
    process = work.create(
        Process(
            message.message_id,
            ProcessKind.PRODUCTION,
            work.ean,
            S.COMPLETED,
            message.sender,
            message.commissioned_on,
            work.now,
            work.now,
            data={"notified_on": message.notified_on.isoformat(), "lead_time_days": lead_time},
        ),
        "registered",
    )
    name = f"{INSTALLATION_PREFIX}{message.kind.value}:{message.commissioned_on.isoformat()}"
    work.record(name, value, message.commissioned_on, process)
    work.send(
        m.RegisterChanged,
        work.value(Attribute.SUPPLIER, work.today),
        process,
        attribute=name,
        value=value,
        valid_from=message.commissioned_on,
        lead_time_days=lead_time,
    )
    return process.id


def _exchange_meter(work: _Work, message: m.MeterExchange) -> str:
    day = message.exchange_date
    process = work.create(
        Process(
            message.message_id,
            ProcessKind.METER_EXCHANGE,
            work.ean,
            S.COMPLETED,
            message.sender,
            day,
            work.now,
            work.now,
            data={"old_serial": message.old_serial, "new_serial": message.new_serial},
        ),
        "meter exchanged",
    )
    value = {"serial": message.new_serial, "kind": message.new_kind.value}
    work.record(Attribute.METER, value, day, process)
    supplier = work.value(Attribute.SUPPLIER, day)
    work.send(
        m.RegisterChanged, supplier, process, attribute=Attribute.METER.value, value=value, valid_from=day
    )
    for serial, index in (
        (message.old_serial, message.closing_index),
        (message.new_serial, message.opening_index),
    ):
        work.record(
            f"{INDEX_PREFIX}{day.isoformat()}:{serial}",
            {"index": dict(index), "source": "message"},
            day,
            process,
        )
        work.send(
            m.HandoverIndex,
            supplier,
            process,
            index_date=day,
            meter_serial=serial,
            index=dict(index),
            source="message",
        )
    return process.id


def _resolve(work: _Work, message: m.ResolveProcess) -> str:
    process = work.processes[message.process_id]
    day = process.effective_date
    if message.action == Action.CANCEL:
        work.move(process, S.CANCELLED, f"cancelled by {message.sender}")
    elif message.action == Action.RETRY_READING:
        moved = work.move(process, S.AWAITING_INDEX, f"retry asked by {message.sender}")
        work.reserve(moved, DSO_QUEUE, work.now + READING_GRACE, "needs attention: no index by the deadline")
        _fetch_index(work, moved)
    else:
        assert message.index is not None
        if message.action == Action.DEACTIVATED_IN_FIELD:
            day = work.today
            _deactivated(work, _changed(process, effective_date=day), day)
            process = _changed(work.processes[process.id], effective_date=day)
        meter = meter_at(work.facts, day)
        assert meter is not None
        _hand_over(work, process, day, meter["serial"], message.index, "entered")
    return process.id
