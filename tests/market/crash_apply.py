"""Child process of the chunk crash test: applies a stream of market messages in chunks and kills itself
(SIGKILL: no rollback, no clean-up) while building the chunk whose messages reach ``crash_day``.

``python -m tests.market.crash_apply URL MESSAGES.jsonl CHUNK CRASH_DAY``
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import date
from pathlib import Path

from kwartier.market import service
from kwartier.market.processes import Readings
from kwartier.registry.database import open_registry


def reading(ean: str, day: date) -> dict[str, int]:
    """A remote reading for every access point and day (the same function as the test's clean run)."""
    return {"offtake/day": int(ean[-6:]) + day.toordinal()}


def readings() -> Readings:
    """:func:`reading`, built in the process that applies (what the partitioned apply asks for)."""
    return reading


def main(url: str, messages: Path, chunk: int, crash_day: date) -> None:
    texts = messages.read_text(encoding="utf-8").splitlines()

    def crashing(ean: str, day: date) -> dict[str, int]:
        if day >= crash_day:
            print("crashing", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        return reading(ean, day)

    with open_registry(url)() as session:
        service.apply_messages(session, texts, crashing, chunk=chunk)
    print("finished without crashing", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), date.fromisoformat(sys.argv[4]))
