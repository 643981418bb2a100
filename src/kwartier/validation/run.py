"""A validation run: the day rules and the estimation for market days, written to the store as one batch.

Rules (issue "Measurement data chain", §5):
- which series are expected: every access point with a digital or AMR meter in the registry delivers a
  complete day of offtake (and injection where a production installation is registered) per quarter hour,
  or of gas volume and gas energy per hour; a day is only expected once it has ended at ``as_of``
  (market day at 24:00 local, gas day at 06:00 local the next day);
- the day rules (:mod:`kwartier.validation.day_rules`) and the estimation
  (:mod:`kwartier.estimation.estimate`) run as Ibis expressions on the configured engine (DuckDB or Spark);
- the estimates are stored as versions with status ``estimated`` and their method; real data arriving
  later supersedes them as a newer version (:mod:`kwartier.capture.ingest`); findings are stored in the
  ``findings`` dataset, each finding once;
- the run is a batch whose id is the SHA-256 of the days, the moment and the committed batches it read, so
  running it twice on the same data changes nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from kwartier.catalogue import record_committed
from kwartier.config import EngineName, Settings
from kwartier.domain.channels import Channel, Energy, ReadingStatus
from kwartier.domain.timegrid import HOUR_MINUTES, QUARTER_MINUTES, gas_day_bounds, market_day_bounds
from kwartier.engine import connect, load, to_arrow
from kwartier.estimation.estimate import HISTORY_DAYS, estimate, estimation_days
from kwartier.registry.context import access_point_context
from kwartier.registry.database import open_registry
from kwartier.store.pseudonym import Pseudonymiser
from kwartier.store.store import MeterStore
from kwartier.store.versions import current_readings_sql, timestamptz_literal
from kwartier.validation.day_rules import completeness_findings, register_delta_findings
from kwartier.validation.grid import slot_grid

DELIVERING_METERS = ("digital", "amr")


@dataclass
class ValidationReport:
    """What one validation run found and estimated."""

    batch: str
    status: str  # committed | nothing-to-do
    recorded_at: str
    days: list[str]
    expected_series: int = 0
    estimated: int = 0
    findings: int = 0
    kind: str = "estimation"
    file: str = ""
    format: str = "validation"
    by_method: dict[str, int] | None = None
    by_rule: dict[str, int] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form of the report."""
        return asdict(self)


def day_has_ended(day: date, energy: Energy, moment: datetime) -> bool:
    """True when market day (electricity) or gas day (gas) ``day`` is over at ``moment``."""
    end = market_day_bounds(day)[1] if energy is Energy.ELECTRICITY else gas_day_bounds(day)[1]
    return end <= moment


def expected_series(context: pa.Table, days: list[date], moment: datetime) -> pa.Table:
    """(ap, channel, minutes, day) of the complete days expected from delivering meters (see module doc)."""
    rows: dict[str, list[Any]] = {"ap": [], "channel": [], "minutes": [], "day": []}
    for fact in context.to_pylist():
        if fact["meter_kind"] not in DELIVERING_METERS:
            continue
        energy = Energy(fact["energy"])
        if energy is Energy.ELECTRICITY:
            channels = [Channel.OFFTAKE] + ([Channel.INJECTION] if fact["has_production"] else [])
            minutes = QUARTER_MINUTES
        else:
            channels = [Channel.GAS_VOLUME, Channel.GAS_ENERGY]
            minutes = HOUR_MINUTES
        for day in days:
            inside = fact["valid_from"] <= day and (fact["valid_to"] is None or day < fact["valid_to"])
            if inside and day_has_ended(day, energy, moment):
                for channel in channels:
                    rows["ap"].append(fact["ap"])
                    rows["channel"].append(channel.value)
                    rows["minutes"].append(minutes)
                    rows["day"].append(day)
    return pa.table(
        {
            "ap": pa.array(rows["ap"], pa.string()),
            "channel": pa.array(rows["channel"], pa.string()),
            "minutes": pa.array(rows["minutes"], pa.int16()),
            "day": pa.array(rows["day"], pa.date32()),
        }
    )


