"""Events to providers: queued in ``webhook_deliveries`` in the same transaction as the change they
announce, then delivered, signed, by :func:`deliver_due` (issue 6; rules in :mod:`kwartier.access.webhooks`).

A contract without a webhook URL still gets its events queued (``next_attempt_at`` null, never sent), so
the delivery log and polling show the same history to every provider.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import httpx
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from kwartier.access.contracts import webhook_secret
from kwartier.access.sealing import Sealer
from kwartier.access.webhooks import EVENT_HEADER, SIGNATURE_HEADER, next_attempt, sign
from kwartier.hub import WEBHOOK_QUEUED
from kwartier.registry.data_access import DataAccessContract, WebhookDelivery

DELIVERY_TIMEOUT: Final = 10.0
BATCH: Final = 50


def queue_event(
    session: Session, contract: DataAccessContract, event: str, data: Mapping[str, Any], now: datetime
) -> str:
    """Queue ``event`` with ``data`` for the contract's webhook; returns the event id."""
    event_id = str(uuid.uuid4())
    session.info[WEBHOOK_QUEUED] = True  # the server's transaction wakes the delivery loop after the commit
    body = {"id": event_id, "type": event, "created_at": now.isoformat(), "data": dict(data)}
    session.add(
        WebhookDelivery(
            contract_id=contract.id,
            event_id=event_id,
            event=event,
            payload=json.dumps(body, separators=(",", ":"), sort_keys=True),
            created_at=now,
            attempts=0,
            next_attempt_at=now if contract.webhook_url else None,
            delivered_at=None,
            last_status=None,
            last_error=None,
        )
    )
    return event_id


def deliver_due(sessions: sessionmaker[Session], sealer: Sealer, http: httpx.Client, now: datetime) -> int:
    """Send the deliveries due at ``now`` (oldest first, at most :data:`BATCH`); returns how many succeeded.

    Each attempt is recorded: status or error, attempts, and the next attempt (None once delivered or
    when the retries are exhausted)."""
    with sessions() as session:
        due = session.execute(
            sa.select(WebhookDelivery, DataAccessContract)
            .join(DataAccessContract, DataAccessContract.id == WebhookDelivery.contract_id)
            .where(WebhookDelivery.delivered_at.is_(None), WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.id)
            .limit(BATCH)
        ).all()
        delivered = 0
        for delivery, contract in due:
            if contract.webhook_url is None:
                delivery.next_attempt_at = None
                continue
            body = delivery.payload.encode()
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(webhook_secret(sealer, contract), body, now),
                EVENT_HEADER: delivery.event,
            }
            delivery.attempts += 1
            try:
                response = http.post(
                    contract.webhook_url, content=body, headers=headers, timeout=DELIVERY_TIMEOUT
                )
                delivery.last_status, delivery.last_error = response.status_code, None
                ok = 200 <= response.status_code < 300
            except httpx.HTTPError as error:
                delivery.last_status, delivery.last_error, ok = (
                    None,
                    f"{type(error).__name__}: {error}"[:500],
                    False,
                )
            if ok:
                delivery.delivered_at, delivery.next_attempt_at = now, None
                delivered += 1
            else:
                delivery.next_attempt_at = next_attempt(delivery.attempts, now)
        session.commit()
    return delivered


def deliveries(session: Session, contract_id: int, limit: int = 100) -> list[WebhookDelivery]:
    """The contract's delivery log, newest first."""
    return list(
        session.scalars(
            sa.select(WebhookDelivery)
            .where(WebhookDelivery.contract_id == contract_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    )
