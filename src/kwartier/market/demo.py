"""The supply market of the demo region (issue 3): the simulator's market stream
(:mod:`kwartier.market.stream`) applied by the market service over the demo's days, with the store's
remote readings as handover indexes, and every deadline up to the demo's last moment taken.

Rules of the demo's stream:
- every electricity access point gets its occupant's move-in on the first day, except those where a
  process outside the stream placed a grid user (the data market's households, :mod:`kwartier.access.demo`):
  their occupants stay theirs;
- then :data:`MESSAGES_PER_ACCESS_POINT_DAY` messages per access point and day, received between the
  second day's 06:00 UTC and the last moment: switches, moves, ends of supply, regime changes, meter
  exchanges, PV registrations and faulty messages in the stream's shares. A Flemish year has about one
  such message per access point; the demo compresses months of market activity into its week so that
  every process and rejection shows up;
- message ids are the stream's (``sim-<seed>-<n>``) and the stream depends only on the region and the
  days, so running the demo again applies nothing twice (``new`` counts the messages applied now).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kwartier.market import service
from kwartier.market.blocks import blocked_report
from kwartier.market.codes import Attribute
from kwartier.market.processes import Readings
from kwartier.market.stream import Market, market_of, market_stream
from kwartier.registry.access_register import RegisterFact
from kwartier.registry.market_processes import InboxMessage
from kwartier.registry.outbox import OutboxMessage

MESSAGES_PER_ACCESS_POINT_DAY: Final = 0.02
"""Market messages per access point and day after the first move-ins (the demo's compression)."""
STREAM_SEED: Final = 7
FIRST_RECEIVED: Final = time(6)
"""UTC time of day of the first day's move-ins; the rest of the stream starts a day later."""


@dataclass(frozen=True)
class MarketRun:
    """What the demo's market stream did: messages per type, those applied now (not before), the accepted
    ones, rejections per reason code, outbox messages written now, access points advanced to the last
    moment, and the blocked-access-point figures (seed 000 §4.2.4) at that moment."""

    messages: dict[str, int]
    new: int
    accepted: int
    rejected: dict[str, int]
    outbox: int
    advanced: int
    blocked: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """The run as JSON-ready values."""
        return asdict(self)


def run_market(
    session: Session, master_dir: Path, start: date, now: datetime, readings: Readings
) -> MarketRun:
    """Apply the demo's market stream (module docstring) for the region of ``master_dir`` from market day
    ``start`` up to ``now``, then advance every open process to ``now``; the caller's ``session`` is
    committed per chunk by the market service."""
    region = market_of(master_dir)
    placed = set(
        session.scalars(
            sa.select(RegisterFact.ean)
            .where(
                RegisterFact.attribute == Attribute.GRID_USER.value,
                sa.or_(
                    RegisterFact.process_id.is_(None),
                    sa.not_(RegisterFact.process_id.startswith(f"sim-{STREAM_SEED}-", autoescape=True)),
                ),
            )
            .distinct()
        )
    )
    free = [n for n, ean in enumerate(region.eans) if ean not in placed]
    market = Market(
        [region.eans[n] for n in free],
        [region.remote[n] for n in free],
        [region.serials[n] for n in free],
        region.suppliers,
        region.brp,
        region.dso,
    )
    first = datetime.combine(start, FIRST_RECEIVED, tzinfo=now.tzinfo)
    span = (now - first) // timedelta(days=1) - 1  # whole days after the first, all before ``now``
    later = round(len(free) * span * MESSAGES_PER_ACCESS_POINT_DAY) if span > 0 else 0
    texts = market_stream(market, len(free) + later, start, max(span, 1), STREAM_SEED) if free else []
    outbox_before, inbox_before = _count(session, OutboxMessage), _count(session, InboxMessage)
    answers = service.apply_messages(session, texts, readings)
    advanced = service.tick(session, now, readings)
    types: Counter[str] = Counter()
    for text in texts:
        types[_type_of(text)] += 1
    rejected = Counter(str(answer["code"]) for answer in answers if not answer.get("accepted"))
    return MarketRun(
        messages=dict(sorted(types.items())),
        new=_count(session, InboxMessage) - inbox_before,
        accepted=sum(bool(answer.get("accepted")) for answer in answers),
        rejected=dict(rejected.most_common()),
        outbox=_count(session, OutboxMessage) - outbox_before,
        advanced=advanced,
        blocked=blocked_report(service.attention_periods(session), now),
    )


def _type_of(text: str) -> str:
    """The ``type`` of a message text, or ``malformed`` when it is no JSON object with one."""
    try:
        document = json.loads(text)
    except ValueError:
        return "malformed"
    return str(document.get("type", "malformed")) if isinstance(document, dict) else "malformed"


def _count(session: Session, table: type[InboxMessage | OutboxMessage]) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(table)) or 0
