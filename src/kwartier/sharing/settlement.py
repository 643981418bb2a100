"""Settlement runs of a registered group on validated data from the meter-data store (issue 5).

Rules (decisions in ``docs/sharing.md``):
- input per participant and quarter hour: the current electricity offtake and injection [Wh] "as known at"
  the run's ``as_of`` (:mod:`kwartier.store.versions`: rejected versions never count), summed over the
  tariff registers; a quarter with an estimated value is flagged ``estimated``; a quarter in which the
  access point has no value at all is flagged ``missing``; a channel without a value counts 0 Wh (an
  access point without production delivers no injection channel, one that only injects no offtake);
- the group is split into periods with one key and one set of shares (:func:`~kwartier.sharing.
  participation.periods`); each is allocated with :func:`~kwartier.sharing.allocation.allocate`; the
  participation conditions are checked first and a blocking finding stops the run;
- results are keyed by the pseudonym ``ap``, never by EAN (design.md "Two stores"), and written under
  ``<home>/sharing/<group>/<from>_<to>/as-of-<as_of>/``: ``quarters.parquet`` (:data:`QUARTERS`),
  ``monthly.parquet`` (:data:`MONTHLY`: per participant, local calendar month and tariff period) and
  ``run.json`` (period, keys, as_of, counts, warnings). The directory is written aside and renamed, so a
  run is there whole or not at all, and running again with the same ``as_of`` gives the same files'
  content. ``monthly.parquet`` is the hand-over to the supply market's outbox (one row per recipient
  access point and month), which resolves ``ap`` to the EAN, its supplier and the group manager.
"""

from __future__ import annotations

import gc
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from kwartier.config import EngineName, Settings
from kwartier.domain.channels import Channel, ReadingStatus, tariff_period
from kwartier.domain.timegrid import BRUSSELS, QUARTER, local_midnight_utc
from kwartier.engine import DUCKDB_MEMORY_LIMIT, connect, load, to_arrow
from kwartier.registry.database import open_registry
from kwartier.registry.sharing_groups import AllocationKey
from kwartier.schema import AP, CHANNEL, MINUTES, STATUS, UTC_MICROS, VALUE
from kwartier.sharing.allocation import (
    INJECTION_WH,
    MAX_GROUP_INJECTION_WH,
    NET_INJECTION_WH,
    NET_OFFTAKE_WH,
    OFFTAKE_WH,
    PARTICIPANT,
    SHARE_PPM,
    SHARED_WH,
    START,
    allocate,
)
from kwartier.sharing.participation import Finding, ParticipationError, Period, check_participation, periods
from kwartier.sharing.totals import check_conservation
from kwartier.store.pseudonym import Pseudonymiser
from kwartier.store.store import MeterStore

GROUP: Final = "group"
MONTH: Final = "month"
TARIFF: Final = "tariff"
ESTIMATED: Final = "estimated"
MISSING: Final = "missing"
ESTIMATED_QUARTERS: Final = "estimated_quarters"
MISSING_QUARTERS: Final = "missing_quarters"
GIVEN_WH: Final = "given_wh"
KEY: Final = "key"

_ENERGY = (OFFTAKE_WH, INJECTION_WH, SHARED_WH, NET_OFFTAKE_WH, NET_INJECTION_WH)

QUARTERS: Final = pa.schema(
    [
        pa.field(GROUP, pa.string(), nullable=False),
        pa.field(AP, pa.string(), nullable=False),
        pa.field(START, UTC_MICROS, nullable=False),
        pa.field(KEY, pa.string(), nullable=False),
        *(pa.field(c, pa.int64(), nullable=False) for c in _ENERGY),
        pa.field(ESTIMATED, pa.bool_(), nullable=False),
        pa.field(MISSING, pa.bool_(), nullable=False),
    ]
)
"""Per participant and quarter hour [Wh]; ``key`` is the allocation key that applied."""

