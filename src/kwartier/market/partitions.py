"""Applying a large batch of market messages on several cores: one partition of access points per worker.

Rules:
- messages on different access points never touch each other's state, so the batch is split by access
  point into ``workers`` partitions (CRC-32 of the EAN named in the message); a worker process applies the
  messages of its partition, in their order in the batch, with :func:`service.apply_messages` (chunks of
  one transaction each, the access points of a chunk locked) on a connection of its own; the answers come
  back in the order of the batch;
- each access point's messages are applied in order by one worker, so every access point gets the register
  facts, processes, reservations, events and outbox messages of a one-by-one apply; only the interleaving
  of different access points' rows (their generated ids) may differ, as between two chunkings;
- a message id is answered once for all access points: when one id is sent for access points of two
  partitions, the whole batch is applied by one process (the first message with the id decides, as
  one by one); a line that is not JSON, or names no EAN, cannot change anything (it is malformed) and
  goes to the first partition;
- PostgreSQL: its row locks let the workers' transactions run side by side and keep them apart from
  any other writer. SQLite has one writer at a time: there the workers decide and one process writes
  (:mod:`kwartier.market.pipeline`); an in-memory SQLite database cannot be shared, it is applied by one
  process;
- a failing worker fails the batch once every worker has stopped; what it and the others committed
  stays (whole chunks), and applying the batch again completes it: applied messages get their answers.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

import orjson
from sqlalchemy.engine import make_url

from kwartier.market import pipeline, service
from kwartier.market.processes import Readings
from kwartier.registry.database import open_registry

ReadingsFactory = Callable[[], Readings]
"""Builds the remote readings in the process that applies (a picklable callable: a worker opens its own
store connections)."""


def parallel_backend(url: str) -> bool:
    """Whether the registry at ``url`` lets several workers write at once (PostgreSQL, not SQLite)."""
    return make_url(url).get_backend_name() == "postgresql"


def _shared(url: str) -> bool:
    """Whether other processes can open the registry at ``url`` (not an in-memory SQLite database)."""
    parsed = make_url(url)
    return parsed.get_backend_name() != "sqlite" or parsed.database not in (None, "", ":memory:")


def default_workers(messages: int, cores: int | None) -> int:
    """The workers for a batch of ``messages`` on a machine with ``cores`` (None: unknown): one per core
    when the batch fills more than one chunk (:data:`service.CHUNK`), else one (a worker process takes
    about half a second to start; a chunk on one core, some seconds)."""
    return (cores or 1) if messages > service.CHUNK else 1


def partition_of(text: str, workers: int) -> tuple[int, str | None]:
    """The partition of message ``text`` among ``workers`` (by its EAN; 0 for a line that is not a JSON
    object or names no EAN) and its message id (None when it names none)."""
    document = _document(text)
    if not isinstance(document, dict):
        return 0, None
    ean, message_id = document.get("ean"), document.get("message_id")
    part = zlib.crc32(ean.encode()) % workers if isinstance(ean, str) else 0
    return part, message_id if isinstance(message_id, str) else None


def _document(text: str) -> Any:
    """The JSON value of ``text``, None when it is not JSON. By orjson (a million lines in 1.0 s against
    2.5 s, before any worker starts); by the standard library, as the message parser reads, when orjson
    refuses it (NaN, an unpaired surrogate in a string): both give the same strings."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(text)
    except ValueError:
        return None


def partitions(texts: Sequence[str], workers: int) -> list[list[int]] | None:
    """The positions of ``texts`` in each of ``workers`` partitions, in order; None when a message id is
    named in two partitions (then only a single process answers like one by one)."""
    parts: list[list[int]] = [[] for _ in range(workers)]
    owner: dict[str, int] = {}
    for position, text in enumerate(texts):
        part, message_id = partition_of(text, workers)
        if message_id is not None and owner.setdefault(message_id, part) != part:
            return None
        parts[part].append(position)
    return parts


def apply_partitioned(
    url: str, texts: Sequence[str], readings: ReadingsFactory, *, workers: int, chunk: int = service.CHUNK
) -> list[dict[str, Any]]:
    """Apply ``texts`` to the registry at ``url`` in order per access point, by ``workers`` processes
    (one process when a message id spans partitions); return the answer to each."""
    parts = partitions(texts, workers) if workers > 1 and _shared(url) else None
    if parts is None:
        return _apply(url, list(texts), readings, chunk)
    if not parallel_backend(url):
        return pipeline.apply_pipelined(url, texts, parts, readings, chunk=chunk)
    answers: list[dict[str, Any]] = [{} for _ in texts]
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = [
            (positions, pool.submit(_apply, url, [texts[p] for p in positions], readings, chunk))
            for positions in parts
            if positions
        ]
        for positions, future in futures:  # a failure raises once the pool has waited for every worker
            for position, answer in zip(positions, future.result(), strict=True):
                answers[position] = answer
    return answers


def _apply(url: str, texts: list[str], readings: ReadingsFactory, chunk: int) -> list[dict[str, Any]]:
    """Apply ``texts`` in one process, on a connection of its own."""
    factory = open_registry(url)
    try:
        with factory() as session:
            return service.apply_messages(session, texts, readings(), chunk=chunk)
    finally:
        factory.kw["bind"].dispose()
