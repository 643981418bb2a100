"""Chunked application of market messages (SQLite and PostgreSQL): a chunk is one transaction and gives
what one message per transaction gives, whatever mix of good, rejected, malformed and repeated messages
it holds; a crash in the middle of a chunk keeps the chunks committed before it, leaves nothing of its
own, and the re-run completes the stream with no message lost or applied twice."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from kwartier.market import service
from kwartier.market.stream import market_of, market_stream
from tests.conftest import REPO
from tests.market.conftest import MASTER
from tests.market.crash_apply import reading
from tests.market.helpers import E1, E2, STROOM, UNKNOWN

START = date(2026, 1, 5)
CHUNK = 40
MARKET_TABLES = (
    "process_events",
    "reservations",
    "market_outbox",
    "market_inbox",
    "register_facts",
    "market_processes",
)


def _stream() -> list[str]:
    """240 messages of the simulated stream on the three test access points (many per access point in
    every chunk, about 3 % faulty), with repeats, a reused id, a malformed line and an unknown EAN."""
    texts = market_stream(market_of(MASTER), 240, START)
    reused = json.loads(texts[10]) | {"customer": "someone-else"}
    unknown = json.loads(texts[20]) | {"message_id": "unknown-ean", "ean": UNKNOWN}
    switch = {
        "type": "switch_request",
        "version": 1,
        "message_id": "in-chunk-switch",
        "sender": STROOM,
        "received_at": json.loads(texts[30])["received_at"],
        "ean": E2,
        "customer": "C1",
        "consent_date": START.isoformat(),
        "effective_date": (START + timedelta(days=40)).isoformat(),
        "brp": STROOM,
    }
    extras = [texts[5], json.dumps(reused), "{not json", json.dumps(unknown), json.dumps(switch), texts[31]]
    return texts[:35] + extras + texts[35:]


def _dump(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every market table without generated ids, in an order that does not depend on the chunking; and
    the outbox as each recipient reads it per access point (in id order)."""
    queries = {
        "register_facts": "SELECT ean, attribute, value, valid_from, recorded_at, process_id, source "
        "FROM register_facts ORDER BY ean, id",
        "market_processes": "SELECT * FROM market_processes ORDER BY id",
        "process_events": "SELECT process_id, step, at, from_state, to_state, note, message_id "
        "FROM process_events ORDER BY process_id, step",
        "reservations": "SELECT * FROM reservations ORDER BY process_id",
        "market_outbox": "SELECT message_id, type, version, recipient, ean, process_id, created_at, payload "
        "FROM market_outbox ORDER BY message_id",
        "outbox_order": "SELECT recipient, ean, message_id FROM market_outbox ORDER BY recipient, ean, id",
        "market_inbox": "SELECT * FROM market_inbox ORDER BY message_id",
    }
    connection = session.connection()
    return {name: [tuple(row) for row in connection.exec_driver_sql(sql)] for name, sql in queries.items()}


def _clear(session: Session) -> None:
    for table in MARKET_TABLES:
        session.execute(sa.text(f"DELETE FROM {table}"))
    session.commit()


@pytest.mark.parametrize("flush_every", [service._FLUSH_EVERY, 7])
def test_one_chunk_of_good_rejected_malformed_and_repeated_messages_equals_one_per_transaction(
    market: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, flush_every: int
) -> None:
    """Also when the chunk's rows go to the database in many small batches (a process inserted by one
    batch and changed in a later one, master facts stored in the middle of the chunk)."""
    monkeypatch.setattr(service, "_FLUSH_EVERY", flush_every)
    texts = _stream()
    with market() as session:
        chunked = service.apply_messages(session, texts, reading, chunk=len(texts))
        in_one_chunk = _dump(session)
        _clear(session)
        one_by_one = [service.apply_message(session, text, reading) for text in texts]
        assert _dump(session) == in_one_chunk
    assert chunked == one_by_one
    codes = {answer.get("code") for answer in chunked}
    assert {None, "malformed", "duplicate_message_id", "unknown_ean", "customer_mismatch"} <= codes
    assert sum(answer["accepted"] for answer in chunked) > len(texts) // 3
    assert {E1, E2} <= {row[0] for row in in_one_chunk["register_facts"]}


def test_a_crash_in_the_middle_of_a_chunk_keeps_earlier_chunks_and_the_rerun_loses_and_repeats_nothing(
    market: sessionmaker[Session], tmp_path: Path
) -> None:
    texts = _stream()
    messages = tmp_path / "messages.jsonl"
    messages.write_text("\n".join(texts) + "\n", encoding="utf-8")
    url = market.kw["bind"].url.render_as_string(hide_password=False)
    crash_day = START + timedelta(days=180)
    child = subprocess.run(
        [sys.executable, "-m", "tests.market.crash_apply", url, str(messages), str(CHUNK), str(crash_day)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr
    with market() as session:
        kept = {row[0] for row in session.execute(sa.text("SELECT message_id FROM market_inbox"))}
        ids = [_message_id(text) for text in texts]
        whole_chunks = [{i for i in ids[:end] if i} for end in range(CHUNK, len(texts), CHUNK)]
        assert kept in whole_chunks[1:-1]  # some chunks committed, the crashed one left no message
        assert len(whole_chunks) > 3
        rerun = service.apply_messages(session, texts, reading, chunk=CHUNK)
        after_rerun = _dump(session)
        _clear(session)
        clean = service.apply_messages(session, texts, reading, chunk=CHUNK)
        assert _dump(session) == after_rerun
    assert rerun == clean


def _message_id(text: str) -> str | None:
    """The id of a message that has one (a malformed line has none and never reaches the inbox)."""
    try:
        return str(json.loads(text)["message_id"])
    except (ValueError, KeyError):
        return None


_ORPHANS = {
    "facts of an unknown access point": "SELECT count(*) FROM register_facts f"
    " WHERE NOT EXISTS (SELECT 1 FROM access_points a WHERE a.ean = f.ean)",
    "facts of an access point without a process": "SELECT count(*) FROM register_facts f"
    " WHERE NOT EXISTS (SELECT 1 FROM market_processes p WHERE p.ean = f.ean)",
    "events of an unknown process": "SELECT count(*) FROM process_events e"
    " WHERE NOT EXISTS (SELECT 1 FROM market_processes p WHERE p.id = e.process_id)",
}


def test_the_append_only_logs_name_only_stored_access_points_and_processes(
    market: sessionmaker[Session],
) -> None:
    """The register facts and process events carry no foreign key (``registry.access_register``): every
    fact names a stored access point that has a market process (whose foreign key keeps the access point),
    every event a stored process; after a stream with faults and an unknown EAN, and the clock run on."""
    with market() as session:
        service.apply_messages(session, _stream(), reading, chunk=CHUNK)
        later = datetime.combine(START + timedelta(days=400), time(12), tzinfo=UTC)
        service.tick(session, later, reading)
        counts = {name: session.execute(sa.text(query)).scalar_one() for name, query in _ORPHANS.items()}
        assert counts == dict.fromkeys(_ORPHANS, 0)
        assert session.execute(sa.text("SELECT count(*) FROM register_facts")).scalar_one() > 0
        assert session.execute(sa.text("SELECT count(*) FROM process_events")).scalar_one() > 0
