"""The registry I/O around the market state machines: load snapshots, apply messages, write outcomes.

Rules:
- messages are applied in chunks, one transaction each (one message: one transaction): the facts,
  process changes, events, reservations, outbox messages and inbox rows of a chunk are written together
  or not at all. Messages on different access points never touch each other's state, so a chunk gives
  the same register as one message per transaction;
- the access points of a chunk are locked for its transaction, in EAN order (``SELECT … FOR UPDATE`` on
  PostgreSQL; SQLite serialises writers), so two suppliers asking the same access point at the same
  moment are handled one after the other: the second sees the first's reservation and gets a clear
  rejection;
- idempotency: a message id already in the inbox with the same payload gets the stored answer and
  changes nothing; with another payload it is rejected (``duplicate_message_id``) and changes nothing;
- a malformed message changes nothing and is answered with ``malformed`` and the reasons; it reaches no
  outbox (its sender cannot be trusted);
- the first time a market process touches an access point its master data (status, meter, regime,
  capacity, production installations of the registry tables) become register facts recorded at the
  moment the registry learnt of the access point.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kwartier.market import messages as m
from kwartier.market.codes import (
    OPEN_STATES,
    REJECTION_TEXT,
    Action,
    AttentionReason,
    Attribute,
    ProcessKind,
    ProcessState,
    RejectionCode,
    Status,
)
from kwartier.market.processes import (
    Attention,
    Outcome,
    Process,
    Readings,
    Reservation,
    Snapshot,
    advance,
    apply_outcome,
    handle,
)
from kwartier.market.register import Fact, history, market_day, state_at
from kwartier.registry.access_points import AccessPoint, ConnectionCapacity, MeasurementRegime
from kwartier.registry.access_register import RegisterFact
from kwartier.registry.base import Base
from kwartier.registry.codes import PartyRole
from kwartier.registry.installations import ProductionInstallation
from kwartier.registry.market_processes import InboxMessage, MarketProcess, ProcessEvent
from kwartier.registry.market_processes import Reservation as ReservationRow
from kwartier.registry.meters import Meter, MeterInstallation
from kwartier.registry.outbox import OutboxMessage
from kwartier.registry.parties import Party, PartyRoleAssignment

MASTER_DATA = "master_data"


# -- loading -------------------------------------------------------------------------------------------
_SLICE = 2000  # EANs or message ids per IN (...) list


def _slices(items: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _SLICE):
        yield list(items[start : start + _SLICE])


def master_facts(session: Session, eans: Sequence[str]) -> dict[str, list[Fact]]:
    """The register facts the master-data tables give for ``eans`` (an unknown EAN has none), recorded
    at the moment the registry learnt of each access point."""
    facts: dict[str, list[Fact]] = {}
    created: dict[str, datetime] = {}

    def add(attribute: str, ean: str, value: Any, valid_from: date, valid_to: date | None) -> None:
        at = created[ean]
        facts[ean].append(Fact(ean, attribute, value, valid_from, at, None, MASTER_DATA))
        if valid_to is not None:
            facts[ean].append(Fact(ean, attribute, None, valid_to, at, None, MASTER_DATA))

    for part in _slices(eans):
        points = session.execute(
            sa.select(AccessPoint.ean, AccessPoint.connected_from, AccessPoint.created_at).where(
                AccessPoint.ean.in_(part)
            )
        )
        for ean, connected_from, created_at in points:
            created[ean] = created_at
            facts[ean] = [
                Fact(
                    ean,
                    Attribute.STATUS,
                    Status.CONNECTED.value,
                    connected_from,
                    created_at,
                    None,
                    MASTER_DATA,
                )
            ]

        regimes = sa.select(MeasurementRegime).where(MeasurementRegime.ean.in_(part))
        for r in session.scalars(regimes.order_by(MeasurementRegime.ean, MeasurementRegime.valid_from)):
            add(
                Attribute.REGIME,
                r.ean,
                {"regime": r.regime.value, "requested_by": None},
                r.valid_from,
                r.valid_to,
            )
        capacities = sa.select(ConnectionCapacity).where(ConnectionCapacity.ean.in_(part))
        for c in session.scalars(capacities.order_by(ConnectionCapacity.ean, ConnectionCapacity.valid_from)):
            add(
                Attribute.CAPACITY,
                c.ean,
                {"value": c.capacity, "unit": c.unit.value},
                c.valid_from,
                c.valid_to,
            )
        meters = session.execute(
            sa.select(
                MeterInstallation.ean,
                Meter.serial,
                Meter.kind,
                MeterInstallation.valid_from,
                MeterInstallation.valid_to,
            )
            .join(Meter, Meter.id == MeterInstallation.meter_id)
            .where(MeterInstallation.ean.in_(part))
            .order_by(MeterInstallation.ean, MeterInstallation.valid_from)
        )
        for ean, serial, kind, valid_from, valid_to in meters:
            add(Attribute.METER, ean, {"serial": serial, "kind": kind.value}, valid_from, valid_to)
        plants = sa.select(ProductionInstallation).where(ProductionInstallation.ean.in_(part))
        for plant in session.scalars(plants.order_by(ProductionInstallation.ean, ProductionInstallation.id)):
            value = {
                "kind": plant.kind.value,
                "kva": plant.kva,
                "commissioned_on": plant.commissioned_on.isoformat(),
            }
            name = f"installation:{plant.kind.value}:{plant.commissioned_on.isoformat()}"
            add(name, plant.ean, value, plant.commissioned_on, plant.decommissioned_on)
    return facts


_FACT_COLUMNS = (
    RegisterFact.ean,
    RegisterFact.attribute,
    RegisterFact.value,
    RegisterFact.valid_from,
    RegisterFact.recorded_at,
    RegisterFact.process_id,
    RegisterFact.source,
)


def _process(row: MarketProcess) -> Process:
    attention = None
    if row.attention_reason is not None and row.attention_since is not None:
        actions = tuple(Action(a) for a in json.loads(row.attention_actions or "[]"))
        attention = Attention(
            AttentionReason(row.attention_reason), row.attention_text or "", actions, row.attention_since
        )
    return Process(
        row.id,
        row.kind,
        row.ean,
        row.state,
        row.sender,
        row.effective_date,
        row.created_at,
        row.updated_at,
        row.steps,
        json.loads(row.data),
        attention,
    )


def _reservation(row: ReservationRow) -> Reservation:
    return Reservation(
        row.process_id,
        row.ean,
        row.owner,
        row.reserved_at,
        row.deadline,
        row.escalation,
        row.level,
        row.released_at,
        row.release_reason,
    )


@dataclass
class _Loaded:
    """A snapshot as loaded, whether its facts are still the master data only (not stored yet), and the
    changes made to it since it was loaded."""

    snapshot: Snapshot
    seeded: bool
    loaded: Snapshot
    outcome: Outcome = field(default_factory=Outcome)


def load_snapshots(session: Session, eans: Sequence[str], *, lock: bool = False) -> dict[str, _Loaded]:
    """The snapshots of ``eans`` (locked for the transaction on PostgreSQL when ``lock``, in EAN order)."""
    ordered = sorted(set(eans))
    known: set[str] = set()
    facts: dict[str, list[Fact]] = {}
    processes: dict[str, list[Process]] = {}
    reservations: dict[str, list[Reservation]] = {}
    for part in _slices(ordered):
        query = sa.select(AccessPoint.ean).where(AccessPoint.ean.in_(part)).order_by(AccessPoint.ean)
        if lock and session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        known.update(session.scalars(query))
        stored = sa.select(*_FACT_COLUMNS).where(RegisterFact.ean.in_(part)).order_by(RegisterFact.id)
        for ean, attribute, value, valid_from, recorded_at, process_id, source in session.execute(stored):
            fact_value = None if value is None else json.loads(value)
            facts.setdefault(ean, []).append(
                Fact(ean, attribute, fact_value, valid_from, recorded_at, process_id, source)
            )
        for process_row in session.scalars(sa.select(MarketProcess).where(MarketProcess.ean.in_(part))):
            processes.setdefault(process_row.ean, []).append(_process(process_row))
        active = sa.select(ReservationRow).where(
            ReservationRow.ean.in_(part), ReservationRow.released_at.is_(None)
        )
        for reservation_row in session.scalars(active):
            reservations.setdefault(reservation_row.ean, []).append(_reservation(reservation_row))
    unseeded = [ean for ean in ordered if ean in known and ean not in facts]
    masters = master_facts(session, unseeded)
    loaded: dict[str, _Loaded] = {}
    for ean in ordered:
        if ean not in known:
            snapshot = Snapshot(ean, known=False)
            loaded[ean] = _Loaded(snapshot, False, snapshot)
            continue
        seeded = ean not in facts
        snapshot = Snapshot(
            ean,
            True,
            tuple(masters.get(ean, []) if seeded else facts[ean]),
            tuple(processes.get(ean, [])),
            tuple(reservations.get(ean, [])),
        )
        loaded[ean] = _Loaded(snapshot, seeded, snapshot)
    return loaded


# -- writing -------------------------------------------------------------------------------------------
def _fact_row(fact: Fact) -> dict[str, Any]:
    return {
        "ean": fact.ean,
        "attribute": fact.attribute,
        "value": None if fact.value is None else json.dumps(fact.value, sort_keys=True),
        "valid_from": fact.valid_from,
        "recorded_at": fact.recorded_at,
        "process_id": fact.process_id,
        "source": fact.source,
    }


def _process_row(process: Process) -> dict[str, Any]:
    attention = process.attention
    return {
        "id": process.id,
        "kind": process.kind,
        "ean": process.ean,
        "state": process.state,
        "sender": process.sender,
        "effective_date": process.effective_date,
        "created_at": process.created_at,
        "updated_at": process.updated_at,
        "steps": process.steps,
        "data": json.dumps(process.data, sort_keys=True),
        "attention_reason": attention.reason.value if attention else None,
        "attention_text": attention.text if attention else None,
        "attention_actions": json.dumps([a.value for a in attention.actions]) if attention else None,
        "attention_since": attention.since if attention else None,
    }


def _reservation_row(r: Reservation) -> dict[str, Any]:
    return {
        "process_id": r.process_id,
        "ean": r.ean,
        "owner": r.owner,
        "reserved_at": r.reserved_at,
        "deadline": r.deadline,
        "escalation": r.escalation,
        "level": r.level,
        "released_at": r.released_at,
        "release_reason": r.release_reason,
    }


def _insert(session: Session, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` with one Core executemany (no ORM bookkeeping, no RETURNING)."""
    session.connection().execute(Base.metadata.tables[table].insert(), rows)


