"""Remote readings for the pipelined apply's test, built in each worker process: the first reading asked
for one access point on or after one day also applies a message of another sender to the registry, on a
connection of its own and committed at once (as the API would while a batch is applied)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from kwartier.market import service
from kwartier.market.processes import Index, Readings
from kwartier.registry.database import open_registry
from tests.market.crash_apply import reading


@dataclass(frozen=True)
class ForeignWriter:
    """Builds the readings (picklable: a worker process calls it once)."""

    url: str
    ean: str
    day: date
    text: str

    def __call__(self) -> Readings:
        done = False

        def read(ean: str, day: date) -> Index | None:
            nonlocal done
            if not done and ean == self.ean and day >= self.day:
                done = True  # once: the worker may decide the same messages again
                factory = open_registry(self.url)
                try:
                    with factory() as session:
                        service.apply_message(session, self.text, reading)
                finally:
                    factory.kw["bind"].dispose()
            return reading(ean, day)

        return read
