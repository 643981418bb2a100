"""The registry I/O around the market state machines: load snapshots, apply messages, write outcomes.

Rules:
- messages are applied in chunks, one transaction each (one message: one transaction): the facts,
  process changes, events, reservations, outbox messages and inbox rows of a chunk are written together
  or not at all. Messages on different access points never touch each other's state, so a chunk gives
  the same register as one message per transaction;
- the access points of a chunk are locked for its transaction, in EAN order (``SELECT … FOR UPDATE`` on
  PostgreSQL; on SQLite the chunk takes the database's write lock before it reads, ``BEGIN IMMEDIATE``),
  so two suppliers asking the same access point at the same moment are handled one after the other: the
  second sees the first's reservation and gets a clear rejection;
- idempotency: a message id already in the inbox with the same payload gets the stored answer and
  changes nothing; with another payload it is rejected (``duplicate_message_id``) and changes nothing;
- a malformed message changes nothing and is answered with ``malformed`` and the reasons; it reaches no
  outbox (its sender cannot be trusted);
- the first time a market process touches an access point its master data (status, meter, regime,
  capacity, production installations of the registry tables) become register facts recorded at the
  moment the registry learnt of the access point.
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import InstrumentedAttribute, Session

from kwartier.market import bulk
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
from kwartier.registry.database import core
from kwartier.registry.installations import ProductionInstallation
from kwartier.registry.market_processes import InboxMessage, MarketProcess, ProcessEvent
from kwartier.registry.market_processes import Reservation as ReservationRow
from kwartier.registry.meters import Meter, MeterInstallation
from kwartier.registry.outbox import OutboxMessage
from kwartier.registry.parties import Party, PartyRoleAssignment

MASTER_DATA = "master_data"


# -- loading -------------------------------------------------------------------------------------------
_SLICE = 2000  # EANs or message ids per query
_Key = TypeVar("_Key", str, int)


def _slices(items: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _SLICE):
        yield list(items[start : start + _SLICE])


def _among(
    session: Session, column: InstrumentedAttribute[_Key], values: Sequence[_Key]
) -> sa.ColumnElement[bool]:
    """``column`` is one of ``values``, given as one parameter: an array on PostgreSQL (``= ANY``: one
    plan whatever the number of values, an index scan even when psycopg prepares the statement); a JSON
    array on SQLite (``IN (SELECT value FROM json_each(?))``, looked up by the column's index like an
    ``IN`` list). A list of 2,000 parameters cost SQLAlchemy 3 ms a query to expand (5 % of a worker's
    time at 200,000 messages)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        array = postgresql.ARRAY(sa.Integer() if isinstance(column.type, sa.Integer) else sa.String())
        return column == sa.any_(sa.bindparam(None, list(values), type_=array))
    if dialect == "sqlite":
        listed = sa.func.json_each(sa.bindparam(None, json_text(list(values)), type_=sa.String()))
        return column.in_(sa.select(listed.table_valued("value").c.value))
    return column.in_(values)