def _write(session: Session, loaded: Iterable[_Loaded]) -> None:
    """Write the changes of every loaded snapshot, in bulk (plus the master-data facts a snapshot was
    computed on, the first time a process changes it)."""
    facts: list[dict[str, Any]] = []
    new_processes: list[dict[str, Any]] = []
    changed_processes: list[dict[str, Any]] = []
    new_reservations: list[dict[str, Any]] = []
    changed_reservations: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for item in loaded:
        outcome = item.outcome
        if item.seeded and (outcome.facts or outcome.processes):
            facts.extend(_fact_row(fact) for fact in item.loaded.facts)
        facts.extend(_fact_row(fact) for fact in outcome.facts)
        existing = {p.id for p in item.loaded.processes}
        for process in outcome.processes.values():
            (changed_processes if process.id in existing else new_processes).append(_process_row(process))
        active = {r.process_id for r in item.loaded.reservations}
        for reservation in outcome.reservations.values():
            target = changed_reservations if reservation.process_id in active else new_reservations
            target.append(_reservation_row(reservation))
        events.extend(
            {
                "process_id": e.process_id,
                "step": e.step,
                "at": e.at,
                "from_state": e.from_state.value if e.from_state else None,
                "to_state": e.to_state.value,
                "note": e.note,
                "message_id": e.message_id,
            }
            for e in outcome.events
        )
        messages.extend(
            {
                "message_id": message.message_id,
                "type": m.message_type(type(message)),
                "version": message.version,
                "recipient": message.recipient,
                "ean": message.ean,
                "process_id": message.process_id,
                "created_at": message.created_at,
                "payload": message.model_dump_json(),
            }
            for message in outcome.outbox
        )
    for model, rows in (
        (RegisterFact, facts),
        (MarketProcess, new_processes),
        (ReservationRow, new_reservations),
        (ProcessEvent, events),
        (OutboxMessage, messages),
    ):
        if rows:
            _insert(session, model.__tablename__, rows)
    for model, rows in ((MarketProcess, changed_processes), (ReservationRow, changed_reservations)):
        if rows:
            session.execute(sa.update(model), rows)


