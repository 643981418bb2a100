"""Scenario tests: ``scenarios/given_<situation>_when_<event>/`` run by one generic test on SQLite and
PostgreSQL (the layout of Energinet DataHub's scenario tests, design.md).

A scenario folder holds:
- ``given/messages.jsonl``: messages that build the situation; each must be accepted;
- ``readings.json``: the meter's remote readings, ``{ean: {day: index}}`` (a day missing: no reading);
- ``when/NN_*.json``: the messages under test in order, or ``{"tick": instant}`` to advance the clock;
- ``then/answers.json``: the answer to each ``when`` item;
- ``then/outbox.json``: every outbox message the ``when`` items produced, exactly (none missing, none
  extra; order-insensitive: sorted by recipient, type and message id);
- ``then/state.json``: the register of each access point of the scenario, on the market day of the last
  ``when`` item, with the full history of every attribute; ``then/queue.json``: the work queue at the end.

``KWARTIER_WRITE_SCENARIOS=1`` writes the ``then`` files instead of comparing (review the diff!).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from kwartier.market import service
from kwartier.market.register import market_day
from tests.market.helpers import Readings

SCENARIOS = Path(__file__).parent / "scenarios"
WRITE = os.environ.get("KWARTIER_WRITE_SCENARIOS") == "1"


def _readings(folder: Path) -> Readings:
    document = json.loads((folder / "readings.json").read_text(encoding="utf-8"))
    return Readings(
        {
            (ean, date.fromisoformat(day)): index
            for ean, days in document.items()
            for day, index in days.items()
        }
    )


def _outbox_sorted(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        ({k: v for k, v in message.items() if k != "id"} for message in messages),
        key=lambda message: (message["recipient"], message["type"], message["message_id"]),
    )


def _check(folder: Path, name: str, actual: Any) -> None:
    path = folder / "then" / name
    if WRITE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(actual, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert actual == expected, f"{folder.name}/then/{name}"


@pytest.mark.parametrize("folder", sorted(SCENARIOS.iterdir()), ids=lambda folder: folder.name)
def test_scenario(market: sessionmaker[Session], folder: Path) -> None:
    readings = _readings(folder)
    eans: set[str] = set()
    with market() as session:
        for line in (folder / "given" / "messages.jsonl").read_text(encoding="utf-8").splitlines():
            eans.add(json.loads(line)["ean"])
            answer = service.apply_message(session, line, readings)
            assert answer["accepted"], answer
        first = max((message["id"] for message in service.outbox(session, limit=100_000)), default=0)
        answers: list[dict[str, Any]] = []
        now = datetime.min.replace(tzinfo=UTC)
        for path in sorted((folder / "when").glob("*.json")):
            text = path.read_text(encoding="utf-8")
            document = json.loads(text)
            if "tick" in document:
                now = datetime.fromisoformat(document["tick"])
                answers.append({"tick": document["tick"], "changed": service.tick(session, now, readings)})
                continue
            eans.add(document["ean"])
            now = datetime.fromisoformat(document["received_at"])
            answers.append(service.apply_message(session, text, readings))
        _check(folder, "answers.json", answers)
        _check(folder, "outbox.json", _outbox_sorted(service.outbox(session, after=first, limit=100_000)))
        day = market_day(now)
        states = {ean: service.register_state(session, ean, day) for ean in sorted(eans)}
        _check(folder, "state.json", states)
        _check(folder, "queue.json", service.work_queue(session))