def master_facts(session: Session, eans: Sequence[str]) -> dict[str, list[Fact]]:
    """The register facts the master-data tables give for ``eans`` (an unknown EAN has none), recorded
    at the moment the registry learnt of each access point."""
    connection = core(session)
    facts: dict[str, list[Fact]] = {}
    created: dict[str, datetime] = {}

    def add(attribute: str, ean: str, value: Any, valid_from: date, valid_to: date | None) -> None:
        at = created[ean]
        facts[ean].append(Fact(ean, attribute, value, valid_from, at, None, MASTER_DATA))
        if valid_to is not None:
            facts[ean].append(Fact(ean, attribute, None, valid_to, at, None, MASTER_DATA))

    for part in _slices(eans):
        points = connection.execute(
            sa.select(AccessPoint.ean, AccessPoint.connected_from, AccessPoint.created_at).where(
                _among(session, AccessPoint.ean, part)
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

        regimes = connection.execute(
            sa.select(
                MeasurementRegime.ean,
                MeasurementRegime.regime,
                MeasurementRegime.valid_from,
                MeasurementRegime.valid_to,
            )
            .where(_among(session, MeasurementRegime.ean, part))
            .order_by(MeasurementRegime.ean, MeasurementRegime.valid_from)
        )
        for ean, regime, valid_from, valid_to in regimes:
            add(Attribute.REGIME, ean, {"regime": regime.value, "requested_by": None}, valid_from, valid_to)
        capacities = connection.execute(
            sa.select(
                ConnectionCapacity.ean,
                ConnectionCapacity.capacity,
                ConnectionCapacity.unit,
                ConnectionCapacity.valid_from,
                ConnectionCapacity.valid_to,
            )
            .where(_among(session, ConnectionCapacity.ean, part))
            .order_by(ConnectionCapacity.ean, ConnectionCapacity.valid_from)
        )
        for ean, capacity, unit, valid_from, valid_to in capacities:
            add(Attribute.CAPACITY, ean, {"value": capacity, "unit": unit.value}, valid_from, valid_to)
        installed = connection.execute(
            sa.select(
                MeterInstallation.ean,
                MeterInstallation.meter_id,
                MeterInstallation.valid_from,
                MeterInstallation.valid_to,
            )
            .where(_among(session, MeterInstallation.ean, part))
            .order_by(MeterInstallation.ean, MeterInstallation.valid_from)
        ).all()
        # the meters by their key, not joined: without statistics PostgreSQL joined every meter
        meter_ids = sorted({meter_id for _, meter_id, _, _ in installed})
        meters = {
            meter_id: {"serial": serial, "kind": kind.value}
            for meter_id, serial, kind in connection.execute(
                sa.select(Meter.id, Meter.serial, Meter.kind).where(_among(session, Meter.id, meter_ids))
            )
        }
        for ean, meter_id, valid_from, valid_to in installed:
            add(Attribute.METER, ean, dict(meters[meter_id]), valid_from, valid_to)
        plants = connection.execute(
            sa.select(
                ProductionInstallation.ean,
                ProductionInstallation.kind,
                ProductionInstallation.kva,
                ProductionInstallation.commissioned_on,
                ProductionInstallation.decommissioned_on,
            )
            .where(_among(session, ProductionInstallation.ean, part))
            .order_by(ProductionInstallation.ean, ProductionInstallation.id)
        )
        for ean, plant_kind, kva, commissioned_on, decommissioned_on in plants:
            value = {"kind": plant_kind.value, "kva": kva, "commissioned_on": commissioned_on.isoformat()}
            name = f"installation:{plant_kind.value}:{commissioned_on.isoformat()}"
            add(name, ean, value, commissioned_on, decommissioned_on)
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


def stored_facts(session: Session, condition: sa.ColumnElement[bool]) -> dict[str, list[Fact]]:
    """The stored register facts matching ``condition``, per EAN, in the order they were appended."""
    return facts_of(core(session).execute(fact_query(condition)))


def fact_query(condition: sa.ColumnElement[bool]) -> sa.Select[*tuple[Any, ...]]:
    """The select of the register facts matching ``condition``, per access point in the order they were
    appended (the rows :func:`facts_of` reads). Ordered by EAN first: in the order of ``id`` alone,
    PostgreSQL, taking a condition on 2,000 EANs for most of a table without statistics, read the whole
    table along its primary key to spare the sort (200 ms a query at 200,000 messages, growing with the
    register)."""
    return sa.select(*_FACT_COLUMNS).where(condition).order_by(RegisterFact.ean, RegisterFact.id)


def facts_of(rows: Iterable[Sequence[Any]]) -> dict[str, list[Fact]]:
    """The facts of the rows of a :func:`fact_query`, per EAN, in the order of the rows."""
    listed = list(rows)
    values = _json_values([row[2] for row in listed])
    facts: dict[str, list[Fact]] = {}
    for (ean, attribute, _, valid_from, recorded_at, process_id, source), value in zip(
        listed, values, strict=True
    ):
        facts.setdefault(ean, []).append(
            Fact.stored(ean, attribute, value, valid_from, recorded_at, process_id, source)
        )
    return facts


def _json_values(texts: list[str | None]) -> list[Any]:
    """The JSON texts decoded (NULL as None), as one array: a decoder call per value costs four times
    as much (600,000 register values with ``json.loads``: 0.61 s against 0.14 s). A text that is not one JSON
    value would shift the array, so the count is checked, and then each text is decoded alone, which
    raises on the culprit (only two broken texts that make up for each other could pass: the register's
    values are written by its own JSON encoder)."""
    try:
        joined = orjson.loads("[" + ",".join("null" if text is None else text for text in texts) + "]")
    except orjson.JSONDecodeError:
        joined = None
    if isinstance(joined, list) and len(joined) == len(texts):
        return joined
    return [None if text is None else orjson.loads(text) for text in texts]


_PROCESS_COLUMNS = (
    MarketProcess.id,
    MarketProcess.kind,
    MarketProcess.ean,
    MarketProcess.state,
    MarketProcess.sender,
    MarketProcess.effective_date,
    MarketProcess.created_at,
    MarketProcess.updated_at,
    MarketProcess.steps,
    MarketProcess.data,
    MarketProcess.attention_reason,
    MarketProcess.attention_text,
    MarketProcess.attention_actions,
    MarketProcess.attention_since,
)
_RESERVATION_COLUMNS = (
    ReservationRow.process_id,
    ReservationRow.ean,
    ReservationRow.owner,
    ReservationRow.reserved_at,
    ReservationRow.deadline,
    ReservationRow.escalation,
    ReservationRow.level,
    ReservationRow.released_at,
    ReservationRow.release_reason,
)


def _process(row: Sequence[Any]) -> Process:
    """A process from a row of :data:`_PROCESS_COLUMNS`."""
    (
        id_,
        kind,
        ean,
        state,
        sender,
        effective,
        created,
        updated,
        steps,
        data,
        reason,
        text,
        actions,
        since,
    ) = row
    attention = None
    if reason is not None and since is not None:
        attention = Attention(
            AttentionReason(reason), text or "", tuple(Action(a) for a in json.loads(actions or "[]")), since
        )
    return Process(
        id_, kind, ean, state, sender, effective, created, updated, steps, orjson.loads(data), attention
    )


@dataclass
class Loaded:
    """A snapshot as the registry holds it (``loaded``) and as changed since (``snapshot``), and whether
    its facts are still the master data only, not stored yet. A pipeline worker keeping it for the next
    chunk sets ``loaded`` to ``snapshot`` once its chunk is decided: what the registry holds when that
    chunk is committed."""

    snapshot: Snapshot
    seeded: bool
    loaded: Snapshot


def load_snapshots(session: Session, eans: Sequence[str], *, lock: bool = False) -> dict[str, Loaded]:
    """The snapshots of ``eans`` (locked for the transaction on PostgreSQL when ``lock``, in EAN order)."""
    connection = core(session)
    ordered = sorted(set(eans))
    known: set[str] = set()
    facts: dict[str, list[Fact]] = {}
    processes: dict[str, list[Process]] = {}
    reservations: dict[str, list[Reservation]] = {}
    for part in _slices(ordered):
        query = (
            sa.select(AccessPoint.ean).where(_among(session, AccessPoint.ean, part)).order_by(AccessPoint.ean)
        )
        if lock and session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        known.update(connection.scalars(query))
        facts.update(stored_facts(session, _among(session, RegisterFact.ean, part)))
        stored_processes = sa.select(*_PROCESS_COLUMNS).where(_among(session, MarketProcess.ean, part))
        for process_row in connection.execute(stored_processes):
            process = _process(process_row)
            processes.setdefault(process.ean, []).append(process)
        active = sa.select(*_RESERVATION_COLUMNS).where(
            _among(session, ReservationRow.ean, part), ReservationRow.released_at.is_(None)
        )
        for reservation_row in connection.execute(active):
            reservation = Reservation(*reservation_row)
            reservations.setdefault(reservation.ean, []).append(reservation)
    unseeded = [ean for ean in ordered if ean in known and ean not in facts]
    masters = master_facts(session, unseeded)
    loaded: dict[str, Loaded] = {}
    for ean in ordered:
        if ean not in known:
            snapshot = Snapshot(ean, known=False)
            loaded[ean] = Loaded(snapshot, False, snapshot)
            continue
        seeded = ean not in facts
        snapshot = Snapshot(
            ean,
            True,
            tuple(masters.get(ean, []) if seeded else facts[ean]),
            tuple(processes.get(ean, [])),
            tuple(reservations.get(ean, [])),
        )
        loaded[ean] = Loaded(snapshot, seeded, snapshot)
    return loaded


# -- writing -------------------------------------------------------------------------------------------
_FACT_INSERT = ("ean", "attribute", "value", "valid_from", "recorded_at", "process_id", "source")
_PROCESS_STATE = (
    "state",
    "sender",
    "effective_date",
    "updated_at",
    "steps",
    "data",
    "attention_reason",
    "attention_text",
    "attention_actions",
    "attention_since",
)
_PROCESS_INSERT = ("id", "kind", "ean", "created_at", *_PROCESS_STATE)
_RESERVATION_STATE = ("owner", "deadline", "escalation", "level", "released_at", "release_reason")
_RESERVATION_INSERT = ("process_id", "ean", "reserved_at", *_RESERVATION_STATE)
_EVENT_INSERT = ("process_id", "step", "at", "from_state", "to_state", "note", "message_id")
_OUTBOX_INSERT = ("message_id", "type", "version", "recipient", "ean", "process_id", "created_at", "payload")
_INBOX_INSERT = ("message_id", "sender", "type", "ean", "received_at", "payload_sha256", "answer")


def json_text(value: Any) -> str:
    """``value`` as the registry stores JSON (register values, process data, answers): keys sorted, by
    orjson, ten times faster than ``json.dumps`` (millions of values at a million messages). A query
    that compares a stored register value with a value encodes it with this function. An integer beyond
    64 bits, which orjson refuses, cannot come from a message (``messages.MAX_INDEX``) but may be in data
    stored before that bound: the standard library writes it."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return json.dumps(value, sort_keys=True)


def _fact_row(fact: Fact) -> tuple[Any, ...]:
    value = fact.value
    if value is not None:
        value = json_text(value)
    return (
        fact.ean,
        fact.attribute,
        value,
        fact.valid_from,
        fact.recorded_at,
        fact.process_id,
        fact.source,
    )


def _process_state(process: Process) -> tuple[Any, ...]:
    attention = process.attention
    return (
        process.state,
        process.sender,
        process.effective_date,
        process.updated_at,
        process.steps,
        json_text(process.data),
        attention.reason.value if attention else None,
        attention.text if attention else None,
        json_text([a.value for a in attention.actions]) if attention else None,
        attention.since if attention else None,
    )


def _reservation_state(r: Reservation) -> tuple[Any, ...]:
    return (r.owner, r.deadline, r.escalation, r.level, r.released_at, r.release_reason)


def _table(model: type[Base]) -> sa.Table:
    return Base.metadata.tables[model.__tablename__]


class _Changes:
    """The rows that a transaction's outcomes add to the registry, handed to the writer in batches while
    the state machines go on: :meth:`add` each outcome, :meth:`flush` now and then, :meth:`finish` once.

    Rules:
    - facts, events, outbox messages and inbox rows are appended in the order they were decided, so each
      access point's rows keep their order;
    - the master-data facts a snapshot was computed on are stored just before its first change (a fact
      or a process);
    - a process or reservation the database does not hold yet is inserted at the next flush, in its
      state then and before the rows that refer to it; one it holds (loaded, or inserted by an earlier
      flush) is updated once, to its last state, by :meth:`finish`."""

    def __init__(self, loaded: Iterable[Loaded]) -> None:
        items = list(loaded)
        self._stored_processes = {p.id for item in items for p in item.loaded.processes}
        self._stored_reservations = {r.process_id for item in items for r in item.loaded.reservations}
        self._new_processes: dict[str, Process] = {}
        self._new_reservations: dict[str, Reservation] = {}
        self._changed_processes: dict[str, Process] = {}
        self._changed_reservations: dict[str, Reservation] = {}
        self._facts: list[tuple[Any, ...]] = []
        self._events: list[tuple[Any, ...]] = []
        self._messages: list[tuple[Any, ...]] = []
        self._inbox: list[tuple[Any, ...]] = []
        self.added = 0  # outcomes since the last flush

    def add(self, item: Loaded, outcome: Outcome) -> None:
        """Take the rows of ``outcome``, a change of ``item``'s access point."""
        self.added += 1
        if item.seeded and (outcome.facts or outcome.processes):
            self._facts.extend(map(_fact_row, item.loaded.facts))
            item.seeded = False
        self._facts.extend(map(_fact_row, outcome.facts))
        for process in outcome.processes.values():
            if process.id in self._stored_processes:
                self._changed_processes[process.id] = process
            else:
                self._new_processes[process.id] = process
        for r in outcome.reservations.values():
            if r.process_id in self._stored_reservations:
                self._changed_reservations[r.process_id] = r
            else:
                self._new_reservations[r.process_id] = r
        self._events.extend(
            (
                e.process_id,
                e.step,
                e.at,
                e.from_state.value if e.from_state else None,
                e.to_state.value,
                e.note,
                e.message_id,
            )
            for e in outcome.events
        )
        self._messages.extend(
            (
                message.message_id,
                m.message_type(type(message)),
                message.version,
                message.recipient,
                message.ean,
                message.process_id,
                message.created_at,
                message.model_dump_json(),
            )
            for message in outcome.outbox
        )

    def receive(self, row: tuple[Any, ...]) -> None:
        """Take the inbox row of an applied message (values in the order of ``_INBOX_INSERT``)."""
        self._inbox.append(row)

    def flush(self, writer: bulk.Sink) -> None:
        """Hand every insert taken so far to ``writer``."""
        writer.insert(
            _table(MarketProcess),
            _PROCESS_INSERT,
            [(p.id, p.kind, p.ean, p.created_at, *_process_state(p)) for p in self._new_processes.values()],
        )
        writer.insert(
            _table(ReservationRow),
            _RESERVATION_INSERT,
            [
                (r.process_id, r.ean, r.reserved_at, *_reservation_state(r))
                for r in self._new_reservations.values()
            ],
        )
        writer.insert(_table(RegisterFact), _FACT_INSERT, self._facts)
        writer.insert(_table(ProcessEvent), _EVENT_INSERT, self._events)
        writer.insert(_table(OutboxMessage), _OUTBOX_INSERT, self._messages)
        writer.insert(_table(InboxMessage), _INBOX_INSERT, self._inbox)
        self._stored_processes.update(self._new_processes)
        self._stored_reservations.update(self._new_reservations)
        self._new_processes, self._new_reservations = {}, {}
        self._facts, self._events, self._messages, self._inbox = [], [], [], []
        self.added = 0

    def finish(self, writer: bulk.Sink) -> None:
        """Hand the remaining inserts and the updates of stored processes and reservations to ``writer``."""
        self.flush(writer)
        writer.update(
            _table(MarketProcess),
            _PROCESS_STATE,
            ("id",),
            [(*_process_state(p), p.id) for p in self._changed_processes.values()],
        )
        writer.update(
            _table(ReservationRow),
            _RESERVATION_STATE,
            ("process_id",),
            [(*_reservation_state(r), r.process_id) for r in self._changed_reservations.values()],
        )


# -- applying messages ---------------------------------------------------------------------------------
class Roles:
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
        self._cache: dict[tuple[str, date], frozenset[PartyRole]] = {}
        for code, role, valid_from, valid_to in rows:
            self.periods.setdefault(code, [])
            if role is not None:
                self.periods[code].append((role, valid_from, valid_to))

    def on(self, codes: Iterable[str], day: date) -> dict[str, frozenset[PartyRole]]:
        """The roles of the known parties among ``codes`` on ``day``."""
        return {code: self._held(code, day) for code in codes if code in self.periods}

    def _held(self, code: str, day: date) -> frozenset[PartyRole]:
        """The roles of known party ``code`` on ``day``, each (party, day) worked out once."""
        key = (code, day)
        held = self._cache.get(key)
        if held is None:
            held = self._cache[key] = frozenset(
                role for role, start, end in self.periods[code] if start <= day and (end is None or day < end)
            )
        return held


def _malformed(text: str) -> dict[str, Any]:
    code = RejectionCode.MALFORMED
    return {"accepted": False, "code": code.value, "text": f"{REJECTION_TEXT[code]}: {text}"}


def _duplicate(message_id: str) -> dict[str, Any]:
    code = RejectionCode.DUPLICATE_MESSAGE_ID
    return {"message_id": message_id, "accepted": False, "code": code.value, "text": REJECTION_TEXT[code]}


CHUNK: Final = 20_000
"""Messages per transaction by default (:func:`apply_messages`), and access points per transaction of
:func:`tick`."""


def apply_message(session: Session, text: str, readings: Readings) -> dict[str, Any]:
    """Apply one inbound message (JSON ``text``) and commit; return the answer for its sender."""
    return apply_messages(session, [text], readings)[0]


def apply_messages(
    session: Session, texts: Sequence[str], readings: Readings, *, chunk: int = CHUNK
) -> list[dict[str, Any]]:
    """Apply inbound messages in order, ``chunk`` per transaction; return the answer to each.

    Messages on different access points never touch each other's state, so each chunk loads the
    snapshots of its access points at once, runs the state machines in memory in message order, and
    writes everything in bulk: the same register as one message per transaction, much faster."""
    roles = Roles(session)
    answers: list[dict[str, Any]] = []
    for start in range(0, len(texts), chunk):
        try:
            with _without_cycle_collection():
                begin_writing(session)
                answers.extend(_apply_chunk(session, texts[start : start + chunk], readings, roles))
        except BaseException:
            session.rollback()
            raise
        session.commit()
    return answers


_BY_INDEX: Final = sa.text(
    "SELECT set_config('plan_cache_mode', 'force_custom_plan', true),"
    " set_config('enable_seqscan', 'off', true)"
)
"""PostgreSQL settings for the rest of the transaction (``SET LOCAL``, in one round trip): plan each query
for its parameters; find rows by index (see :func:`begin_writing`)."""


def begin_writing(session: Session) -> None:
    """Begin the transaction of a chunk as the registry's writer, before anything of it is read.

    SQLite: ``BEGIN IMMEDIATE``, so the chunk holds the write lock from before its snapshots and inbox rows
    are loaded until it commits; another connection's chunk waits for it (busy timeout) and then loads what
    it committed. sqlite3 would begin only at the first write, after the loads: two processes could then
    both accept a switch of the same access point, each from a snapshot without the other's.

    PostgreSQL: every query of a chunk looks up the rows of at most 2,000 access points by an indexed
    column (no joins), so the transaction plans each query for its own parameters and by its indexes
    (:data:`_BY_INDEX`). psycopg
    prepares a statement after a few executions, and PostgreSQL then tends to a generic plan that scans a
    whole table comparing each row with every value of the ``= ANY`` array (half a second per query
    instead of milliseconds); and on a table without statistics (freshly loaded or filled, autovacuum
    not yet or never run) PostgreSQL takes an array of 2,000 values for most of the table and scans it
    all: at 500,000 access points every query of the master data read the whole table (and joined every
    meter), and the fact, process and reservation queries did as their tables grew. The access points
    are locked by
    :func:`load_snapshots` (``SELECT … FOR UPDATE``)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        session.execute(_BY_INDEX)
    elif connection.dialect.name == "sqlite":
        driver = connection.connection.driver_connection
        if driver is not None and not driver.in_transaction:
            driver.execute("BEGIN IMMEDIATE")


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a chunk is built: a chunk allocates millions of
    small objects that live until it is written, and each collection would traverse them all again
    (a third of the time). Reference counting still frees everything; collection resumes afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def stored_answers(session: Session, message_ids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Payload digest and answer of each of ``message_ids`` already in the inbox."""
    seen: dict[str, tuple[str, dict[str, Any]]] = {}
    query = sa.select(InboxMessage.message_id, InboxMessage.payload_sha256, InboxMessage.answer)
    for part in _slices(message_ids):
        for message_id, digest, answer in core(session).execute(
            query.where(_among(session, InboxMessage.message_id, part))
        ):
            seen[message_id] = (digest, orjson.loads(answer))
    return seen


_FLUSH_EVERY = 2_000
"""Outcomes (applied messages, or access points advanced by the clock) taken before their rows go to
the writer: small enough that the database writes while the state machines run, large enough that a
statement carries many rows."""


def parse_messages(texts: Sequence[str]) -> list[tuple[m.Inbound, str] | dict[str, Any]]:
    """Each message of ``texts`` parsed, with the SHA-256 of its canonical JSON (what the inbox keeps to
    tell a repeat from another message under the same id), or the ``malformed`` answer it gets."""
    parsed: list[tuple[m.Inbound, str] | dict[str, Any]] = []
    for text in texts:
        try:
            message = m.parse_inbound_json(text)
        except m.MalformedMessageError as error:
            parsed.append(_malformed(str(error)))
            continue
        parsed.append((message, hashlib.sha256(message.model_dump_json().encode()).hexdigest()))
    return parsed


def _apply_chunk(
    session: Session, texts: Sequence[str], readings: Readings, roles: Roles
) -> list[dict[str, Any]]:
    parsed = parse_messages(texts)
    valid = [item for item in parsed if isinstance(item, tuple)]
    seen = stored_answers(session, [message.message_id for message, _ in valid])
    new = [message for message, _ in valid if message.message_id not in seen]
    loaded = load_snapshots(session, [message.ean for message in new], lock=True)
    seen.update(stored_answers(session, [message.message_id for message in new]))  # applied meanwhile
    with bulk.Writer(session) as writer:
        return decide(parsed, seen, loaded, readings, roles, writer)


def decide(
    parsed: Sequence[tuple[m.Inbound, str] | dict[str, Any]],
    seen: dict[str, tuple[str, dict[str, Any]]],
    loaded: dict[str, Loaded],
    readings: Readings,
    roles: Roles,
    sink: bulk.Sink,
) -> list[dict[str, Any]]:
    """Run the state machines on the ``parsed`` messages in order, from the snapshots ``loaded`` (every
    access point of a message not ``seen`` yet); hand the rows of their outcomes to ``sink``; return the
    answer to each. ``seen`` (digest and answer per message id in the inbox) and each loaded snapshot
    take the changes."""
    answers: list[dict[str, Any]] = []
    changes = _Changes(loaded.values())
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
        changes.add(state, outcome)
        seen[message.message_id] = (digest, outcome.answer)
        answers.append(outcome.answer)
        changes.receive(
            (
                message.message_id,
                message.sender,
                message.type,
                message.ean,
                message.received_at,
                digest,
                json_text(outcome.answer),
            )
        )
        if changes.added >= _FLUSH_EVERY:
            changes.flush(sink)
    changes.finish(sink)
    return answers


def tick(session: Session, now: datetime, readings: Readings, *, chunk: int = CHUNK) -> int:
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
        with _without_cycle_collection():
            begin_writing(session)
            loaded = load_snapshots(session, eans[start : start + chunk], lock=True)
            changes = _Changes(loaded.values())
            with bulk.Writer(session) as writer:
                for state in loaded.values():
                    outcome = advance(state.snapshot, now, readings)
                    changed += bool(outcome.events or outcome.reservations)
                    changes.add(state, outcome)
                    if changes.added >= _FLUSH_EVERY:
                        changes.flush(writer)
                changes.finish(writer)
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