# -- applying messages ---------------------------------------------------------------------------------
class _Roles:
    """The roles every party holds, by validity period (the parties table is small)."""

    def __init__(self, session: Session) -> None:
        rows = session.execute(
            sa.select(
                Party.code,
                PartyRoleAssignment.role,
                PartyRoleAssignment.valid_from,
                PartyRoleAssignment.valid_to,
            ).join(PartyRoleAssignment, PartyRoleAssignment.party_id == Party.id, isouter=True)
        ).all()
        self.periods: dict[str, list[tuple[PartyRole, date, date | None]]] = {}
        for code, role, valid_from, valid_to in rows:
            self.periods.setdefault(code, [])
            if role is not None:
                self.periods[code].append((role, valid_from, valid_to))

    def on(self, codes: Iterable[str], day: date) -> dict[str, frozenset[PartyRole]]:
        """The roles of the known parties among ``codes`` on ``day``."""
        return {
            code: frozenset(
                role for role, start, end in self.periods[code] if start <= day and (end is None or day < end)
            )
            for code in codes
            if code in self.periods
        }


def _malformed(text: str) -> dict[str, Any]:
    code = RejectionCode.MALFORMED
    return {"accepted": False, "code": code.value, "text": f"{REJECTION_TEXT[code]}: {text}"}


