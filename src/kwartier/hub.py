"""The state one running server shares between requests: settings, registry, store, keys, limits, clock
(issue 6). Built once by :func:`kwartier.server.create_app`; routes reach it through :func:`hub_of`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing import get_context
from typing import Final

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from kwartier.access.oidc import OidcClient
from kwartier.access.rate_limits import TokenBuckets
from kwartier.access.sealing import Sealer
from kwartier.access.usage import UsageCounter
from kwartier.config import Settings
from kwartier.store.pseudonym import Pseudonymiser
from kwartier.store.store import MeterStore

API_RATE_PER_SECOND: Final = 50.0
API_BURST: Final = 100
EXPORT_RATE_PER_SECOND: Final = 1 / 60  # one history export per client per minute, burst 5
EXPORT_BURST: Final = 5
WEBHOOK_QUEUED: Final = "kwartier.webhook_queued"  # set in a session by kwartier.access.events


def utc_now() -> datetime:
    """The current instant in UTC (the default clock)."""
    return datetime.now(UTC)


def _export_lane() -> Executor:
    """One worker process at the lowest CPU priority (:mod:`kwartier.exposure.export_jobs`)."""
    from kwartier.exposure.export_jobs import lower_priority  # noqa: PLC0415 - avoids an import cycle

    return ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"), initializer=lower_priority)


@dataclass
class Hub:
    """What the portal and the API share while the server runs."""

    settings: Settings
    sessions: sessionmaker[Session]
    sealer: Sealer
    store: MeterStore
    pseudonymiser: Pseudonymiser
    clock: Callable[[], datetime] = utc_now
    api_limits: TokenBuckets = field(default_factory=lambda: TokenBuckets(API_RATE_PER_SECOND, API_BURST))
    export_limits: TokenBuckets = field(
        default_factory=lambda: TokenBuckets(EXPORT_RATE_PER_SECOND, EXPORT_BURST)
    )
    usage: UsageCounter = field(default_factory=UsageCounter)
    export_lane: Executor = field(default_factory=_export_lane)
    oidc: OidcClient | None = None  # an OpenID Connect provider for portal sign-in, when configured
    wake: Callable[[], None] = field(default=lambda: None)  # the background loop's wake-up, once running

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A registry session committed on success, rolled back on error; a committed webhook event
        wakes the background loop, so the provider hears of a change at once."""
        with self.sessions() as session:
            with session.begin():
                yield session
            if session.info.pop(WEBHOOK_QUEUED, False):
                self.wake()

    def now(self) -> datetime:
        """The current instant of the server's clock."""
        return self.clock()


def hub_of(request: Request) -> Hub:
    """The :class:`Hub` of the application serving ``request``."""
    hub: Hub = request.app.state.hub
    return hub


async def current_hub(request: Request) -> Hub:
    """:func:`hub_of` as a FastAPI dependency: a coroutine, because FastAPI runs a plain function
    dependency on a worker thread, and this one only reads an attribute."""
    return hub_of(request)
