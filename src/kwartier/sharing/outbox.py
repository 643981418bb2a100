"""Monthly sharing results through the supply market's outbox (issue 5: "for the participants, their
suppliers and the group manager, through the same outbox and API as the other supply-market data").

Rules:
- one ``sharing_result`` message (:class:`kwartier.market.messages.SharingResult`) per participant, month
  and recipient: every supplier that supplied the access point on some day of the month (from the access
  register, issue 3) and the group's manager; the participants read theirs in the portal and through the
  data API (issue 6);
- the message id names the group, month, access point, run ("as known at") and recipient, so publishing a
  run again adds nothing, and a later run of the same month (a correction) sends new messages;
- a month without any recipient (no supplier in the register, no manager) sends nothing; the run says so.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.orm import Session

from kwartier.market.codes import Attribute
from kwartier.market.messages import VERSION, SharingResult, SharingTotals, message_type
from kwartier.market.register import Fact, history
from kwartier.market.service import stored_facts
from kwartier.registry.access_register import RegisterFact
from kwartier.registry.outbox import OutboxMessage
from kwartier.registry.parties import Party
from kwartier.registry.sharing_groups import SharingGroup, SharingParticipation
from kwartier.store.pseudonym import Pseudonymiser

_TOTALS = tuple(name for name in SharingTotals.model_fields if name != "tariff")


def suppliers_in(facts: list[Fact], first: date, following: date) -> list[str]:
    """The suppliers of an access point on any day of [first, following), from its ``supplier`` facts."""
    return sorted(
        {
            supplier
            for start, end, supplier in history(facts, Attribute.SUPPLIER)
            if start < following and (end is None or end > first)
        }
    )


def publish_monthly(
    session: Session,
    pseudonymiser: Pseudonymiser,
    code: str,
    monthly: pa.Table,
    as_of: datetime,
    now: datetime,
) -> int:
    """Queue the ``sharing_result`` messages of a run's monthly results (schema
    :data:`kwartier.sharing.settlement.MONTHLY`); returns how many were new. The caller commits."""
    group = session.scalar(sa.select(SharingGroup).where(SharingGroup.code == code))
    if group is None:
        raise LookupError(f"{code}: no such group")
    manager = (
        session.scalar(sa.select(Party.code).where(Party.id == group.manager_party_id))
        if group.manager_party_id is not None
        else None
    )
    eans = session.scalars(
        sa.select(SharingParticipation.ean).where(SharingParticipation.group_id == group.id).distinct()
    ).all()
    ean_of = {pseudonymiser.of(ean): ean for ean in eans}
    periods: dict[tuple[str, date], list[SharingTotals]] = defaultdict(list)
    for row in monthly.to_pylist():
        fields: dict[str, Any] = {name: row[name] for name in _TOTALS}
        periods[(ean_of[row["ap"]], row["month"])].append(SharingTotals(tariff=row["tariff"], **fields))
    facts = _supplier_facts(session, sorted({ean for ean, _ in periods}))
    messages = []
    for (ean, month), totals in sorted(periods.items()):
        following = (month + timedelta(days=32)).replace(day=1)
        recipients = [*suppliers_in(facts.get(ean, []), month, following), *([manager] if manager else [])]
        for recipient in dict.fromkeys(recipients):
            message_id = _message_id(code, month, ean, as_of, recipient)
            messages.append(
                SharingResult(
                    version=VERSION,
                    message_id=message_id,
                    recipient=recipient,
                    created_at=now,
                    ean=ean,
                    process_id=None,
                    group=code,
                    month=month,
                    as_of=as_of,
                    periods=sorted(totals, key=lambda t: t.tariff),
                )
            )
    known = set(
        session.scalars(
            sa.select(OutboxMessage.message_id).where(
                OutboxMessage.message_id.in_([m.message_id for m in messages])
            )
        )
    )
    fresh = [m for m in messages if m.message_id not in known]
    for message in fresh:
        session.add(
            OutboxMessage(
                message_id=message.message_id,
                type=message_type(SharingResult),
                version=VERSION,
                recipient=message.recipient,
                ean=message.ean,
                process_id=None,
                created_at=now,
                payload=message.model_dump_json(),
            )
        )
    return len(fresh)


def _message_id(code: str, month: date, ean: str, as_of: datetime, recipient: str) -> str:
    """A readable, bounded id: ``sharing:<month>:<ean>:<recipient>:<digest of group and run>``."""
    digest = hashlib.sha256(f"{code}|{as_of.isoformat()}".encode()).hexdigest()[:16]
    return f"sharing:{month:%Y-%m}:{ean}:{recipient}:{digest}"


def _supplier_facts(session: Session, eans: list[str]) -> dict[str, list[Fact]]:
    return stored_facts(
        session, sa.and_(RegisterFact.ean.in_(eans), RegisterFact.attribute == Attribute.SUPPLIER.value)
    )
