"""Applying a batch by several worker processes, one partition of access points each (PostgreSQL: each
worker writes; SQLite: the workers decide, one process writes): the same answers and the same register,
processes, events, reservations, inbox and per-access-point outbox as one process applying the batch in
order."""

from __future__ import annotations

import json
import logging
import os
import signal
import zlib
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from kwartier.market import pipeline, service
from kwartier.market.partitions import (
    apply_partitioned,
    default_workers,
    parallel_backend,
    partition_of,
    partitions,
)
from kwartier.market.processes import Index, Readings, Snapshot
from tests.market.crash_apply import reading, readings
from tests.market.foreign_writer import ForeignWriter
from tests.market.helpers import E1, E2, E3
from tests.market.test_chunks import CHUNK, _clear, _dump, _stream


def _part(ean: str) -> int:
    return zlib.crc32(ean.encode()) % 2


def test_the_partition_of_a_message_is_that_of_its_ean_and_unreadable_lines_go_to_the_first() -> None:
    message = json.dumps({"message_id": "m1", "ean": E3, "type": "switch_request"})
    assert partition_of(message, 2) == (_part(E3), "m1")
    assert partition_of("{not json", 2) == (0, None)
    assert partition_of("[1, 2]", 2) == (0, None)
    assert partition_of(json.dumps({"message_id": 7, "ean": 12}), 2) == (0, None)
    assert partition_of(json.dumps({"message_id": "m2"}), 5) == (0, "m2")
    # what Python's JSON reader takes and orjson refuses still goes with its EAN
    assert partition_of(f'{{"message_id": "m3", "ean": "{E3}", "note": NaN}}', 2) == (_part(E3), "m3")
    assert partition_of(f'{{"message_id": "m4", "ean": "{E3}", "note": "\\ud800"}}', 2) == (_part(E3), "m4")


def test_partitions_keep_the_order_and_a_message_id_on_two_partitions_gives_none() -> None:
    assert _part(E1) != _part(E3)
    texts = [
        json.dumps({"message_id": "a", "ean": E1}),
        json.dumps({"message_id": "b", "ean": E3}),
        "{not json",
        json.dumps({"message_id": "a", "ean": E2}),  # the same id again, same partition as E1
        json.dumps({"message_id": "c", "ean": E3}),
    ]
    parts = partitions(texts, 2)
    assert parts is not None
    assert parts[_part(E1)] == [0, 2, 3] and parts[_part(E3)] == [1, 4]
    texts.append(json.dumps({"message_id": "b", "ean": E1}))
    assert partitions(texts, 2) is None


def _url(market: sessionmaker[Session]) -> str:
    url: str = market.kw["bind"].url.render_as_string(hide_password=False)
    return url


def _as_one_process(market: sessionmaker[Session], texts: list[str]) -> list[dict[str, Any]]:
    """The answers of one process applying ``texts`` to emptied market tables, which it must leave as
    they are now (every table, see :func:`tests.market.test_chunks._dump`)."""
    with market() as session:
        now = _dump(session)
        _clear(session)
        answers = service.apply_messages(session, texts, reading, chunk=CHUNK)
        assert _dump(session) == now
    return answers


@pytest.mark.parametrize("reuse_across_partitions", [False, True])
def test_two_workers_give_what_one_process_gives(
    market: sessionmaker[Session], reuse_across_partitions: bool
) -> None:
    """On PostgreSQL two processes write side by side; on SQLite two decide and one writes. A message id
    reused on an access point of the other partition makes one process apply the batch. Each worker
    applies several chunks."""
    texts = _stream()
    if reuse_across_partitions:
        first = json.loads(texts[3])
        other = E3 if _part(first["ean"]) != _part(E3) else E1
        texts.insert(60, json.dumps(first | {"ean": other}))
        assert partitions(texts, 2) is None
    else:
        parts = partitions(texts, 2)
        assert parts is not None and all(len(part) > CHUNK for part in parts)
    url = _url(market)
    partitioned = apply_partitioned(url, texts, readings, workers=2, chunk=CHUNK)
    assert partitioned == _as_one_process(market, texts)
    assert {"malformed", "duplicate_message_id"} <= {answer.get("code") for answer in partitioned}


def _failing_readings() -> Readings:
    def failing(ean: str, day: date) -> Index | None:
        if ean == E3 and day >= date(2026, 5, 1):
            raise RuntimeError(f"the store is unreachable for {ean}")
        return reading(ean, day)

    return failing


def _killing_readings() -> Readings:
    def killing(ean: str, day: date) -> Index | None:
        if ean == E3 and day >= date(2026, 5, 1):
            os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's out-of-memory killer would
        return reading(ean, day)

    return killing


