"""Benchmark of the supply market (issue 3): replay N market messages over M access points, on SQLite and
PostgreSQL; prints a table or JSON.

``python -m bench.market [--access-points 500000] [--messages 1000000] [--backend sqlite|postgresql]
[--workers N]``

The registry gets M electricity access points with a digital meter, SMR1 and a capacity (bulk insert, not
timed). The stream is :func:`kwartier.market.stream.market_stream` (the one ``kwartier market simulate``
writes): a move-in per access point, then switches, moves, regime changes and PV registrations over a
year, about 3 % faulty. Remote readings come from
a function (the store's read per message is not part of this figure). Timed: the code of ``kwartier market
apply`` (:func:`kwartier.market.partitions.apply_partitioned`) on the whole stream (the replay), then on the
same stream again (every message already applied: idempotent), by ``--workers`` processes (default: one
per core): on PostgreSQL each writes its partition, on SQLite they decide and one process writes; the
building of the registry and the stream is timed apart, and the 1-minute load average before and after
the replays is reported (other work on the machine slows the figures down).
PostgreSQL: ``KWARTIER_TEST_POSTGRES_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``)
names the server; the benchmark creates and drops its own database there.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from kwartier.domain.ean import check_digit, with_check_digit
from kwartier.market import partitions
from kwartier.market.processes import Readings
from kwartier.market.stream import Market, market_stream
from kwartier.registry.access_points import AccessPoint, ConnectionCapacity, GridArea, MeasurementRegime
from kwartier.registry.database import open_registry, upgrade
from kwartier.registry.meters import Meter, MeterInstallation
from kwartier.registry.parties import Party, PartyRoleAssignment

OUT = Path(__file__).resolve().parent / "out"
START = date(2026, 1, 1)
LOADED = datetime(2025, 12, 1, tzinfo=UTC)


def _gln(number: int) -> str:
    payload = f"541449910{number:03d}"
    return payload + str(check_digit(payload))


SUPPLIERS = [_gln(n) for n in range(1, 9)]
BRP = _gln(100)
DSO = _gln(200)


def ean_of(number: int) -> str:
    """EAN-18 of access point ``number``."""
    return with_check_digit(f"541448830{number:08d}")


def build_registry(url: str, access_points: int) -> None:
    """A migrated registry with the parties and ``access_points`` access points (bulk insert)."""
    upgrade(url)
    factory = open_registry(url)
    with factory() as session, session.begin():
        session.add(GridArea(code="GA1", name="Bench"))
        parties = [(code, "supplier") for code in SUPPLIERS] + [(BRP, "brp"), (DSO, "dso")]
        for number, (code, role) in enumerate(parties, start=1):
            session.execute(sa.insert(Party), [{"id": number, "code": code, "name": code}])
            session.execute(
                sa.insert(PartyRoleAssignment),
                [{"party_id": number, "role": role, "valid_from": date(2003, 7, 1), "valid_to": None}],
            )
        for start in range(0, access_points, 50_000):
            numbers = range(start, min(start + 50_000, access_points))
            session.execute(
                sa.insert(AccessPoint),
                [
                    {
                        "ean": ean_of(n),
                        "energy": "electricity",
                        "grid_area": "GA1",
                        "connected_from": date(2020, 1, 1),
                        "created_at": LOADED,
                    }
                    for n in numbers
                ],
            )
            session.execute(
                sa.insert(Meter),
                [
                    {"id": n + 1, "serial": f"M{n}", "kind": "digital", "energy": "electricity"}
                    for n in numbers
                ],
            )
            session.execute(
                sa.insert(MeterInstallation),
                [
                    {"ean": ean_of(n), "meter_id": n + 1, "valid_from": date(2020, 1, 1), "valid_to": None}
                    for n in numbers
                ],
            )
            session.execute(
                sa.insert(MeasurementRegime),
                [
                    {"ean": ean_of(n), "regime": "SMR1", "valid_from": date(2020, 1, 1), "valid_to": None}
                    for n in numbers
                ],
            )
            session.execute(
                sa.insert(ConnectionCapacity),
                [
                    {
                        "ean": ean_of(n),
                        "capacity": 9.2,
                        "unit": "kVA",
                        "valid_from": date(2020, 1, 1),
                        "valid_to": None,
                    }
                    for n in numbers
                ],
            )
    factory.kw["bind"].dispose()


def stream(access_points: int, messages: int) -> list[str]:
    """The stream of :func:`kwartier.market.stream.market_stream` over the benchmark's access points."""
    eans = [ean_of(n) for n in range(access_points)]
    serials = [f"M{n}" for n in range(access_points)]
    market = Market(eans, [True] * access_points, serials, SUPPLIERS, BRP, DSO)
    return market_stream(market, messages, START)


def _reading(ean: str, day: date) -> dict[str, int]:
    return {"offtake/day": (int(ean[-9:-1]) * 7 + day.toordinal() * 11) % 10_000_000}


def _readings() -> Readings:
    return _reading


def run(backend: str, access_points: int, messages: int, workers: int) -> dict[str, Any]:
    """Build the registry, replay the stream, replay it again; the figures."""
    OUT.mkdir(parents=True, exist_ok=True)
    admin = None
    if backend == "sqlite":
        folder = OUT / "market"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        url = f"sqlite:///{folder / 'registry.sqlite'}"
    else:
        server = make_url(
            os.environ.get(
                "KWARTIER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
            )
        )
        name = f"kwartier_bench_{secrets.token_hex(4)}"
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = server.set(database=name).render_as_string(hide_password=False)
    try:
        started = time.perf_counter()
        build_registry(url, access_points)
        lines = stream(access_points, messages)
        built = time.perf_counter() - started
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        answers = partitions.apply_partitioned(url, lines, _readings, workers=workers, chunk=50_000)
        replay = time.perf_counter() - started
        started = time.perf_counter()
        again = partitions.apply_partitioned(url, lines, _readings, workers=workers, chunk=50_000)
        idempotent = time.perf_counter() - started
        load_after = os.getloadavg()[0]
        assert again == answers
        factory = open_registry(url)
        with factory() as session:
            facts = session.execute(sa.text("SELECT count(*) FROM register_facts")).scalar_one()
            outbox = session.execute(sa.text("SELECT count(*) FROM market_outbox")).scalar_one()
        factory.kw["bind"].dispose()
    finally:
        if admin is not None:
            with admin.connect() as connection:
                connection.execute(
                    sa.text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
                )
            admin.dispose()
    accepted = sum(1 for answer in answers if answer["accepted"])
    return {
        "backend": backend,
        "access_points": access_points,
        "messages": len(lines),
        "workers": workers,
        "accepted": accepted,
        "rejected": len(lines) - accepted,
        "build_s": round(built, 1),
        "replay_s": round(replay, 1),
        "messages_per_s": round(len(lines) / replay),
        "replay_again_s": round(idempotent, 1),
        "register_facts": facts,
        "outbox_messages": outbox,
        "load_1min_before_after": f"{load_before:.1f}/{load_after:.1f}",
    }


def main() -> None:
    """Parse the arguments, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--access-points", type=int, default=500_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], action="append")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    for backend in args.backend or ["sqlite"]:  # each result as soon as it is known
        result = run(backend, args.access_points, args.messages, args.workers)
        text = "  ".join(f"{key}={value}" for key, value in result.items())
        print(json.dumps(result) if args.json else text, flush=True)


if __name__ == "__main__":
    main()
