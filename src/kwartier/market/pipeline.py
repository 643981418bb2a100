"""Applying a large batch on SQLite on several cores: worker processes decide, one process writes.

Rules:
- the batch is applied in chunks of ``chunk`` messages in the order of the batch, one transaction each,
  as by one process (:func:`service.apply_messages`); the messages of a chunk are split by access point
  among ``workers`` worker processes (the partitions of :func:`partitions.partitions`);
- a worker reads the registry on a connection of its own (SQLite in WAL mode: a reader never waits for
  the writer), parses its messages, runs the state machines and builds the statements of their outcomes
  (:class:`bulk.Statements`: SQL text and bound rows). The main process holds the write lock from
  before anything of the chunk is read (``BEGIN IMMEDIATE``) to its commit and only runs the statements:
  SQLite has one writer at a time, and its writing is the part that cannot be shared, so the workers
  run at a lower scheduling priority (:data:`WORKER_NICENESS`) and the writer gets a core whenever it
  has work;
- pipelined: while the main process receives and writes chunk k, the workers decide chunk k+1 (each is
  told to go on to k+1 once k-1 is committed, so it starts as soon as it has sent k). A worker keeps the
  inbox answers of the message ids of its partition that it decided in the last two chunks (chunk k is
  not committed yet while k+1 is decided), and the snapshot of every access point of its partition it
  decided, up to its share of :data:`KEPT_SNAPSHOTS` (the least recently used beyond that are dropped,
  never one of the last two chunks): a kept snapshot is what the registry holds once the chunks before
  are committed, so it is not read again (at a million messages over 500,000 access points, reading
  them again cost the workers 23 s of 188 s of CPU). Every other access point and message id is read
  from the registry, where every earlier chunk is committed;
- another connection may commit between two chunks (the API, another apply). ``PRAGMA data_version`` on
  the main connection changes exactly then (its own commits do not change it). The main process reads it
  once the next chunk holds the write lock; when it changed, the workers drop what they keep and decide
  that chunk again from the registry while the lock is held (and the chunk after it, which they decided
  from the stale one), so every chunk is decided from the register as it is when the chunk is written,
  as one by one;
- a failing worker or write fails the batch: the chunk under way is rolled back, the committed chunks
  stay, and applying the batch again completes it (applied messages get their stored answers).
"""

from __future__ import annotations

import gc
import itertools
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.connection import Connection
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kwartier.market import bulk, service
from kwartier.market.processes import Readings
from kwartier.registry.database import open_registry

_log = logging.getLogger(__name__)
Answer = dict[str, Any]
Decided = tuple[list[Answer], list[bulk.Statement]]
"""A worker's answers to its messages of a chunk, in order, and the statements that write their outcomes."""


KEPT_SNAPSHOTS: Final = 1_000_000
"""Snapshots the workers keep at most by default, in all, shared equally (about 3 KB each at a million
messages over 500,000 access points: 3 GB however many workers); those of the last two chunks are kept
whatever the bound."""


WRITER_CACHE_KIB: Final = 262_144
"""The SQLite page cache of the writing process, in KiB (256 MiB; SQLite's default is 2 MiB). A chunk of
50,000 messages changes about 170 MB of table and index pages; with the default cache most of them were
written to the log and read back again before the commit. At a million messages over 500,000 access
points the writer's statements took 79 s with the default, 66 s with this cache (the commits 21 s and
24 s)."""


WORKER_NICENESS: Final = 10
"""How much lower a worker's scheduling priority is than the writing process's (Unix ``nice``). The
writer is the one stage that cannot be shared; with the workers at its own priority it got two thirds
of a core while both worked on two cores. Lower, they take what it leaves: at a million messages over
500,000 access points on two cores its statements took 43 s instead of 66 s and the replay 114 s
instead of 120 s."""


