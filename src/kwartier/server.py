"""The web application: the customer portal and the API for energy service providers together (issue 6).

``create_app`` builds one FastAPI application: ``/api/v1`` (JSON, OpenAPI at ``/api/v1/openapi.json``,
interactive docs at ``/api/v1/docs``), the portal at ``/`` (server-rendered HTML) and its assets under
``/static`` (served by the application itself, no CDN). ``kwartier serve`` runs it with uvicorn.
"""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import anyio.to_thread
from fastapi import FastAPI

from kwartier import __version__
from kwartier.access.oidc import OidcClient, oidc_settings
from kwartier.access.sealing import Sealer
from kwartier.api import routes as api_routes
from kwartier.background import Background
from kwartier.config import Settings, load_settings
from kwartier.hub import Hub, utc_now
from kwartier.portal import install_portal
from kwartier.registry.database import open_registry, upgrade
from kwartier.store.pseudonym import Pseudonymiser
from kwartier.store.store import MeterStore

REQUEST_THREADS = 2
"""Request threads per worker process by default (anyio's default is 40; ``kwartier serve --threads``).
The GIL runs one thread of a process at a time, so few threads per worker answer the most: on a 2-core
machine with two workers, a month of daily values per request (``bench.api``) went 8 threads 280/s,
4 threads 285–309/s, 2 threads 306–314/s. Raise it where requests wait on a remote registry."""
THREADS_VARIABLE = "KWARTIER_REQUEST_THREADS"


def build_hub(settings: Settings, clock: Callable[[], datetime] = utc_now) -> Hub:
    """The shared state of a server on ``settings`` (registry brought to the newest schema)."""
    settings.home.mkdir(parents=True, exist_ok=True)
    upgrade(settings.registry_url)
    return Hub(
        settings=settings,
        sessions=open_registry(settings.registry_url),
        sealer=Sealer.from_settings(settings),
        store=MeterStore.open(settings.store_dir),
        pseudonymiser=Pseudonymiser.from_key_file(settings.pseudonym_key_file),
        clock=clock,
        oidc=None if (provider := oidc_settings()) is None else OidcClient(provider),
    )


def create_app(
    settings: Settings, *, clock: Callable[[], datetime] = utc_now, threads: int = REQUEST_THREADS
) -> FastAPI:
    """The portal and the API of the data home in ``settings``, ``threads`` request threads per process."""
    hub = build_hub(settings, clock)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # few threads per worker: the GIL runs one at a time, and a short queue keeps answers in order
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        # what start-up built lives as long as the process: out of the collector's full passes
        gc.freeze()
        background = Background(hub)
        hub.wake = background.wake
        background.start()
        try:
            yield
        finally:
            background.stop()
            hub.export_lane.shutdown(wait=False, cancel_futures=True)
            gc.unfreeze()  # collectable again, as everything else at exit

    app = FastAPI(
        title="kwartier",
        version=__version__,
        summary="Meter data for grid users and, under their mandate, energy service providers.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.hub = hub
    app.include_router(api_routes.router, prefix="/api/v1")
    install_portal(app)  # the portal's pages at /, its assets at /static
    return app


def app_from_environment() -> FastAPI:
    """:func:`create_app` on the settings of the environment (uvicorn's factory for several workers)."""
    return create_app(load_settings(), threads=int(os.environ.get(THREADS_VARIABLE, REQUEST_THREADS)))
