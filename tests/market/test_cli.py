"""``kwartier market``: apply a message file, read the register, the work queue, the blocked figures and
the outbox (no meter-data store: the digital meter's reading never comes, so the move asks for attention)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from kwartier.cli import app
from tests.market.conftest import MASTER
from tests.market.helpers import E1, STROOM, UNKNOWN

runner = CliRunner()
MOVE_IN = {
    "type": "move_in",
    "version": 1,
    "message_id": "mi1",
    "sender": STROOM,
    "received_at": "2026-01-05T09:00:00Z",
    "ean": E1,
    "customer": "C1",
    "move_date": "2026-01-05",
    "brp": STROOM,
}


def test_market_commands_on_a_message_file(tmp_path: Path) -> None:
    home = ["--home", str(tmp_path / "home")]
    assert runner.invoke(app, ["registry", "load", str(MASTER), *home]).exit_code == 0
    messages = tmp_path / "messages.jsonl"
    messages.write_text(json.dumps(MOVE_IN) + "\n{broken\n\n" + json.dumps(MOVE_IN) + "\n", encoding="utf-8")

    applied = runner.invoke(app, ["market", "apply", str(messages), *home, "--json"])
    assert applied.exit_code == 0, applied.output
    answers = json.loads(applied.stdout)
    assert [(a["line"], a["accepted"]) for a in answers] == [(1, True), (2, False), (4, True)]
    assert answers[1]["code"] == "malformed" and answers[0] | {"line": 4} == answers[2]

    state = runner.invoke(app, ["market", "state", E1, "--at", "2026-01-05", *home, "--json"])
    document = json.loads(state.stdout)
    assert (document["grid_user"], document["supplier"], document["status"]) == ("C1", STROOM, "in_process")
    before = json.loads(
        runner.invoke(app, ["market", "state", E1, "--at", "2026-01-04", *home, "--json"]).stdout
    )
    assert before["grid_user"] is None and before["status"] == "connected"
    assert runner.invoke(app, ["market", "state", UNKNOWN, *home]).exit_code == 1
    assert runner.invoke(app, ["market", "state", E1, "--at", "2026-02-30", *home]).exit_code == 2

    queue = runner.invoke(app, ["market", "queue", "--now", "2026-01-20T00:00:00Z", *home, "--json"])
    (item,) = json.loads(queue.stdout)
    assert (item["process_id"], item["reason"]) == ("mi1", "no_remote_reading")

    blocked = json.loads(
        runner.invoke(app, ["market", "blocked", "--now", "2026-01-20T00:00:00Z", *home, "--json"]).stdout
    )
    assert blocked["blocked"] == 1 and blocked["reservations_past_deadline"] == []

    outbox = json.loads(
        runner.invoke(app, ["market", "outbox", "--recipient", STROOM, *home, "--json"]).stdout
    )
    assert [m["type"] for m in outbox] == ["confirmation", "supply_started", "attention_needed"]
    text = runner.invoke(app, ["market", "blocked", "--now", "2026-01-21T00:00:00Z", *home])
    assert "reservations_past_deadline: 0" in " ".join(text.stdout.split())
    assert runner.invoke(app, ["market", "apply", str(tmp_path / "missing.jsonl"), *home]).exit_code == 1


def test_a_simulated_stream_is_deterministic_and_applies_with_some_rejections(tmp_path: Path) -> None:
    home = ["--home", str(tmp_path / "home")]
    assert runner.invoke(app, ["registry", "load", str(MASTER), *home]).exit_code == 0
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for path in (first, second):
        result = runner.invoke(
            app, ["market", "simulate", str(MASTER), "--out", str(path), "--messages", "400"]
        )
        assert result.exit_code == 0, result.output
    assert first.read_text() == second.read_text()
    answers = json.loads(runner.invoke(app, ["market", "apply", str(first), *home, "--json"]).stdout)
    assert len(answers) == 400
    codes = {answer.get("code") for answer in answers}
    assert None in codes and "malformed" in codes and len(codes) > 4


def test_apply_by_two_workers_answers_like_one_process(
    registry_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--workers 2``: on PostgreSQL two processes apply, on SQLite two decide and one writes; the
    replay by one process answers every message as the first apply did. On PostgreSQL ``registry load``
    has analysed the tables it filled (the planner's statistics), and only those."""
    monkeypatch.setenv("KWARTIER_REGISTRY_URL", registry_url)
    home = ["--home", str(tmp_path / "home")]
    assert runner.invoke(app, ["registry", "load", str(MASTER), *home]).exit_code == 0
    if registry_url.startswith("postgresql"):
        engine = sa.create_engine(registry_url)
        with engine.connect() as connection:
            query = sa.text("SELECT relname, last_analyze IS NOT NULL FROM pg_stat_user_tables")
            analysed: dict[str, bool] = {str(row[0]): bool(row[1]) for row in connection.execute(query)}
        engine.dispose()
        assert analysed["access_points"] and not analysed["register_facts"]
    stream = tmp_path / "stream.jsonl"
    simulate = ["market", "simulate", str(MASTER), "--out", str(stream), "--messages", "300"]
    assert runner.invoke(app, simulate).exit_code == 0
    apply = ["market", "apply", str(stream), *home, "--json"]
    first = json.loads(runner.invoke(app, [*apply, "--workers", "2"]).stdout)
    again = json.loads(runner.invoke(app, [*apply, "--workers", "1"]).stdout)
    assert len(first) == 300 and again == first
    assert sum(answer["accepted"] for answer in first) > 100
    assert runner.invoke(app, [*apply, "--workers", "0"]).exit_code == 2
