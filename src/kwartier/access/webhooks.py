"""Signed webhooks to energy service providers (issue 6; reference/data-access.md item 2).

Rules:
- the body is the event's JSON; the header ``Kwartier-Signature: t=<unix seconds>,v1=<hex>`` carries
  HMAC-SHA256(secret, "<t>.<body>") — the timestamp is signed too, so a replayed old delivery is refused
  by a receiver that checks the age (default tolerance 5 minutes);
- a delivery that fails (no 2xx within 10 s) is retried after 1 min, 5 min, 30 min, 2 h, 6 h and 24 h;
  after the last retry it stays in the delivery log as failed, and the provider can still poll
  ``GET /api/v1/mandates?updated_since=``.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Final

SIGNATURE_HEADER: Final = "Kwartier-Signature"
EVENT_HEADER: Final = "Kwartier-Event"
TOLERANCE: Final = timedelta(minutes=5)
RETRY_DELAYS: Final = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=24),
)


class SignatureError(ValueError):
    """A signature header that is malformed, does not match, or is too old."""


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, at: datetime) -> str:
    """The signature header value of ``body`` sent at ``at``."""
    timestamp = int(at.timestamp())
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, now: datetime, tolerance: timedelta = TOLERANCE) -> None:
    """Check a received signature header (what a provider does); raises :class:`SignatureError`."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if "t" not in parts or "v1" not in parts or not parts["t"].isdigit():
        raise SignatureError(f"malformed {SIGNATURE_HEADER} header")
    timestamp = int(parts["t"])
    if abs(now.timestamp() - timestamp) > tolerance.total_seconds():
        raise SignatureError("signature timestamp outside the tolerance")
    if not hmac.compare_digest(_mac(secret, timestamp, body), parts["v1"]):
        raise SignatureError("signature does not match")


def next_attempt(attempts: int, at: datetime) -> datetime | None:
    """When to retry after ``attempts`` failed attempts, None when retries are exhausted."""
    if attempts < 1 or attempts > len(RETRY_DELAYS):
        return None
    return at + RETRY_DELAYS[attempts - 1]
