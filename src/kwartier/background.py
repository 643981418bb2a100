"""The server's background work (issue 6): webhook deliveries at once and on their retry schedule, API
usage counts flushed, mandates expired and reminded, old export files deleted.

One daemon thread loops every :data:`TICK` seconds, and at once when :meth:`Background.wake` is called
(after a mandate changed); each step's failure is logged and does not stop the others.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

import httpx

from kwartier.access.events import deliver_due
from kwartier.access.mandate_service import sweep
from kwartier.exposure.export_jobs import purge_exports
from kwartier.hub import Hub

TICK: Final = 1.0
SWEEP_EVERY: Final = timedelta(minutes=1)
log = logging.getLogger(__name__)


class Background:
    """The background thread of one server."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kwartier-background", daemon=True)
        self._http = httpx.Client()
        self._last_sweep: datetime | None = None

    def start(self) -> None:
        """Start the loop."""
        self._thread.start()

    def wake(self) -> None:
        """Run a round now (a mandate changed: its webhook goes out at once)."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the current round, flush the usage counts and stop."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=15)
        self.hub.usage.flush(self.hub.sessions)
        self._http.close()

    def run_once(self) -> None:
        """One round of every step."""
        hub, now = self.hub, self.hub.now()
        steps: list[tuple[str, Callable[[], object]]] = [
            ("webhooks", lambda: deliver_due(hub.sessions, hub.sealer, self._http, now))
        ]
        steps.append(("usage", lambda: hub.usage.flush(hub.sessions)))
        if self._last_sweep is None or now - self._last_sweep >= SWEEP_EVERY:
            self._last_sweep = now
            steps.append(("mandates", lambda: _sweep(hub, now)))
            steps.append(("exports", lambda: purge_exports(hub, now)))
        for name, step in steps:
            try:
                step()
            except Exception:  # one failing step must not stop the loop
                log.exception("background step %s failed", name)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(TICK)
            self._wake.clear()
            self.run_once()


def _sweep(hub: Hub, now: datetime) -> int:
    with hub.transaction() as session:
        counts = sweep(session, now)
    return sum(counts.values())
