"""The ``kwartier market`` commands: apply market messages, advance the clock, and read the register, the
work queue, the blocked-access-point figures and the outbox.

``apply`` takes ``.json`` files (one message) and ``.jsonl`` files (one message per line) and is
replayable: a message id already applied gets its first answer again and changes nothing. Handover
indexes come from the meter-data store when its pseudonymisation key exists (else no remote reading is
available and the processes that need one wait, then ask for attention).
Exit codes: 0 success (rejected messages are answers, not failures); 1 a file could not be read or an
EAN is unknown; 2 wrong usage.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from kwartier.cli_options import EXIT_FAILED, HomeOption, JsonOption, err, instant, out, print_json
from kwartier.config import Settings, load_settings
from kwartier.market import service
from kwartier.market.blocks import blocked_report
from kwartier.market.processes import Index, Readings
from kwartier.market.register import market_day

app = typer.Typer(help="Supply market: the access register and its market processes.", no_args_is_help=True)
NowOption = Annotated[
    str | None,
    typer.Option("--now", help="The instant to advance the processes to (ISO 8601; default: now)."),
]


def _instant(text: str | None) -> datetime:
    """An ISO-8601 instant (a date or a naive time is taken as UTC); now when not given."""
    return instant(text) or datetime.now(UTC)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise typer.BadParameter(f"{text!r} is no date (YYYY-MM-DD)") from error


def _no_reading(_ean: str, _day: date) -> Index | None:
    return None


def _readings(settings: Settings) -> Readings:
    """Remote readings from the meter-data store, or none when the store has no pseudonymisation key."""
    if not settings.pseudonym_key_file.exists():
        return _no_reading
    from kwartier.market.readings import StoreReadings  # noqa: PLC0415
    from kwartier.store.pseudonym import Pseudonymiser  # noqa: PLC0415
    from kwartier.store.store import MeterStore  # noqa: PLC0415

    store = MeterStore.open(settings.store_dir)
    return StoreReadings(store, Pseudonymiser.from_key_file(settings.pseudonym_key_file))


def _upgraded(settings: Settings) -> str:
    """The registry URL of ``settings``, its database brought to the newest schema."""
    from kwartier.registry.database import upgrade  # noqa: PLC0415

    settings.home.mkdir(parents=True, exist_ok=True)
    upgrade(settings.registry_url)
    return settings.registry_url


@contextmanager
def _registry(settings: Settings) -> Iterator[Session]:
    from kwartier.registry.database import open_registry  # noqa: PLC0415

    factory = open_registry(_upgraded(settings))
    try:
        with factory() as session:
            yield session
    finally:
        factory.kw["bind"].dispose()


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                yield number, line
    else:
        yield 1, text


@app.command()
def apply(
    files: Annotated[list[Path], typer.Argument(help="Message files: .json (one message) or .jsonl.")],
    home: HomeOption = None,
    as_json: JsonOption = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Processes that apply the messages, each a partition of the access points "
            "(PostgreSQL: each writes; SQLite: they decide, one process writes). "
            "Default: one per core for more than 20,000 messages, else one.",
        ),
    ] = None,
) -> None:
    """Apply market messages in order; print the answer to each (accepted, or rejected with a reason)."""
    from kwartier.market.partitions import apply_partitioned, default_workers  # noqa: PLC0415

    settings = load_settings(home)
    places: list[tuple[str, int]] = []
    texts: list[str] = []
    failed = False
    for path in files:
        try:
            lines = list(_lines(path))
        except (OSError, UnicodeDecodeError) as error:
            err.print(f"[red]{path}: cannot read: {error}")
            failed = True
            continue
        places.extend((str(path), number) for number, _ in lines)
        texts.extend(text for _, text in lines)
    if workers is None:
        workers = default_workers(len(texts), os.cpu_count())
    applied = apply_partitioned(_upgraded(settings), texts, partial(_readings, settings), workers=workers)
    answers = [
        {"file": file, "line": line, **answer} for (file, line), answer in zip(places, applied, strict=True)
    ]
    if as_json:
        print_json(answers)
    else:
        for answer in answers:
            verdict = "accepted" if answer["accepted"] else f"rejected {answer['code']}: {answer['text']}"
            out.print(f"{answer['file']}:{answer['line']} {answer.get('message_id', '')} {verdict}")
    if failed:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def tick(now: NowOption = None, home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Advance every open process to ``--now``: take due changes into effect, fetch indexes, escalate."""
    settings = load_settings(home)
    instant = _instant(now)
    with _registry(settings) as session:
        changed = service.tick(session, instant, _readings(settings))
    if as_json:
        print_json({"now": instant.isoformat(), "access_points_changed": changed})
    else:
        out.print(f"advanced to {instant.isoformat()}: {changed} access point(s) changed")