@pytest.mark.parametrize(
    "registry_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
@pytest.mark.parametrize("killed", [False, True])
def test_a_failing_worker_fails_the_batch_and_applying_it_again_completes_it(
    market: sessionmaker[Session], killed: bool
) -> None:
    """The worker of E3 fails in a later chunk: it raises, or it is killed. What was committed stays,
    whole chunks: on SQLite the chunks before the failing one (every access point's messages in them);
    on PostgreSQL each worker's chunks, and when the failing worker raised, the other worker finished
    (a killed one breaks the process pool, which stops the other at once, between or inside chunks).
    The second run answers what was committed from the inbox and applies the rest."""
    url = _url(market)
    texts = _stream()
    failing = _killing_readings if killed else _failing_readings
    error = "without an answer|terminated abruptly" if killed else "unreachable"
    with pytest.raises(RuntimeError, match=error):
        apply_partitioned(url, texts, failing, workers=2, chunk=CHUNK)
    with market() as session:
        applied = set(session.scalars(sa.text("SELECT message_id FROM market_inbox")))
    last = {document["ean"]: document["message_id"] for document in map(json.loads, texts[-40:])}
    assert last[E3] not in applied
    if parallel_backend(url):
        assert killed or last[E1] in applied  # a killed worker may stop the other before its last chunk
    else:  # the first chunk, E1's move-in with it, was committed before E3's worker failed
        assert json.loads(texts[0])["ean"] == E1 and json.loads(texts[0])["message_id"] in applied
    again = apply_partitioned(url, texts, readings, workers=2, chunk=CHUNK)
    assert again == _as_one_process(market, texts)


@pytest.mark.parametrize("registry_url", ["sqlite"], indirect=True)
def test_on_sqlite_a_commit_of_another_connection_between_two_chunks_is_seen_by_the_next(
    market: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    """The workers decide chunk k+1 while chunk k is received and written, from what they keep of their
    access points; another connection commits a move-in on E1 in between (applied from inside a worker,
    while it decides chunk 2, that of E1's index of 15 May). The first chunk not yet being written when
    it commits is decided again from the registry (chunk 2, or chunk 1 when the move-in commits before
    chunk 1 is begun), with the chunk after it, so the batch ends as one process applying the move-in
    before that chunk; without deciding it again the workers' snapshots of E1 would miss it (the write
    then fails on a process step stored twice)."""
    url = _url(market)
    texts = _stream()
    foreign = json.loads(texts[112]) | {"message_id": "from-the-api"}
    caplog.set_level(logging.INFO, logger="kwartier.market.pipeline")
    writer = ForeignWriter(url, E1, date(2026, 5, 15), json.dumps(foreign))
    answers = apply_partitioned(url, texts, writer, workers=2, chunk=CHUNK)
    again = [record.args for record in caplog.records if "decide it again" in record.getMessage()]
    assert again in ([(1,)], [(2,)])
    cut = (1 if again == [(1,)] else 2) * CHUNK
    one_by_one = _as_one_process(market, [*texts[:cut], json.dumps(foreign), *texts[cut:]])
    assert one_by_one[cut]["accepted"], one_by_one[cut]
    assert answers == one_by_one[:cut] + one_by_one[cut + 1 :]


@pytest.mark.parametrize("registry_url", ["sqlite"], indirect=True)
def test_workers_keeping_one_snapshot_each_read_the_others_again_from_the_registry(
    market: sessionmaker[Session],
) -> None:
    """E1 and E2 share a partition. Their first messages, then two chunks and more of the other
    messages, then their other messages: a worker that keeps one snapshot drops E1's or E2's in the
    middle and reads it again from the registry, and keeps both while both are in the last two chunks
    (the registry does not hold the last chunk yet): the same as one process."""
    texts = _stream()
    assert _part(E1) == _part(E2) != _part(E3)
    ours = [text for text in texts if f'"{E1}"' in text or f'"{E2}"' in text]
    assert all(json.loads(text)["ean"] in (E1, E2) for text in ours)
    middle = [text for text in texts if text not in ours]
    chunk = 30
    assert len(middle) >= 2 * chunk
    texts = ours[: len(ours) // 3] + middle + ours[len(ours) // 3 :]
    parts = partitions(texts, 2)
    assert parts is not None
    answers = pipeline.apply_pipelined(_url(market), texts, parts, readings, chunk=chunk, kept=2)
    assert answers == _as_one_process(market, texts)


def test_a_worker_forgets_the_least_recently_used_snapshots_but_none_of_the_last_two_chunks(
    market: sessionmaker[Session],
) -> None:
    with market() as session:
        keeper = pipeline._Keeper(session, reading, service.Roles(session), kept=2)
        for ean, last in (("a", 0), ("b", 1), ("c", 2), ("d", 3)):
            snapshot = Snapshot(ean, known=False)
            keeper.snapshots[ean] = (last, service.Loaded(snapshot, False, snapshot))
        keeper._forget(3)  # c (chunk 2) is not committed yet while chunk 3 is decided
        assert list(keeper.snapshots) == ["c", "d"]
        keeper.kept = 1
        keeper._forget(3)
        assert list(keeper.snapshots) == ["c", "d"]
        keeper._forget(4)
        assert list(keeper.snapshots) == ["d"]


def test_an_empty_batch_has_no_answers(market: sessionmaker[Session]) -> None:
    assert apply_partitioned(_url(market), [], readings, workers=2, chunk=CHUNK) == []


def test_by_default_a_batch_of_more_than_one_chunk_takes_one_worker_per_core() -> None:
    assert default_workers(service.CHUNK, 8) == 1
    assert default_workers(service.CHUNK + 1, 8) == 8
    assert default_workers(10**6, None) == 1  # the number of cores is unknown
