"""The registry I/O around the market state machines: load a snapshot, apply a message, write the outcome.

Rules:
- one inbound message is one transaction: its facts, process changes, events, reservations, outbox
  messages and inbox row are written together or not at all;
- the access point is locked for the transaction (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite
  serialises writers), so two suppliers asking the same access point at the same moment are handled
  one after the other: the second sees the first's reservation and gets a clear rejection;
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
from collections.abc import Iterable
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
    handle,
)
from kwartier.market.register import Fact, history, market_day, state_at
from kwartier.registry.access_points import AccessPoint, ConnectionCapacity, MeasurementRegime
from kwartier.registry.access_register import RegisterFact
from kwartier.registry.codes import PartyRole
from kwartier.registry.installations import ProductionInstallation
from kwartier.registry.market_processes import InboxMessage, MarketProcess, ProcessEvent
from kwartier.registry.market_processes import Reservation as ReservationRow
from kwartier.registry.meters import Meter, MeterInstallation
from kwartier.registry.outbox import OutboxMessage
from kwartier.registry.parties import Party, PartyRoleAssignment

MASTER_DATA = "master_data"


# -- loading -------------------------------------------------------------------------------------------
def master_facts(session: Session, ean: str) -> list[Fact]:
    """The register facts the master-data tables give for ``ean`` (empty for an unknown EAN)."""
    point = session.get(AccessPoint, ean)
    if point is None:
        return []
    at = point.created_at
    facts = [Fact(ean, Attribute.STATUS, Status.CONNECTED.value, point.connected_from, at, None, MASTER_DATA)]

    def periods(attribute: str, rows: Iterable[tuple[Any, date, date | None]]) -> None:
        for value, valid_from, valid_to in sorted(rows, key=lambda row: row[1]):
            facts.append(Fact(ean, attribute, value, valid_from, at, None, MASTER_DATA))
            if valid_to is not None:
                facts.append(Fact(ean, attribute, None, valid_to, at, None, MASTER_DATA))

    regimes = session.scalars(sa.select(MeasurementRegime).where(MeasurementRegime.ean == ean))
    periods(
        Attribute.REGIME,
        (({"regime": r.regime.value, "requested_by": None}, r.valid_from, r.valid_to) for r in regimes),
    )
    capacities = session.scalars(sa.select(ConnectionCapacity).where(ConnectionCapacity.ean == ean))
    periods(
        Attribute.CAPACITY,
        (({"value": c.capacity, "unit": c.unit.value}, c.valid_from, c.valid_to) for c in capacities),
    )
    meters = session.execute(
        sa.select(Meter.serial, Meter.kind, MeterInstallation.valid_from, MeterInstallation.valid_to)
        .join(Meter, Meter.id == MeterInstallation.meter_id)
        .where(MeterInstallation.ean == ean)
    )
    periods(Attribute.METER, (({"serial": s, "kind": k.value}, f, t) for s, k, f, t in meters))
    for plant in session.scalars(sa.select(ProductionInstallation).where(ProductionInstallation.ean == ean)):
        name = f"installation:{plant.kind.value}:{plant.commissioned_on.isoformat()}"
        value = {
            "kind": plant.kind.value,
            "kva": plant.kva,
            "commissioned_on": plant.commissioned_on.isoformat(),
        }
        periods(name, [(value, plant.commissioned_on, plant.decommissioned_on)])
    return facts


def _fact(row: RegisterFact) -> Fact:
    value = None if row.value is None else json.loads(row.value)
    return Fact(row.ean, row.attribute, value, row.valid_from, row.recorded_at, row.process_id, row.source)


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


def load_snapshot(session: Session, ean: str, *, lock: bool = False) -> tuple[Snapshot, bool]:
    """The snapshot of ``ean`` and whether its facts still are the master data only (not yet stored)."""
    query = sa.select(AccessPoint.ean).where(AccessPoint.ean == ean)
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    if session.execute(query).scalar_one_or_none() is None:
        return Snapshot(ean, known=False), False
    rows = session.scalars(
        sa.select(RegisterFact).where(RegisterFact.ean == ean).order_by(RegisterFact.id)
    ).all()
    seeded = not rows
    facts = master_facts(session, ean) if seeded else [_fact(row) for row in rows]
    processes = session.scalars(sa.select(MarketProcess).where(MarketProcess.ean == ean)).all()
    reservations = session.scalars(
        sa.select(ReservationRow).where(ReservationRow.ean == ean, ReservationRow.released_at.is_(None))
    ).all()
    snapshot = Snapshot(
        ean,
        True,
        tuple(facts),
        tuple(_process(p) for p in processes),
        tuple(_reservation(r) for r in reservations),
    )
    return snapshot, seeded


# -- writing -------------------------------------------------------------------------------------------
def _fact_row(fact: Fact) -> RegisterFact:
    return RegisterFact(
        ean=fact.ean,
        attribute=fact.attribute,
        value=None if fact.value is None else json.dumps(fact.value, sort_keys=True),
        valid_from=fact.valid_from,
        recorded_at=fact.recorded_at,
        process_id=fact.process_id,
        source=fact.source,
    )


def write_outcome(session: Session, snapshot: Snapshot, seeded: bool, outcome: Outcome) -> None:
    """Write ``outcome`` (and, when ``seeded``, the master-data facts it was computed on)."""
    if seeded and (outcome.facts or outcome.processes):
        session.add_all(_fact_row(fact) for fact in snapshot.facts)
    session.add_all(_fact_row(fact) for fact in outcome.facts)
    for process in outcome.processes.values():
        attention = process.attention
        session.merge(
            MarketProcess(
                id=process.id,
                kind=process.kind,
                ean=process.ean,
                state=process.state,
                sender=process.sender,
                effective_date=process.effective_date,
                created_at=process.created_at,
                updated_at=process.updated_at,
                steps=process.steps,
                data=json.dumps(process.data, sort_keys=True),
                attention_reason=attention.reason.value if attention else None,
                attention_text=attention.text if attention else None,
                attention_actions=json.dumps([a.value for a in attention.actions]) if attention else None,
                attention_since=attention.since if attention else None,
            )
        )
    session.flush()
    session.add_all(
        ProcessEvent(
            process_id=e.process_id,
            step=e.step,
            at=e.at,
            from_state=e.from_state.value if e.from_state else None,
            to_state=e.to_state.value,
            note=e.note,
            message_id=e.message_id,
        )
        for e in outcome.events
    )
    for r in outcome.reservations.values():
        session.merge(
            ReservationRow(
                process_id=r.process_id,
                ean=r.ean,
                owner=r.owner,
                reserved_at=r.reserved_at,
                deadline=r.deadline,
                escalation=r.escalation,
                level=r.level,
                released_at=r.released_at,
                release_reason=r.release_reason,
            )
        )
    session.add_all(
        OutboxMessage(
            message_id=message.message_id,
            type=m.message_type(type(message)),
            version=message.version,
            recipient=message.recipient,
            ean=message.ean,
            process_id=message.process_id,
            created_at=message.created_at,
            payload=message.model_dump_json(),
        )
        for message in outcome.outbox
    )
    session.flush()


# -- applying messages ---------------------------------------------------------------------------------
def _roles(session: Session, codes: Iterable[str], day: date) -> dict[str, frozenset[PartyRole]]:
    rows = session.execute(
        sa.select(Party.code, PartyRoleAssignment.role)
        .join(PartyRoleAssignment, PartyRoleAssignment.party_id == Party.id, isouter=True)
        .where(Party.code.in_(list(codes)))
        .where(
            sa.or_(
                PartyRoleAssignment.id.is_(None),
                sa.and_(
                    PartyRoleAssignment.valid_from <= day,
                    sa.or_(PartyRoleAssignment.valid_to.is_(None), PartyRoleAssignment.valid_to > day),
                ),
            )
        )
    ).all()
    roles: dict[str, set[PartyRole]] = {}
    for code, role in rows:
        roles.setdefault(code, set())
        if role is not None:
            roles[code].add(role)
    return {code: frozenset(found) for code, found in roles.items()}


def _malformed(text: str) -> dict[str, Any]:
    return {
        "accepted": False,
        "code": RejectionCode.MALFORMED.value,
        "text": f"{REJECTION_TEXT[RejectionCode.MALFORMED]}: {text}",
    }


def apply_message(session: Session, text: str, readings: Readings) -> dict[str, Any]:
    """Apply one inbound message (JSON ``text``) and commit; return the answer for its sender."""
    try:
        message = m.parse_inbound_json(text)
    except m.MalformedMessageError as error:
        return _malformed(str(error))
    digest = hashlib.sha256(message.model_dump_json().encode()).hexdigest()
    try:
        answer = _apply(session, message, digest, readings)
    except BaseException:
        session.rollback()
        raise
    session.commit()
    return answer


def _apply(session: Session, message: m.Inbound, digest: str, readings: Readings) -> dict[str, Any]:
    snapshot, seeded = load_snapshot(session, message.ean, lock=True)
    seen = session.get(InboxMessage, message.message_id)
    if seen is not None:
        if seen.payload_sha256 == digest:
            stored: dict[str, Any] = json.loads(seen.answer)
            return stored
        code = RejectionCode.DUPLICATE_MESSAGE_ID
        return {
            "message_id": message.message_id,
            "accepted": False,
            "code": code.value,
            "text": REJECTION_TEXT[code],
        }
    roles = _roles(
        session, {message.sender, getattr(message, "brp", message.sender)}, market_day(message.received_at)
    )
    outcome = handle(snapshot, message, roles, readings)
    write_outcome(session, snapshot, seeded and snapshot.known, outcome)
    session.add(
        InboxMessage(
            message_id=message.message_id,
            sender=message.sender,
            type=message.type,
            ean=message.ean,
            received_at=message.received_at,
            payload_sha256=digest,
            answer=json.dumps(outcome.answer),
        )
    )
    session.flush()
    return outcome.answer


def tick(session: Session, now: datetime, readings: Readings) -> int:
    """Advance every access point with an open process to ``now`` and commit; return how many changed."""
    eans = session.scalars(
        sa.select(MarketProcess.ean)
        .where(MarketProcess.state.in_(list(OPEN_STATES)))
        .distinct()
        .order_by(MarketProcess.ean)
    ).all()
    changed = 0
    for ean in eans:
        snapshot, seeded = load_snapshot(session, ean, lock=True)
        outcome = advance(snapshot, now, readings)
        if outcome.events or outcome.reservations:
            write_outcome(session, snapshot, seeded, outcome)
            changed += 1
        session.commit()
    return changed


# -- queries -------------------------------------------------------------------------------------------
def register_state(
    session: Session, ean: str, day: date, known_at: datetime | None = None
) -> dict[str, Any] | None:
    """What the register says about ``ean`` on ``day`` as known at ``known_at``, with the history of each
    attribute and the processes open on that day; None for an unknown EAN."""
    snapshot, _ = load_snapshot(session, ean)
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