@dataclass
class _Keeper:
    """What a worker keeps between chunks: snapshots per EAN (least recently used first) and stored
    answers per message id, each with the chunk that last used it."""

    session: Session
    readings: Readings
    roles: service.Roles
    kept: int
    snapshots: dict[str, tuple[int, service.Loaded]] = field(default_factory=dict)
    answers: dict[str, tuple[int, tuple[str, Answer]]] = field(default_factory=dict)

    def decide(self, texts: Sequence[str], index: int, fresh: bool) -> Decided:
        """Decide chunk ``index`` of the worker's messages; ``fresh``: from the registry alone."""
        if fresh:
            self.snapshots.clear()
            self.answers.clear()
        else:  # chunks before index - 1 are committed: read their answers from the registry when needed
            self.answers = {key: kept for key, kept in self.answers.items() if kept[0] >= index - 1}
            self._forget(index)
        parsed = service.parse_messages(texts)
        valid = [message for message, _ in (item for item in parsed if isinstance(item, tuple))]
        seen = {key: kept[1] for key, kept in self.answers.items()}
        unknown = [message.message_id for message in valid if message.message_id not in seen]
        seen.update(service.stored_answers(self.session, unknown))
        eans = sorted({m.ean for m in valid if m.message_id not in seen})
        read = service.load_snapshots(self.session, [ean for ean in eans if ean not in self.snapshots])
        loaded = {ean: read[ean] if ean in read else self.snapshots[ean][1] for ean in eans}
        statements = bulk.Statements(self.session.get_bind().dialect)
        answers = service.decide(parsed, seen, loaded, self.readings, self.roles, statements)
        self.session.rollback()  # end the read transaction: the next chunk reads what is committed then
        for ean, item in loaded.items():
            item.loaded = item.snapshot  # stored once this chunk commits
            self.snapshots.pop(ean, None)  # to the end: the most recently used
            self.snapshots[ean] = (index, item)
        for message in valid:
            self.answers[message.message_id] = (index, seen[message.message_id])
        return answers, statements.built

    def _forget(self, index: int) -> None:
        """Drop the least recently used snapshots beyond ``kept`` before chunk ``index`` is decided, none
        used by chunk ``index - 1`` or later."""
        excess = len(self.snapshots) - self.kept
        if excess <= 0:
            return
        dropped: list[str] = []
        for ean, (last, _) in self.snapshots.items():
            if len(dropped) == excess or last >= index - 1:
                break
            dropped.append(ean)
        for ean in dropped:
            del self.snapshots[ean]


def _work(
    url: str, chunks: list[list[str]], readings: Callable[[], Readings], kept: int, pipe: Connection
) -> None:
    """A worker: decide the chunk each order names (``(index, fresh)``; None: stop) and send back what
    was decided, or the failure.

    Python's cyclic garbage collector stays off for the worker's life (one batch): resumed after each
    chunk, as :func:`service.apply_messages` does, it traversed every snapshot the worker keeps (1.1 s a
    chunk of 25,000 messages at 200,000 messages). Reference counting still frees what is dropped. The
    worker runs :data:`WORKER_NICENESS` below the writer."""
    gc.disable()
    if sys.platform != "win32":
        os.nice(WORKER_NICENESS)
    factory = open_registry(url)
    try:
        with factory() as session:
            keeper = _Keeper(session, readings(), service.Roles(session), kept)
            session.rollback()
            while (order := pipe.recv()) is not None:
                index, fresh = order
                pipe.send(("decided", keeper.decide(chunks[index], index, fresh)))
    except BaseException as error:  # every failure goes to the main process, which raises it
        try:
            pipe.send(("failed", error))
        except Exception:  # an error that cannot be pickled: its type and text
            pipe.send(("failed", RuntimeError(f"{type(error).__name__}: {error}")))
    finally:
        factory.kw["bind"].dispose()