def validate_days(
    settings: Settings,
    days: list[date],
    *,
    as_of: datetime | None = None,
    history_days: int = HISTORY_DAYS,
    engine: EngineName | None = None,
    backend: Any = None,
) -> ValidationReport:
    """Run the day rules and the estimation for ``days`` as known at ``as_of`` (default now)."""
    moment = (as_of or datetime.now(UTC)).astimezone(UTC)
    store = MeterStore.open(settings.store_dir)
    pseudonymiser = Pseudonymiser.from_key_file(settings.pseudonym_key_file)
    sessions = open_registry(settings.registry_url)
    first, last = min(days), max(days)
    with sessions() as session:
        context = access_point_context(session, first, last + timedelta(days=1))
    context = context.append_column(
        "ap", pa.array([pseudonymiser.of(e) for e in context.column("ean").to_pylist()])
    )
    expected = expected_series(context.drop_columns(["ean"]), days, moment)
    inputs = _committed_inputs(store, moment)
    batch = hashlib.sha256(
        "|".join(["validation", *map(str, sorted(days)), moment.isoformat(), *inputs]).encode()
    ).hexdigest()
    report = ValidationReport(batch, "committed", moment.isoformat(), [d.isoformat() for d in sorted(days)])
    report.expected_series = expected.num_rows
    if store.has_batch(batch) or expected.num_rows == 0:
        report.status = "nothing-to-do" if expected.num_rows == 0 else "duplicate-batch"
        return report
    history = estimation_days(days, history_days)
    window_start = market_day_bounds(history[0])[0]
    window_end = gas_day_bounds(last + timedelta(days=1))[1]
    current, registers, known_findings = _read_store(store, window_start, window_end, moment)
    grid = pa.concat_tables([slot_grid(history, QUARTER_MINUTES), slot_grid(history, HOUR_MINUTES)])
    engine_backend = backend or connect(engine or settings.engine)
    current_t = load(engine_backend, current)
    expected_t = load(engine_backend, expected)
    grid_t = load(engine_backend, grid)
    registers_t = load(engine_backend, registers)
    target_grid_t = load(
        engine_backend, pa.concat_tables([slot_grid(days, QUARTER_MINUTES), slot_grid(days, HOUR_MINUTES)])
    )
    estimates = to_arrow(estimate(current_t, expected_t, grid_t, registers_t, history_days))
    findings = to_arrow(
        completeness_findings(current_t, expected_t, grid_t).union(
            register_delta_findings(current_t, registers_t, target_grid_t)
        )
    )
    findings = _new_findings(findings, known_findings)
    report.estimated = estimates.num_rows
    report.findings = findings.num_rows
    report.by_method = _counts(estimates, "method")
    report.by_rule = _counts(findings, "rule")
    if estimates.num_rows == 0 and findings.num_rows == 0:
        report.status = "nothing-to-do"
        return report
    stamp = pa.scalar(moment, pa.timestamp("us", tz="UTC"))
    staged = store.stage(batch)
    try:
        if estimates.num_rows:
            n = estimates.num_rows
            staged.write_table(
                "readings",
                estimates.append_column("status", pa.array([ReadingStatus.ESTIMATED.value] * n))
                .append_column("rule", pa.nulls(n, pa.string()))
                .append_column("batch", pa.array([batch] * n))
                .append_column("recorded_at", pa.array([stamp] * n, pa.timestamp("us", tz="UTC"))),
            )
        if findings.num_rows:
            n = findings.num_rows
            staged.write_table(
                "findings",
                findings.append_column("batch", pa.array([batch] * n)).append_column(
                    "recorded_at", pa.array([stamp] * n, pa.timestamp("us", tz="UTC"))
                ),
            )
        store.commit(staged, report.as_dict())
    except BaseException:
        staged.abort()
        raise
    record_committed(sessions, store, batch)
    return report


def _committed_inputs(store: MeterStore, moment: datetime) -> list[str]:
    """Ids of the committed batches recorded at or before ``moment`` (what a run at ``moment`` can see)."""
    inputs = []
    for batch in store.committed_batches():
        recorded = store.batch_manifest(batch).report.get("recorded_at")
        if recorded is None or datetime.fromisoformat(str(recorded)) <= moment:
            inputs.append(batch)
    return sorted(inputs)


def _read_store(
    store: MeterStore, start: datetime, end: datetime, moment: datetime
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Current readings in [start, end), the latest register readings, and the findings already stored."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        months = store.months("readings")
        source = (
            f"SELECT * FROM ({store.scan_sql('readings', months=months)}) AS stored "
            f"WHERE start >= {timestamptz_literal(start)} AND start < {timestamptz_literal(end)}"
        )
        current = con.sql(
            "SELECT ap, channel, tariff, start, minutes, value FROM ("
            + current_readings_sql(source, moment)
            + ")"
        ).to_arrow_table()
        registers = con.sql(
            f"""SELECT ap, channel, tariff, read_at, index_value FROM ({store.scan_sql("registers")})
            WHERE recorded_at <= {timestamptz_literal(moment)}
              AND read_at >= {timestamptz_literal(start)} AND read_at <= {timestamptz_literal(end)}
            QUALIFY row_number() OVER (PARTITION BY ap, channel, tariff, read_at
                                       ORDER BY recorded_at DESC, batch DESC) = 1"""
        ).to_arrow_table()
        findings = con.sql(
            f"SELECT DISTINCT ap, channel, day, rule, detail FROM ({store.scan_sql('findings')})"
        ).to_arrow_table()
    finally:
        con.close()
    return current, registers, findings


def _new_findings(findings: pa.Table, known: pa.Table) -> pa.Table:
    """The findings not stored before (a finding is stored once)."""
    con = duckdb.connect()
    try:
        con.register("found", findings)
        con.register("known", known)
        result: pa.Table = con.sql(
            "SELECT ap, channel, day, rule, detail FROM found "
            "EXCEPT SELECT ap, channel, day, rule, detail FROM known"
        ).to_arrow_table()
    finally:
        con.close()
    return result


def _counts(table: pa.Table, column: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in table.column(column).to_pylist():
        counts[str(value)] = counts.get(str(value), 0) + 1
    return dict(sorted(counts.items()))