MONTHLY: Final = pa.schema(
    [
        pa.field(GROUP, pa.string(), nullable=False),
        pa.field(AP, pa.string(), nullable=False),
        pa.field(MONTH, pa.date32(), nullable=False),  # first day of the Europe/Brussels month
        pa.field(TARIFF, pa.string(), nullable=False),  # TariffPeriod value: day | night
        *(pa.field(c, pa.int64(), nullable=False) for c in _ENERGY),
        pa.field(GIVEN_WH, pa.int64(), nullable=False),  # injection taken by others (P2P seller: sold)
        pa.field(ESTIMATED_QUARTERS, pa.int64(), nullable=False),
        pa.field(MISSING_QUARTERS, pa.int64(), nullable=False),
    ]
)
"""Per participant, month and tariff period [Wh]: what the participant, its supplier and the manager get."""


@dataclass(frozen=True)
class Inputs:
    """The allocation inputs of a group over a range, in a DuckDB connection, and what they came from."""

    con: duckdb.DuckDBPyConnection
    periods: list[Period]
    ap_of: dict[str, str]  # EAN → ap
    findings: list[Finding]
    as_of: datetime


@dataclass(frozen=True)
class SettlementRun:
    """A written settlement run."""

    directory: Path
    summary: dict[str, Any]
    monthly: pa.Table


def quarter_grid(day_from: date, day_to: date) -> pa.Table:
    """Every quarter hour of the market days [day_from, day_to) with its local month and tariff period."""
    start, end = local_midnight_utc(day_from), local_midnight_utc(day_to)
    starts = []
    while start < end:
        starts.append(start)
        start += QUARTER
    return pa.table(
        {
            START: pa.array(starts, UTC_MICROS),
            MONTH: pa.array([s.astimezone(BRUSSELS).date().replace(day=1) for s in starts], pa.date32()),
            TARIFF: pa.array([tariff_period(s).value for s in starts]),
        }
    )


@contextmanager
def gather(
    settings: Settings, code: str, day_from: date, day_to: date, as_of: datetime | None = None
) -> Iterator[Inputs]:
    """The inputs of group ``code`` on [day_from, day_to) as known at ``as_of`` (default: now).

    Raises :class:`~kwartier.sharing.participation.ParticipationError` on a blocking finding and
    :class:`LookupError` for an unknown group. Yields a DuckDB connection holding, per period n, the table
    ``sharing_input_<n>`` (``participant`` = ap, ``start``, ``share_ppm``, energies, flags)."""
    moment = (as_of or datetime.now(UTC)).astimezone(UTC)
    sessions = open_registry(settings.registry_url)
    with sessions() as session:
        spans = periods(session, code, day_from, day_to)
        findings = check_participation(session, code, spans)
    blocking = [f for f in findings if f.blocking]
    if blocking:
        raise ParticipationError(blocking)
    pseudonymiser = Pseudonymiser.from_key_file(settings.pseudonym_key_file)
    ap_of = {p.ean: pseudonymiser.of(p.ean) for span in spans for p in span.group.participants}
    store = MeterStore.open(settings.store_dir)
    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
        con.execute("SET TimeZone = 'UTC'")
        for n, span in enumerate(spans):
            _period_input(con, store, span, ap_of, moment, f"sharing_input_{n}")
        yield Inputs(con, spans, ap_of, findings, moment)
    finally:
        gc.collect()  # OPTIMAL's cached round tables drop themselves on collection: while still connected
        con.close()