def apply_pipelined(
    url: str,
    texts: Sequence[str],
    parts: Sequence[Sequence[int]],
    readings: Callable[[], Readings],
    *,
    chunk: int,
    kept: int = KEPT_SNAPSHOTS,
) -> list[Answer]:
    """Apply ``texts`` to the SQLite registry at ``url`` in chunks of ``chunk``, decided by one worker
    per partition of ``parts`` (positions in ``texts``, see :func:`partitions.partitions`), the workers
    keeping up to ``kept`` snapshots in all; return the answer to each."""
    count = -(-len(texts) // chunk)
    positions: list[list[list[int]]] = []  # per worker, per chunk
    for part in parts:
        if part:
            positions.append([[] for _ in range(count)])
            for position in part:
                positions[-1][position // chunk].append(position)
    if not positions:
        return []
    answers: list[Answer] = [{} for _ in texts]
    factory = open_registry(url)
    try:
        with factory() as session, _workers(url, texts, positions, readings, kept // len(positions)) as pipes:
            session.execute(sa.text(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}"))
            version = _data_version(session)
            _order(pipes, 0, fresh=False)
            for index in range(count):
                ahead = index + 1 < count
                if ahead:  # chunk index - 1 is committed: each worker goes on as soon as it sent index
                    _order(pipes, index + 1, fresh=False)
                decided = _receive(pipes)
                try:
                    service.begin_writing(session)
                    if (now := _data_version(session)) != version:  # another connection committed
                        _log.info(
                            "chunk %d: another connection committed; the workers decide it again", index
                        )
                        if ahead:  # decided from this chunk's stale decisions: dropped
                            _receive(pipes)
                        _order(pipes, index, fresh=True)
                        decided, version = _receive(pipes), now
                        if ahead:
                            _order(pipes, index + 1, fresh=False)
                    driver = session.connection().connection.driver_connection
                    for statement in itertools.chain.from_iterable(built for _, built in decided):
                        bulk.execute(driver, statement)
                except BaseException:
                    session.rollback()
                    raise
                session.commit()
                for chunks, (chunk_answers, _) in zip(positions, decided, strict=True):
                    for position, answer in zip(chunks[index], chunk_answers, strict=True):
                        answers[position] = answer
    finally:
        factory.kw["bind"].dispose()
    return answers


def _data_version(session: Session) -> int:
    """SQLite's count of commits by other connections, as seen by ``session``'s connection."""
    version: int = session.execute(sa.text("PRAGMA data_version")).scalar_one()
    return version


@contextmanager
def _workers(
    url: str,
    texts: Sequence[str],
    positions: list[list[list[int]]],
    readings: Callable[[], Readings],
    kept: int,
) -> Iterator[list[Connection]]:
    """One worker process per partition, with its messages per chunk; their pipes. On leaving, every
    worker is told to stop and waited for (stopped if it does not)."""
    context = get_context("spawn")
    pipes: list[Connection] = []
    processes = []
    try:
        for part in positions:
            mine, theirs = context.Pipe()
            chunks = [[texts[p] for p in chunk_positions] for chunk_positions in part]
            process = context.Process(target=_work, args=(url, chunks, readings, kept, theirs), daemon=True)
            process.start()
            theirs.close()
            pipes.append(mine)
            processes.append(process)
        yield pipes
    finally:
        for pipe in pipes:
            with suppress(OSError):  # a worker that failed has gone
                pipe.send(None)
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
                process.join()


def _order(pipes: Sequence[Connection], index: int, *, fresh: bool) -> None:
    """Tell every worker to decide chunk ``index``. A worker that has stopped cannot take it: the
    :func:`_receive` that follows every order reports its failure, or that it stopped."""
    for pipe in pipes:
        with suppress(OSError):
            pipe.send((index, fresh))


def _receive(pipes: Sequence[Connection]) -> list[Decided]:
    """What every worker decided, in the order of ``pipes``; a worker's failure raised."""
    decided: list[Decided] = []
    for number, pipe in enumerate(pipes):
        try:
            kind, payload = pipe.recv()
        except (EOFError, OSError):  # gone; a connection reset when an order it never read was waiting
            raise RuntimeError(f"market worker {number} stopped without an answer") from None
        if kind == "failed":
            raise payload
        decided.append(payload)
    return decided
