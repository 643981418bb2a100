"""A small market: two suppliers, a balance responsible party, the DSO and three access points, and a
pure fold of outcomes into snapshots so that state-machine tests need no database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from kwartier.domain.timegrid import local_midnight_utc
from kwartier.market import messages as m
from kwartier.market.codes import OPEN_STATES, Attribute, Status
from kwartier.market.processes import Index, Outcome, Snapshot, handle
from kwartier.market.processes import apply_outcome as fold
from kwartier.market.register import Fact
from kwartier.registry.codes import PartyRole

E1 = "541448820000000015"  # digital meter M1, SMR1
E2 = "541448820000000022"  # classic meter M2, SMR1
E3 = "541448820000000039"  # digital meter M3, SMR1
UNKNOWN = "541448820999999994"
STROOM = "5414499000017"  # supplier and BRP
DSO = "5414499000024"
VOLT = "5414499000031"  # supplier
BALANS = "5414499000048"  # BRP
STRANGER = "5414499000055"  # no party
WATT = "5414499000062"  # supplier
ROLES: dict[str, frozenset[PartyRole]] = {
    STROOM: frozenset({PartyRole.SUPPLIER, PartyRole.BRP}),
    DSO: frozenset({PartyRole.DSO}),
    VOLT: frozenset({PartyRole.SUPPLIER}),
    BALANS: frozenset({PartyRole.BRP}),
    WATT: frozenset({PartyRole.SUPPLIER}),
}
LOADED = datetime(2025, 1, 1, tzinfo=UTC)
METERS = {E1: ("M1", "digital"), E2: ("M2", "classic"), E3: ("M3", "digital")}


def at(day: str, hour: int = 9) -> datetime:
    """``hour``:00 UTC on ``day``."""
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def master(ean: str) -> Snapshot:
    """The access point as the master data give it: connected, its meter, SMR1, 9.2 kVA, no supply."""
    serial, kind = METERS[ean]
    start = date(2020, 1, 1)
    facts = [
        Fact(ean, Attribute.STATUS, Status.CONNECTED.value, start, LOADED, None, "master_data"),
        Fact(ean, Attribute.METER, {"serial": serial, "kind": kind}, start, LOADED, None, "master_data"),
        Fact(
            ean,
            Attribute.REGIME,
            {"regime": "SMR1", "requested_by": None},
            start,
            LOADED,
            None,
            "master_data",
        ),
        Fact(ean, Attribute.CAPACITY, {"value": 9.2, "unit": "kVA"}, start, LOADED, None, "master_data"),
    ]
    return Snapshot(ean, True, tuple(facts))


class Readings:
    """Remote readings by (EAN, day); ``None`` where the meter did not communicate."""

    def __init__(self, readings: dict[tuple[str, date], Index] | None = None) -> None:
        self.readings = dict(readings or {})

    def __call__(self, ean: str, day: date) -> Index | None:
        return self.readings.get((ean, day))


def message(
    type_: str, message_id: str, sender: str, received: datetime, ean: str = E1, **fields: Any
) -> m.Inbound:
    """An inbound message of type ``type_`` (fields in their JSON form)."""
    document = {
        "type": type_,
        "version": 1,
        "message_id": message_id,
        "sender": sender,
        "received_at": received.isoformat(),
        "ean": ean,
        **fields,
    }
    return m.parse_inbound(document)


def run(snapshot: Snapshot, messages: list[m.Inbound], readings: Readings) -> tuple[Snapshot, list[Outcome]]:
    """Handle ``messages`` in order; return the final snapshot and every outcome."""
    outcomes = []
    for inbound in messages:
        outcome = handle(snapshot, inbound, ROLES, readings)
        snapshot = fold(snapshot, outcome)
        outcomes.append(outcome)
    return snapshot, outcomes


def occupied(
    ean: str, customer: str = "C1", supplier: str = STROOM, day: str = "2026-01-05"
) -> tuple[Snapshot, Readings]:
    """``ean`` occupied by ``customer`` supplied by ``supplier`` since ``day`` (a completed move-in)."""
    readings = Readings({(ean, date.fromisoformat(day)): {"offtake/day": 1000, "offtake/night": 500}})
    move_in = message(
        "move_in",
        f"given-{ean}",
        supplier,
        at(day),
        ean,
        customer=customer,
        move_date=day,
        brp=STROOM,
        index={"offtake/day": 1000},
    )
    snapshot, (outcome,) = run(master(ean), [move_in], readings)
    assert outcome.answer["accepted"], outcome.answer
    assert not [p for p in snapshot.processes if p.state in OPEN_STATES]
    return snapshot, readings


def midnight(day: str) -> datetime:
    """00:00 Europe/Brussels of ``day``."""
    return local_midnight_utc(date.fromisoformat(day))


def day_after(day: str, days: int) -> str:
    """``day`` + ``days`` as ISO text."""
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()