def _period_input(
    con: duckdb.DuckDBPyConnection,
    store: MeterStore,
    span: Period,
    ap_of: dict[str, str],
    as_of: datetime,
    name: str,
) -> None:
    members = pa.table(
        {
            AP: [ap_of[p.ean] for p in span.group.participants],
            SHARE_PPM: pa.array([p.share_ppm for p in span.group.participants], pa.int64()),
        }
    )
    grid = quarter_grid(span.day_from, span.day_to)
    first, end = local_midnight_utc(span.day_from), local_midnight_utc(span.day_to)
    readings = store.current_readings(con, start=first, end=end, as_of=as_of)
    con.register("sharing_members", members)
    con.register("sharing_grid", grid)
    con.register("sharing_readings", readings)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {name} AS
        WITH r AS (
            SELECT {AP}, {START},
                   sum({VALUE}) FILTER (WHERE {CHANNEL} = '{Channel.OFFTAKE.value}') AS offtake,
                   sum({VALUE}) FILTER (WHERE {CHANNEL} = '{Channel.INJECTION.value}') AS injection,
                   bool_or({STATUS} = '{ReadingStatus.ESTIMATED.value}') AS estimated
            FROM sharing_readings
            WHERE {MINUTES} = 15 AND {AP} IN (SELECT {AP} FROM sharing_members)
              AND {CHANNEL} IN ('{Channel.OFFTAKE.value}', '{Channel.INJECTION.value}')
            GROUP BY {AP}, {START}
        )
        SELECT m.{AP} AS {PARTICIPANT}, g.{START}, m.{SHARE_PPM},
               CAST(coalesce(r.offtake, 0) AS BIGINT) AS {OFFTAKE_WH},
               CAST(coalesce(r.injection, 0) AS BIGINT) AS {INJECTION_WH},
               coalesce(r.estimated, false) AS {ESTIMATED},
               r.{AP} IS NULL AS {MISSING}
        FROM sharing_members m CROSS JOIN sharing_grid g
        LEFT JOIN r ON r.{AP} = m.{AP} AND r.{START} = g.{START}
        """
    )
    for view in ("sharing_members", "sharing_grid", "sharing_readings"):
        con.unregister(view)
    [(largest,)] = con.execute(
        f"SELECT coalesce(max(t), 0) FROM (SELECT sum({INJECTION_WH}) AS t FROM {name} GROUP BY {START})"
    ).fetchall()
    if largest > MAX_GROUP_INJECTION_WH:
        raise ValueError(
            f"group {span.group.code}: {largest} Wh injected in one quarter hour exceeds the bound"
        )


def allocate_inputs(inputs: Inputs, n: int, key: AllocationKey, engine: EngineName) -> pa.Table:
    """Allocate period ``n`` of ``inputs`` with ``key`` on ``engine``: the allocation result as Arrow."""
    source = inputs.con.table(f"sharing_input_{n}").select(
        PARTICIPANT, START, SHARE_PPM, OFFTAKE_WH, INJECTION_WH
    )
    if engine is EngineName.DUCKDB:
        backend = connect(EngineName.DUCKDB, duckdb_connection=inputs.con)
        table = backend.table(f"sharing_input_{n}").select(
            PARTICIPANT, START, SHARE_PPM, OFFTAKE_WH, INJECTION_WH
        )
    else:
        backend = connect(engine)
        table = load(backend, source.to_arrow_table())
    return to_arrow(allocate(table, key))


def settle(
    settings: Settings, code: str, day_from: date, day_to: date, as_of: datetime | None = None
) -> SettlementRun:
    """Settle group ``code`` over the market days [day_from, day_to) as known at ``as_of`` (default now)
    and write the run (module docstring)."""
    with gather(settings, code, day_from, day_to, as_of) as inputs:
        con = inputs.con
        for n, span in enumerate(inputs.periods):
            result = allocate_inputs(inputs, n, span.group.key, settings.engine)
            con.register("sharing_result", result)
            con.execute(
                f"""
                CREATE OR REPLACE TEMP TABLE sharing_quarters_{n} AS
                SELECT CAST($code AS VARCHAR) AS {GROUP}, r.{PARTICIPANT} AS {AP}, r.{START},
                       CAST($key AS VARCHAR) AS {KEY},
                       {", ".join(f"r.{c}" for c in _ENERGY)}, i.{ESTIMATED}, i.{MISSING}
                FROM sharing_result r JOIN sharing_input_{n} i USING ({PARTICIPANT}, {START})
                """,
                {"code": code, "key": span.group.key.value},
            )
            con.unregister("sharing_result")
        if not inputs.periods:
            raise LookupError(
                f"group {code} has no terms and two participants on any day of [{day_from}, {day_to})"
            )
        union = " UNION ALL ".join(f"SELECT * FROM sharing_quarters_{n}" for n in range(len(inputs.periods)))
        quarters = con.sql(union).to_arrow_table().cast(QUARTERS)
        check_conservation(
            quarters.rename_columns([PARTICIPANT if c == AP else c for c in quarters.column_names])
        )
        grid = quarter_grid(day_from, day_to)
        monthly = _monthly(con, quarters, grid)
        summary = _summary(code, day_from, day_to, inputs, quarters)
    directory = _write(settings, code, day_from, day_to, inputs.as_of, quarters, monthly, summary)
    return SettlementRun(directory, summary, monthly)


def _monthly(con: duckdb.DuckDBPyConnection, quarters: pa.Table, grid: pa.Table) -> pa.Table:
    con.register("sharing_q", quarters)
    con.register("sharing_g", grid)
    sums = ", ".join(f"CAST(sum(q.{c}) AS BIGINT) AS {c}" for c in _ENERGY)
    table = con.sql(
        f"""
        SELECT q.{GROUP}, q.{AP}, g.{MONTH}, g.{TARIFF}, {sums},
               CAST(sum(q.{INJECTION_WH} - q.{NET_INJECTION_WH}) AS BIGINT) AS {GIVEN_WH},
               CAST(count(*) FILTER (WHERE q.{ESTIMATED}) AS BIGINT) AS {ESTIMATED_QUARTERS},
               CAST(count(*) FILTER (WHERE q.{MISSING}) AS BIGINT) AS {MISSING_QUARTERS}
        FROM sharing_q q JOIN sharing_g g USING ({START})
        GROUP BY ALL ORDER BY q.{AP}, g.{MONTH}, g.{TARIFF}
        """
    ).to_arrow_table()
    con.unregister("sharing_q")
    con.unregister("sharing_g")
    return table.cast(MONTHLY)


def _summary(code: str, day_from: date, day_to: date, inputs: Inputs, quarters: pa.Table) -> dict[str, Any]:
    totals = {c: int(pa.compute.sum(quarters.column(c)).as_py() or 0) for c in _ENERGY}
    return {
        "group": code,
        "from": day_from.isoformat(),
        "to": day_to.isoformat(),
        "as_of": inputs.as_of.isoformat(),
        "periods": [
            {"from": p.day_from.isoformat(), "to": p.day_to.isoformat(), "key": p.group.key.value}
            for p in inputs.periods
        ],
        "participant_quarters": quarters.num_rows,
        "estimated_quarters": int(pa.compute.sum(quarters.column(ESTIMATED)).as_py() or 0),
        "missing_quarters": int(pa.compute.sum(quarters.column(MISSING)).as_py() or 0),
        "totals_wh": totals,
        # warnings name the pseudonym only: this file lives next to meter data
        "warnings": [
            {
                "ap": inputs.ap_of[f.ean],
                "rule": f.rule.value,
                "from": f.day_from.isoformat(),
                "to": f.day_to.isoformat(),
            }
            for f in inputs.findings
            if f.ean in inputs.ap_of
        ],
    }


def run_directory(settings: Settings, code: str, day_from: date, day_to: date, as_of: datetime) -> Path:
    """Where the run of group ``code`` over [day_from, day_to) as known at ``as_of`` is written."""
    stamp = as_of.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return settings.home / "sharing" / code / f"{day_from}_{day_to}" / f"as-of-{stamp}"


def _write(
    settings: Settings,
    code: str,
    day_from: date,
    day_to: date,
    as_of: datetime,
    quarters: pa.Table,
    monthly: pa.Table,
    summary: dict[str, Any],
) -> Path:
    target = run_directory(settings, code, day_from, day_to, as_of)
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    pq.write_table(quarters.sort_by([(AP, "ascending"), (START, "ascending")]), partial / "quarters.parquet")
    pq.write_table(monthly, partial / "monthly.parquet")
    (partial / "run.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if target.exists():
        shutil.rmtree(target)
    partial.rename(target)
    return target