def _duplicate(message_id: str) -> dict[str, Any]:
    code = RejectionCode.DUPLICATE_MESSAGE_ID
    return {"message_id": message_id, "accepted": False, "code": code.value, "text": REJECTION_TEXT[code]}


def apply_message(session: Session, text: str, readings: Readings) -> dict[str, Any]:
    """Apply one inbound message (JSON ``text``) and commit; return the answer for its sender."""
    return apply_messages(session, [text], readings)[0]


def apply_messages(
    session: Session, texts: Sequence[str], readings: Readings, *, chunk: int = 20_000
) -> list[dict[str, Any]]:
    """Apply inbound messages in order, ``chunk`` per transaction; return the answer to each.

    Messages on different access points never touch each other's state, so each chunk loads the
    snapshots of its access points at once, runs the state machines in memory in message order, and
    writes everything in bulk: the same register as one message per transaction, much faster."""
    roles = _Roles(session)
    answers: list[dict[str, Any]] = []
    for start in range(0, len(texts), chunk):
        try:
            answers.extend(_apply_chunk(session, texts[start : start + chunk], readings, roles))
        except BaseException:
            session.rollback()
            raise
        session.commit()
    return answers


def _inbox(session: Session, message_ids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Payload digest and answer of each of ``message_ids`` already in the inbox."""
    seen: dict[str, tuple[str, dict[str, Any]]] = {}
    query = sa.select(InboxMessage.message_id, InboxMessage.payload_sha256, InboxMessage.answer)
    for part in _slices(message_ids):
        for message_id, digest, answer in session.execute(query.where(InboxMessage.message_id.in_(part))):
            seen[message_id] = (digest, json.loads(answer))
    return seen


def _apply_chunk(
    session: Session, texts: Sequence[str], readings: Readings, roles: _Roles
) -> list[dict[str, Any]]:
    parsed: list[tuple[m.Inbound, str] | dict[str, Any]] = []
    for text in texts:
        try:
            message = m.parse_inbound_json(text)
        except m.MalformedMessageError as error:
            parsed.append(_malformed(str(error)))
            continue
        parsed.append((message, hashlib.sha256(message.model_dump_json().encode()).hexdigest()))
    valid = [item for item in parsed if isinstance(item, tuple)]
    seen = _inbox(session, [message.message_id for message, _ in valid])
    new = [message for message, _ in valid if message.message_id not in seen]
    loaded = load_snapshots(session, [message.ean for message in new], lock=True)
    seen.update(_inbox(session, [message.message_id for message in new]))  # applied meanwhile, under the lock
    inbox: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    for item in parsed:
        if not isinstance(item, tuple):
            answers.append(item)
            continue
        message, digest = item
        if message.message_id in seen:
            stored_digest, stored = seen[message.message_id]
            answers.append(stored if stored_digest == digest else _duplicate(message.message_id))
            continue
        state = loaded[message.ean]
        codes = {message.sender, getattr(message, "brp", message.sender)}
        outcome = handle(state.snapshot, message, roles.on(codes, market_day(message.received_at)), readings)
        state.snapshot = apply_outcome(state.snapshot, outcome)
        state.outcome.merge(outcome)
        seen[message.message_id] = (digest, outcome.answer)
        answers.append(outcome.answer)
        inbox.append(
            {
                "message_id": message.message_id,
                "sender": message.sender,
                "type": message.type,
                "ean": message.ean,
                "received_at": message.received_at,
                "payload_sha256": digest,
                "answer": json.dumps(outcome.answer),
            }
        )
    _write(session, loaded.values())
    if inbox:
        _insert(session, InboxMessage.__tablename__, inbox)
    return answers


def tick(session: Session, now: datetime, readings: Readings, *, chunk: int = 20_000) -> int:
    """Advance every access point with an open process to ``now`` (``chunk`` access points per
    transaction); return how many changed."""
    eans = session.scalars(
        sa.select(MarketProcess.ean)
        .where(MarketProcess.state.in_(list(OPEN_STATES)))
        .distinct()
        .order_by(MarketProcess.ean)
    ).all()
    changed = 0
    for start in range(0, len(eans), chunk):
        loaded = load_snapshots(session, eans[start : start + chunk], lock=True)
        for state in loaded.values():
            state.outcome = advance(state.snapshot, now, readings)
            changed += bool(state.outcome.events or state.outcome.reservations)
        _write(session, loaded.values())
        session.commit()
    return changed


# -- queries -------------------------------------------------------------------------------------------
def register_state(
    session: Session, ean: str, day: date, known_at: datetime | None = None
) -> dict[str, Any] | None:
    """What the register says about ``ean`` on ``day`` as known at ``known_at``, with the history of each
    attribute and the processes open on that day; None for an unknown EAN."""
    snapshot = load_snapshots(session, [ean])[ean].snapshot
    if not snapshot.known:
        return None
    open_on_day = [
        p
        for p in snapshot.processes
        if p.state in OPEN_STATES
        and p.created_at <= (known_at or p.created_at)
        and market_day(p.created_at) <= day
    ]
    state = state_at(snapshot.facts, day, known_at, in_process=bool(open_on_day))
    names = sorted({f.attribute for f in snapshot.facts if not f.attribute.startswith("index:")})
    state["ean"] = ean
    state["history"] = {
        name: [
            {"valid_from": start.isoformat(), "valid_to": end.isoformat() if end else None, "value": value}
            for start, end, value in history(snapshot.facts, name, known_at)
        ]
        for name in names
    }
    state["open_processes"] = [
        {
            "id": p.id,
            "kind": p.kind.value,
            "state": p.state.value,
            "effective_date": p.effective_date.isoformat(),
        }
        for p in open_on_day
    ]
    return state


def work_queue(session: Session) -> list[dict[str, Any]]:
    """The processes that need attention: why, since when, the actions possible, owner and deadline."""
    rows = session.execute(
        sa.select(MarketProcess, ReservationRow)
        .join(ReservationRow, ReservationRow.process_id == MarketProcess.id, isouter=True)
        .where(MarketProcess.state == ProcessState.NEEDS_ATTENTION)
        .order_by(MarketProcess.attention_since, MarketProcess.id)
    ).all()
    return [
        {
            "process_id": p.id,
            "kind": p.kind.value,
            "ean": p.ean,
            "sender": p.sender,
            "effective_date": p.effective_date.isoformat(),
            "reason": p.attention_reason,
            "text": p.attention_text,
            "actions": json.loads(p.attention_actions or "[]"),
            "since": p.attention_since.isoformat() if p.attention_since else None,
            "owner": r.owner if r else None,
            "deadline": r.deadline.isoformat() if r else None,
            "level": r.level if r else None,
        }
        for p, r in rows
    ]


def overdue_reservations(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Reservations not released whose deadline is at or before ``now`` (none after :func:`tick`)."""
    rows = session.scalars(
        sa.select(ReservationRow).where(ReservationRow.released_at.is_(None), ReservationRow.deadline <= now)
    ).all()
    return [
        {"process_id": r.process_id, "ean": r.ean, "owner": r.owner, "deadline": r.deadline.isoformat()}
        for r in rows
    ]


def outbox(
    session: Session, recipient: str | None = None, after: int = 0, limit: int = 1000
) -> list[dict[str, Any]]:
    """Outbox messages after id ``after`` (of one recipient, or all), oldest first."""
    query = sa.select(OutboxMessage).where(OutboxMessage.id > after).order_by(OutboxMessage.id).limit(limit)
    if recipient is not None:
        query = query.where(OutboxMessage.recipient == recipient)
    return [{"id": row.id, **json.loads(row.payload)} for row in session.scalars(query)]


def attention_periods(session: Session) -> list[tuple[str, str, datetime, datetime | None]]:
    """Every period a process spent in ``needs_attention``: (process, ean, since, until or None), from
    the append-only process events."""
    rows = session.execute(
        sa.select(
            ProcessEvent.process_id,
            MarketProcess.ean,
            ProcessEvent.at,
            ProcessEvent.from_state,
            ProcessEvent.to_state,
        )
        .join(MarketProcess, MarketProcess.id == ProcessEvent.process_id)
        .order_by(ProcessEvent.process_id, ProcessEvent.step)
    ).all()
    periods: list[tuple[str, str, datetime, datetime | None]] = []
    open_since: dict[str, tuple[str, datetime]] = {}
    attention = ProcessState.NEEDS_ATTENTION.value
    for process_id, ean, at, from_state, to_state in rows:
        if to_state == attention and from_state != attention:
            open_since[process_id] = (ean, at)
        elif from_state == attention and to_state != attention and process_id in open_since:
            ean_of, start = open_since.pop(process_id)
            periods.append((process_id, ean_of, start, at))
    periods.extend((pid, ean, start, None) for pid, (ean, start) in open_since.items())
    return periods


def production_lead_times(session: Session) -> list[tuple[str, str, int]]:
    """(process, ean, lead time in days) of every registered production installation (seed 000 §4.3)."""
    rows = session.scalars(sa.select(MarketProcess).where(MarketProcess.kind == ProcessKind.PRODUCTION)).all()
    return [(row.id, row.ean, int(json.loads(row.data)["lead_time_days"])) for row in rows]
