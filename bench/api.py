"""Benchmark of the API for energy service providers (issue 6): one access point's year of quarter-hour
data through the API, and daily data under 50 concurrent clients (see bench/README.md).

- store: ``--store-access-points`` (default 20,000) access-point-years of quarter-hour offtake, built once
  once into ``bench/out/year-store-<N>/`` (shared with ``bench.run``'s read benchmark);
- registry: ``--households`` access points with a grid user who moved in before the year, an account and
  a personal token each, and a provider whose mandate on each of them was approved by its grid user;
- server: ``kwartier serve`` with ``--workers`` uvicorn workers on loopback;
- latency: ``--reads`` sequential ``GET …/energy?granularity=quarter`` of a whole year by the provider
  (mandate check, access log, store read, JSON), p50 and p95: first one read of each picked access point
  since the server started, then the picks once per shape (``rows``: an object per quarter hour, 5.6 MB;
  ``series``: an array of values per channel and tariff period); baseline in the same run: the bare store
  read (:meth:`MeterStore.read_access_point`) of the same access points in a fresh process;
- throughput: ``wrk`` with 50 connections for ``--seconds`` seconds, each request a household's own month
  of daily values (``granularity=day``) with its personal token, cycling over the households; requests per
  second and non-2xx responses as wrk reports them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench.run import OUT, YEAR, bench_ean, year_store, year_store_home
from kwartier.access.accounts import create_account
from kwartier.access.codes import AccountRole, DataService, SubjectKind
from kwartier.access.contracts import provider_party, register_contract
from kwartier.access.mandate_service import MandateRequest, decide, request_mandate
from kwartier.access.tokens import create_personal_token, issue_client_token, resolve_bearer
from kwartier.config import load_settings
from kwartier.domain.timegrid import local_midnight_utc
from kwartier.exposure.daily_totals import refresh_daily
from kwartier.market.codes import Attribute
from kwartier.registry.access_points import AccessPoint, GridArea
from kwartier.registry.access_register import RegisterFact
from kwartier.server import build_hub
from kwartier.store.store import MeterStore

PROVIDER = "5414499000079"
NOW = datetime.now(UTC)  # the server runs on the real clock: mandates and tokens are made live now
FIRST, END = date(YEAR, 1, 1), date(YEAR + 1, 1, 1)


def prepare(access_points: int, households: int) -> tuple[Path, dict[str, Any]]:
    """The data home: the year store (built once) and a fresh registry with the households."""
    home = year_store_home(access_points)
    year_store(home, access_points)
    refresh_daily(load_settings(home))  # kept daily totals, as the nightly run keeps them (once per version)
    settings = load_settings(home)
    if settings.registry_url.startswith("sqlite"):
        for stale in ("registry.sqlite", "registry.sqlite-wal", "registry.sqlite-shm"):
            (home / stale).unlink(missing_ok=True)
    else:
        _empty_postgres(settings.registry_url)
    hub = build_hub(settings)
    chosen = random.Random(11).sample(range(access_points), households)
    eans = [bench_ean(n) for n in chosen]
    tokens = []
    with hub.transaction() as session:
        session.add(GridArea(code="BENCH", name="Benchmark"))
        provider_party(session, PROVIDER, "Benchmark Provider", date(2020, 1, 1))
        credentials = register_contract(
            session, hub.sealer, party_code=PROVIDER, reference="BENCH", valid_from=date(2020, 1, 1), now=NOW
        )
        token, _ = issue_client_token(session, credentials.client_id, credentials.client_secret, NOW)
        session.flush()
        provider = resolve_bearer(session, token, NOW)
        assert provider is not None
        for n, ean in enumerate(eans):
            session.add(
                AccessPoint(
                    ean=ean,
                    energy="electricity",
                    grid_area="BENCH",
                    connected_from=date(2020, 1, 1),
                    created_at=NOW,
                )
            )
            session.flush()
            session.add(
                RegisterFact(
                    ean=ean,
                    attribute=Attribute.GRID_USER.value,
                    value=json.dumps(f"B{n}"),
                    valid_from=date(YEAR - 1, 12, 1),
                    recorded_at=NOW - timedelta(days=400),
                    process_id=None,
                    source="benchmark",
                )
            )
            account = create_account(
                session,
                hub.sealer,
                login=f"b{n}@bench.example",
                password="benchmark-password",
                role=AccountRole.GRID_USER,
                now=NOW,
                customer_ref=f"B{n}",
            )
            tokens.append(create_personal_token(session, account, "bench", NOW)[1])
            ask = MandateRequest(
                subject_kind=SubjectKind.ACCESS_POINT,
                subject=ean,
                services=frozenset({DataService.QUARTER_HOUR, DataService.DAILY}),
                data_from=FIRST,
                data_to=END,
                expires_at=NOW + timedelta(days=300),
                reference=f"bench-{n}",
            )
            mandate, _ = request_mandate(session, provider, ask, NOW)
            decide(session, account, mandate, True, NOW)
    hub.export_lane.shutdown()
    return home, {
        "eans": eans,
        "tokens": tokens,
        "client": (credentials.client_id, credentials.client_secret),
    }


def _empty_postgres(url: str) -> None:
    """Create the benchmark's PostgreSQL database when missing, and empty it."""
    parsed = sa.engine.make_url(url)
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.scalar(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}
        )
        if not exists:
            connection.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def serve(home: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    """``kwartier serve`` in a child process; its base URL once healthy."""
    port = _free_port()
    kwartier = str(Path(sys.executable).parent / "kwartier")
    command = [kwartier, "serve", "--home", str(home), "--port", str(port), "--workers", str(workers)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                return server, base
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("the server did not start")


def latency(base: str, world: dict[str, Any], home: Path, reads: int) -> dict[str, Any]:
    """Sequential year-of-quarter-hour reads by the provider, and the bare store reads of the same access
    points: first one read of each picked access point since the server started (``first_read``: the
    server reads the footers of that access point's files then), then ``reads`` reads in each shape (the
    steady state of a running server)."""
    chooser = random.Random(5)
    picks = [chooser.choice(world["eans"]) for _ in range(reads)]
    figures: dict[str, Any] = {}
    with httpx.Client(base_url=base, timeout=30) as client:
        token = client.post(
            "/api/v1/oauth/token", data={"grant_type": "client_credentials"}, auth=world["client"]
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        passes = [
            ("first_read", list(dict.fromkeys(picks)), "series"),
            ("rows", picks, "rows"),
            ("series", picks, "series"),
        ]
        for name, eans, shape in passes:
            timings, size, values = [], 0, 0
            for ean in eans:
                begun = time.perf_counter()
                response = client.get(
                    f"/api/v1/access-points/{ean}/energy",
                    params={
                        "from": FIRST.isoformat(),
                        "to": END.isoformat(),
                        "granularity": "quarter",
                        "shape": shape,
                    },
                    headers=headers,
                )
                timings.append(time.perf_counter() - begun)
                response.raise_for_status()
                size = len(response.content)
                values = _values(response.json(), shape)
            if name != "first_read":
                figures[f"{name}_values_per_response"] = values
                figures[f"{name}_bytes_per_response"] = size
            figures[f"{name}_api_p50_ms"] = _ms(statistics.median(timings))
            figures[f"{name}_api_p95_ms"] = _ms(_p95(timings))
    settings = load_settings(home)
    hub = build_hub(settings)
    store = MeterStore.open(settings.store_dir)
    start, end = local_midnight_utc(FIRST), local_midnight_utc(END)
    bare = []
    for ean in picks:
        begun = time.perf_counter()
        store.read_access_point(hub.pseudonymiser.of(ean), start, end)
        bare.append(time.perf_counter() - begun)
    hub.export_lane.shutdown()
    return {
        **figures,
        "bare_store_read_p50_ms": _ms(statistics.median(bare)),
        "bare_store_read_p95_ms": _ms(_p95(bare)),
    }


def _values(document: dict[str, Any], shape: str) -> int:
    """The number of values in an answer of ``shape``."""
    if shape == "rows":
        return len(document["rows"])
    return sum(value is not None for series in document["series"] for value in series["value_wh"])


def throughput(base: str, world: dict[str, Any], seconds: int, connections: int) -> dict[str, Any]:
    """wrk with ``connections`` connections: households reading their own month of daily values."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return {"skipped": "wrk is not installed (Debian package wrk)"}
    pairs = ", ".join(f'{{"{e}", "{t}"}}' for e, t in zip(world["eans"], world["tokens"], strict=True))
    script = OUT / "api-wrk.lua"
    script.write_text(
        f"""
local pairs = {{ {pairs} }}
local i = 0
request = function()
  i = i + 1
  local p = pairs[(i % #pairs) + 1]
  local query = "/energy?from={YEAR}-03-01&to={YEAR}-04-01&granularity=day"
  return wrk.format("GET", "/api/v1/access-points/" .. p[1] .. query,
    {{ ["Authorization"] = "Bearer " .. p[2] }})
end
"""
    )
    result = subprocess.run(
        [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), base],
        capture_output=True,
        text=True,
        check=True,
    )
    text = result.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket_errors = re.search(r"Socket errors: (.*)", text)
    p99 = re.search(r"99%\s+([\d.]+\w+)", text)
    return {
        "connections": connections,
        "seconds": seconds,
        "requests_per_second": round(rate, 1),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "none",
        "latency_p99": p99.group(1) if p99 else None,
    }


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.95 * (len(ordered) - 1))]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def main() -> None:
    """Run the API benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store-access-points", type=int, default=20_000)
    parser.add_argument("--households", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reads", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument(
        "--registry-url",
        help="a PostgreSQL URL for the registry (its database is emptied!), e.g. "
        "postgresql+psycopg://postgres@127.0.0.1:5432/kwartier_bench; default: SQLite in the data home",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.registry_url:
        os.environ["KWARTIER_REGISTRY_URL"] = args.registry_url  # the server processes inherit it
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    home, world = prepare(args.store_access_points, args.households)
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "at": datetime.now(UTC).isoformat(), "load": os.getloadavg()},
        "setup": {
            "access_point_years": args.store_access_points,
            "households": args.households,
            "workers": args.workers,
            "registry": "postgresql" if args.registry_url else "sqlite",
            "seconds": round(time.perf_counter() - started, 1),
        },
    }
    server, base = serve(home, args.workers)
    try:
        results["year_of_quarter_hours"] = latency(base, world, home, args.reads)
        results["daily_under_load"] = throughput(base, world, args.seconds, args.connections)
    finally:
        server.terminate()
        server.wait(timeout=30)
    if args.json:
        json.dump(results, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return
    for section, figures in results.items():
        print(f"[{section}]")
        for key, value in figures.items():
            print(f"  {key:>26}: {value}")


if __name__ == "__main__":
    main()