@app.command()
def state(
    ean: Annotated[str, typer.Argument(help="EAN-18 of the access point.")],
    at: Annotated[
        str | None, typer.Option("--at", help="Market day (YYYY-MM-DD; default today in Europe/Brussels).")
    ] = None,
    known_at: Annotated[
        str | None, typer.Option("--known-at", help="As the register knew it at this instant (ISO 8601).")
    ] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """What the access register says about EAN on a day (past or future), with each attribute's history."""
    settings = load_settings(home)
    day = _day(at) if at else market_day(datetime.now(UTC))
    with _registry(settings) as session:
        document = service.register_state(session, ean, day, _instant(known_at) if known_at else None)
    if document is None:
        err.print(f"[red]{ean}: no access point with this EAN in the register")
        raise typer.Exit(EXIT_FAILED)
    if as_json:
        print_json(document)
        return
    for key in ("ean", "day", "status", "grid_user", "supplier", "brp", "regime", "meter", "capacity"):
        out.print(f"{key:>12}: {document[key]}")
    out.print(f"{'installations':>12}: {document['installations']}")
    for process in document["open_processes"]:
        out.print(f"{'process':>12}: {process}")


@app.command()
def queue(now: NowOption = None, home: HomeOption = None, as_json: JsonOption = False) -> None:
    """The work queue: processes that need attention, why, the actions possible, owner and deadline
    (the processes are advanced to ``--now`` first, so the queue is never stale)."""
    settings = load_settings(home)
    with _registry(settings) as session:
        service.tick(session, _instant(now), _readings(settings))
        items = service.work_queue(session)
    if as_json:
        print_json(items)
        return
    table = Table("process", "kind", "ean", "reason", "since", "actions", "owner", "deadline", "level")
    for item in items:
        table.add_row(
            item["process_id"],
            item["kind"],
            item["ean"],
            item["reason"],
            item["since"],
            ", ".join(item["actions"]),
            item["owner"],
            item["deadline"],
            str(item["level"]),
        )
    out.print(table)


@app.command()
def blocked(now: NowOption = None, home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Blocked access points as the regulator follows them (seed 000 §4.2.4): longer than 10 days and 6
    months, the monthly inflow after 3 months, the €1.50/day compensation from day 180; reservations past
    their deadline (none, by construction); and the production-registration lead time (seed 000 §4.3)."""
    settings = load_settings(home)
    instant = _instant(now)
    with _registry(settings) as session:
        service.tick(session, instant, _readings(settings))
        report = blocked_report(service.attention_periods(session), instant)
        report["reservations_past_deadline"] = service.overdue_reservations(session, instant)
        lead_times = [days for _, _, days in service.production_lead_times(session)]
    report["production_lead_time_days"] = {
        "registrations": len(lead_times),
        "mean": round(sum(lead_times) / len(lead_times), 1) if lead_times else None,
        "max": max(lead_times, default=None),
    }
    if as_json:
        print_json(report)
        return
    for key in ("blocked", "blocked_over_10_days", "blocked_over_6_months", "compensation_total_euro"):
        out.print(f"{key:>26}: {report[key]}")
    out.print(f"{'inflow_after_3_months':>26}: {report['inflow_after_3_months']}")
    out.print(f"{'reservations_past_deadline':>26}: {len(report['reservations_past_deadline'])}")
    out.print(f"{'production_lead_time_days':>26}: {report['production_lead_time_days']}")


@app.command()
def outbox(
    recipient: Annotated[str | None, typer.Option("--recipient", help="Only this party's messages.")] = None,
    after: Annotated[int, typer.Option("--after", help="Only messages after this outbox id.")] = 0,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Outbox messages (JSON, one schema per type under market/schemas), oldest first."""
    settings = load_settings(home)
    with _registry(settings) as session:
        messages = service.outbox(session, recipient, after)
    if as_json:
        print_json(messages)
        return
    for message in messages:
        out.print(json.dumps(message, sort_keys=True))


@app.command()
def simulate(
    master_dir: Annotated[Path, typer.Argument(help="Folder with the master-data CSV files of a region.")],
    out: Annotated[Path, typer.Option("--out", help="The JSON-lines file to write.")],
    messages: Annotated[int, typer.Option("--messages", help="How many messages.")] = 10_000,
    start: Annotated[str, typer.Option("--start", help="First market day (YYYY-MM-DD).")] = "2026-01-01",
    days: Annotated[int, typer.Option("--days", help="Days the stream spans.")] = 360,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed: same stream).")] = 7,
) -> None:
    """Write a realistic stream of market messages for a region (switches, moves, regime changes, PV
    registrations, some faulty), to apply with ``kwartier market apply``."""
    from kwartier.market.stream import market_of, market_stream  # noqa: PLC0415

    lines = market_stream(market_of(master_dir), messages, _day(start), days, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    err.print(f"{len(lines)} market messages written to {out}")
