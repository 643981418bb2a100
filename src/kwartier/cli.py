"""The ``kwartier`` command line (Typer): one command per stage of the data chain.

Exit codes: 0 success; 1 a file or batch failed (an unreadable file, a store or registry error): the other
files were still processed; 2 wrong usage (Typer); 3 ``--strict`` was given and rows were quarantined.
``--json`` prints one JSON document on standard output for machines; progress goes to standard error.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kwartier import __version__
from kwartier.access import cli as access_cli
from kwartier.billing import cli as billing_cli
from kwartier.cli_options import (
    EXIT_FAILED,
    HomeOption,
    JsonOption,
    MonthsOption,
    err,
    instant,
    out,
    print_json,
)
from kwartier.config import load_settings
from kwartier.market import cli as market_cli
from kwartier.sharing import cli as sharing_cli

app = typer.Typer(help="kwartier: the data hub for smart-meter data, per quarter hour.", no_args_is_help=True)
registry_app = typer.Typer(help="The registry database: migrations and master data.", no_args_is_help=True)
store_app = typer.Typer(help="The meter-data store: batches and compaction.", no_args_is_help=True)
app.add_typer(registry_app, name="registry")
app.add_typer(store_app, name="store")
app.add_typer(sharing_cli.app, name="sharing")
app.add_typer(market_cli.app, name="market")
app.add_typer(access_cli.app, name="access")
app.command("peaks")(billing_cli.peaks)
app.command("billing")(billing_cli.billing)
app.command("billing-refresh")(billing_cli.billing_refresh)

EXIT_QUARANTINE = 3


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Any]:
    """A rich progress bar on standard error; yields a ``(stage, done, total)`` callback."""
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (uvicorn).")] = 1,
    threads: Annotated[
        int | None, typer.Option(help="Request threads per worker (default 2: the GIL runs one at a time).")
    ] = None,
    home: HomeOption = None,
) -> None:
    """Start the customer portal and the API for energy service providers (``/api/v1``) together."""
    import uvicorn  # noqa: PLC0415 - only the server needs it

    from kwartier.server import REQUEST_THREADS, THREADS_VARIABLE, create_app  # noqa: PLC0415

    settings = load_settings(home)
    err.print(f"portal: http://{host}:{port}/   API: http://{host}:{port}/api/v1/docs")
    if workers > 1:
        import os  # noqa: PLC0415

        os.environ["KWARTIER_HOME"] = str(settings.home)
        os.environ[THREADS_VARIABLE] = str(threads or REQUEST_THREADS)
        uvicorn.run(
            "kwartier.server:app_from_environment", factory=True, host=host, port=port, workers=workers
        )
        return
    uvicorn.run(create_app(settings, threads=threads or REQUEST_THREADS), host=host, port=port)


@app.command("daily-refresh")
def daily_refresh(
    months: MonthsOption = None,
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """Recompute the kept daily totals (portal and API) of every month whose data changed."""
    from kwartier.exposure.daily_totals import refresh_daily  # noqa: PLC0415

    report = refresh_daily(load_settings(home), months)
    if as_json:
        print_json(report.as_dict())
        return
    err.print(
        f"daily totals: recomputed {report.recomputed or 'none'}, {len(report.current)} month(s) current"
    )


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


@registry_app.command("upgrade")
def registry_upgrade(home: HomeOption = None) -> None:
    """Create or migrate the registry database to the newest schema (Alembic)."""
    from kwartier.registry.database import upgrade  # noqa: PLC0415

    settings = load_settings(home)
    settings.home.mkdir(parents=True, exist_ok=True)
    upgrade(settings.registry_url)
    err.print(f"registry at head: {settings.registry_url}")


@registry_app.command("load")
def registry_load(
    master_dir: Annotated[Path, typer.Argument(help="Folder with the master-data CSV files.")],
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Load master data (grid areas, parties, access points, meters, regimes, capacities, installations)."""
    from kwartier.registry.database import analyse, open_registry, upgrade  # noqa: PLC0415
    from kwartier.registry.master_data import load_master_data  # noqa: PLC0415

    settings = load_settings(home)
    settings.home.mkdir(parents=True, exist_ok=True)
    upgrade(settings.registry_url)
    sessions = open_registry(settings.registry_url)
    with sessions() as session, session.begin():
        counts = load_master_data(session, master_dir)
    with sessions() as session, session.begin():
        analyse(session, [table for table, count in counts.items() if count])
    if as_json:
        print_json(counts)
    else:
        for table, count in counts.items():
            out.print(f"{table:>24}: {count:>9,}")


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest, each file one batch.")],
    recorded_at: Annotated[
        str | None,
        typer.Option(help="When the data is deemed received (ISO-8601; default now). For replays."),
    ] = None,
    ean: Annotated[str | None, typer.Option(help="EAN of the access point of a P1 telegram.")] = None,
    strict: Annotated[bool, typer.Option(help="Exit 3 when any row was quarantined.")] = False,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Capture files (head-end exports, Mijn Fluvius exports, P1 telegrams) into the meter-data store."""
    from kwartier.capture.ingest import BatchReport, ingestor  # noqa: PLC0415
    from kwartier.capture.quarantine import InputFormatError  # noqa: PLC0415
    from kwartier.registry.database import upgrade  # noqa: PLC0415

    settings = load_settings(home)
    settings.home.mkdir(parents=True, exist_ok=True)
    upgrade(settings.registry_url)
    files: list[Path] = []
    for path in paths:
        if not path.exists():
            err.print(f"[red]{path}: no such file or folder[/red]")
            raise typer.Exit(EXIT_FAILED)
        files.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
    reports: list[BatchReport] = []
    failures: list[dict[str, str]] = []
    with progress_bar(not as_json) as update, ingestor(settings) as worker:
        for number, path in enumerate(files):
            if update:
                update("files", number, len(files))
            worker.reset_tables()
            try:
                reports.append(
                    worker.ingest(path, recorded_at=instant(recorded_at), ean=ean, progress=update)
                )
            except (InputFormatError, ValueError, OSError) as error:
                failures.append({"file": str(path), "error": str(error)})
                err.print(f"[red]{error}[/red]")
    if as_json:
        print_json({"batches": [r.as_dict() for r in reports], "failed": failures})
    else:
        _print_batch_table(reports)
        for report in reports:
            for rejection in report.rejections[:5]:
                err.print(
                    f"[yellow]{rejection['file']}:{rejection['line']}: {rejection['field']}: "
                    f"{rejection['code']} {rejection['reason']}[/yellow]"
                )
            if report.quarantined > 5:
                err.print(
                    f"[yellow]… {report.quarantined - 5} more in quarantine/{report.batch}.csv[/yellow]"
                )
            for warning in report.warnings:
                err.print(f"[yellow]warning: {warning}[/yellow]")
    if failures:
        raise typer.Exit(EXIT_FAILED)
    if strict and any(r.quarantined for r in reports):
        raise typer.Exit(EXIT_QUARANTINE)


def _print_batch_table(reports: list[Any]) -> None:
    table = Table(title="Batches")
    for column in (
        "file",
        "status",
        "accepted",
        "rejected",
        "flagged",
        "quarantined",
        "duplicate",
        "superseded",
    ):
        table.add_column(column, justify="left" if column in ("file", "status") else "right")
    for r in reports:
        table.add_row(
            Path(r.file).name,
            r.status,
            *(
                f"{n:,}"
                for n in (r.accepted, r.rejected, r.flagged, r.quarantined, r.duplicate, r.superseded)
            ),
        )
    out.print(table)


@app.command()
def export(
    ean: Annotated[str, typer.Argument(help="EAN of the access point.")],
    date_from: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD, local).")],
    date_to: Annotated[str, typer.Option("--to", help="Day after the last one (YYYY-MM-DD, local).")],
    granularity: Annotated[str, typer.Option(help="quarter | hour | day | month")] = "quarter",
    fmt: Annotated[str, typer.Option("--format", help="csv | json | mijn-fluvius")] = "csv",
    language: Annotated[str, typer.Option(help="mijn-fluvius header language: en | nl")] = "en",
    as_of: Annotated[str | None, typer.Option(help="Data as known at this moment (ISO-8601).")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default stdout).")
    ] = None,
    home: HomeOption = None,
) -> None:
    """Export one access point's current values (as known at a moment) as CSV, JSON or Mijn Fluvius CSV."""
    from kwartier.domain.timegrid import local_midnight_utc  # noqa: PLC0415
    from kwartier.exposure.export import ExportFormat, Granularity, export_readings  # noqa: PLC0415
    from kwartier.exposure.lookup import access_point_identity  # noqa: PLC0415
    from kwartier.store.pseudonym import Pseudonymiser  # noqa: PLC0415
    from kwartier.store.store import MeterStore  # noqa: PLC0415

    settings = load_settings(home)
    start = local_midnight_utc(date.fromisoformat(date_from))
    end = local_midnight_utc(date.fromisoformat(date_to))
    pseudonymiser = Pseudonymiser.from_key_file(settings.pseudonym_key_file)
    store = MeterStore.open(settings.store_dir)
    readings = store.read_access_point(pseudonymiser.of(ean), start, end, as_of=instant(as_of))
    meter, energy = access_point_identity(settings.registry_url, ean, readings)
    try:
        if output is None:
            rows = export_readings(
                readings,
                ean=ean,
                meter=meter,
                energy=energy,
                granularity=Granularity(granularity),
                fmt=ExportFormat(fmt),
                out=sys.stdout,
                language=language,
            )
        else:
            with output.open("w", encoding="utf-8", newline="") as handle:
                rows = export_readings(
                    readings,
                    ean=ean,
                    meter=meter,
                    energy=energy,
                    granularity=Granularity(granularity),
                    fmt=ExportFormat(fmt),
                    out=handle,
                    language=language,
                )
    except ValueError as error:
        err.print(f"[red]{error}[/red]")
        raise typer.Exit(EXIT_FAILED) from error
    err.print(f"{rows:,} rows exported")


def _days(date_from: str, date_to: str) -> list[date]:
    first, end = date.fromisoformat(date_from), date.fromisoformat(date_to)
    if end <= first:
        err.print("[red]--to must be after --from[/red]")
        raise typer.Exit(EXIT_FAILED)
    return [first + timedelta(days=n) for n in range((end - first).days)]


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="Folder to write the region into.")] = Path("simulation"),
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same files.")] = 42,
    access_points: Annotated[int, typer.Option(help="Electricity access points (gas ones on top).")] = 2000,
    days: Annotated[int, typer.Option(help="Market days to simulate.")] = 7,
    start: Annotated[str, typer.Option(help="First market day (YYYY-MM-DD).")] = "2026-11-02",
    as_json: JsonOption = False,
) -> None:
    """Simulate a region: master data, head-end interval and register exports with realistic faults."""
    from dataclasses import asdict  # noqa: PLC0415

    from kwartier.simulate.config import RegionConfig  # noqa: PLC0415
    from kwartier.simulate.simulator import simulate_region  # noqa: PLC0415

    config = RegionConfig(seed=seed, access_points=access_points, days=days, start=date.fromisoformat(start))
    with progress_bar(not as_json) as update:
        summary = simulate_region(config, out, update)
    if as_json:
        print_json(asdict(summary))
    else:
        out_console = summary
        err.print(
            f"region written to {out}: {out_console.interval_lines:,} interval lines in "
            f"{out_console.interval_files} files; master data in {out / 'master'}"
        )


@app.command()
def validate(
    date_from: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD).")],
    date_to: Annotated[str, typer.Option("--to", help="Day after the last one (YYYY-MM-DD).")],
    as_of: Annotated[str | None, typer.Option(help="Run as known at this moment (default now).")] = None,
    history_days: Annotated[int, typer.Option(help="Days of history for like-day estimates.")] = 28,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Validate days (completeness, register deltas) and estimate what is missing, as one batch."""
    from kwartier.validation.run import validate_days  # noqa: PLC0415

    settings = load_settings(home)
    report = validate_days(
        settings, _days(date_from, date_to), as_of=instant(as_of), history_days=history_days
    )
    if as_json:
        print_json(report.as_dict())
        return
    out.print(f"validation batch {report.batch[:12]}…: {report.status}")
    out.print(
        f"  expected series: {report.expected_series:,}; estimated values: {report.estimated:,}; "
        f"findings: {report.findings:,}"
    )
    for method, count in (report.by_method or {}).items():
        out.print(f"  {method:>28}: {count:,}")
    for rule, count in (report.by_rule or {}).items():
        out.print(f"  {rule:>28}: {count:,}")


@app.command()
def quality(
    date_from: Annotated[str | None, typer.Option("--from", help="First day (default: 7 days back).")] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", help="Day after the last one (default: today).")
    ] = None,
    as_of: Annotated[str | None, typer.Option(help="As known at this moment (default now).")] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """The regulator's quality indicators (seed 000 §4.1.2, §6.2.4) from the store."""
    from kwartier.quality.report import render  # noqa: PLC0415
    from kwartier.quality.run import quality_report  # noqa: PLC0415

    settings = load_settings(home)
    moment = instant(as_of) or datetime.now(UTC)
    end = date_to or moment.date().isoformat()
    first = date_from or (date.fromisoformat(end) - timedelta(days=7)).isoformat()
    report = quality_report(settings, _days(first, end), as_of=moment)
    if as_json:
        print_json(report.as_dict())
        return
    for table in render(report):
        out.print(table)


@store_app.command("compact")
def store_compact(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Merge the files of each month and bucket into sorted files, current values apart from their history
    (no query result changes; run it before billing-refresh)."""
    from kwartier.store.store import MeterStore  # noqa: PLC0415

    settings = load_settings(home)
    info = MeterStore.open(settings.store_dir).compact("readings")
    if as_json:
        print_json(info)
    else:
        out.print(info)


@store_app.command("batches")
def store_batches(
    limit: Annotated[int, typer.Option(help="How many of the newest batches.")] = 20,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """The batch catalogue: newest batches with their reports."""
    from kwartier.registry.batches import list_batches  # noqa: PLC0415
    from kwartier.registry.database import open_registry, upgrade  # noqa: PLC0415

    settings = load_settings(home)
    upgrade(settings.registry_url)
    with open_registry(settings.registry_url)() as session:
        records = list_batches(session, limit)
    if as_json:
        print_json(
            [{"batch": r.batch_id, "kind": r.kind, "file": r.file_name, "report": r.report} for r in records]
        )
        return
    table = Table(title="Batches")
    for column in ("batch", "kind", "file", "recorded at", "accepted", "estimated"):
        table.add_column(column)
    for r in records:
        table.add_row(
            r.batch_id[:12],
            r.kind,
            Path(r.file_name).name,
            r.recorded_at.isoformat(),
            str(r.report.get("accepted", "")),
            str(r.report.get("estimated", "")),
        )
    out.print(table)


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Random seed of the simulated region.")] = 42,
    access_points: Annotated[int, typer.Option(help="Electricity access points.")] = 2000,
    days: Annotated[int, typer.Option(help="Market days.")] = 7,
    serve_after: Annotated[
        bool, typer.Option("--serve", help="Then start the portal and the API (kwartier serve).")
    ] = False,
    port: Annotated[int, typer.Option(help="TCP port for --serve.")] = 8000,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """The main job: simulate a region → ingest → validate and estimate → quality report → data market."""
    from kwartier.demo import run_demo  # noqa: PLC0415
    from kwartier.quality.report import render  # noqa: PLC0415
    from kwartier.simulate.config import RegionConfig  # noqa: PLC0415

    settings = load_settings(home)
    settings.home.mkdir(parents=True, exist_ok=True)
    config = RegionConfig(seed=seed, access_points=access_points, days=days)
    with progress_bar(not as_json) as update:
        result = run_demo(settings, config, update)
    assert result.quality is not None
    if as_json:
        sharing = result.sharing.summary if result.sharing else None
        billing = result.billing.as_dict() if result.billing else None
        market = result.data_market
        print_json(
            {
                "market": result.market.as_dict() if result.market else None,
                "totals": result.totals(),
                "quality": result.quality.as_dict(),
                "sharing": sharing,
                "billing": billing,
                "data_market": None
                if market is None
                else {
                    "accounts": sorted(market.accounts),
                    "reads": market.reads,
                    "consent_path": market.consent_path,
                },
            }
        )
        if serve_after:
            serve(port=port, home=settings.home)
        return
    _print_batch_table(result.batches)
    totals = result.totals()
    out.print(
        f"{len(result.batches)} deliveries ingested: {totals['accepted']:,} values accepted, "
        f"{totals['rejected']:,} rejected, {totals['quarantined']:,} quarantined, {totals['duplicate']:,} "
        f"duplicates, {totals['superseded']:,} superseded; {totals['estimated']:,} values estimated, "
        f"{totals['findings']:,} findings."
    )
    for table in render(result.quality):
        out.print(table)
    if result.sharing is not None:
        sharing_cli.print_monthly(result.sharing.monthly)
    if result.billing is not None:
        out.print(
            f"Billing data kept: monthly and billing peaks of {result.billing.access_point_months:,} "
            f"access-point months ({', '.join(result.billing.recomputed) or 'none changed'})."
        )
    if result.market is not None:
        _print_market(result.market)
    first, end = result.days[0], result.days[-1] + timedelta(days=1)
    master = result.simulation / "master"
    out.print(
        "\n[bold]Where to look next[/bold]\n"
        f"  data home:          {settings.home}  (store/, registry.sqlite, quarantine/)\n"
        f"  simulated region:   {result.simulation}\n"
        f"  quality as JSON:    kwartier quality --from {first} --to {end} --as-of "
        f"{result.quality.as_of.isoformat()} --json\n"
        f"  one access point:   kwartier export <EAN from {master / 'access_points.csv'}> "
        f"--from {first} --to {end} --granularity day\n"
        "  capacity tariff:    kwartier peaks --ean <EAN>\n"
        "  supply market:      kwartier market state <EAN> --json; kwartier market blocked\n"
        f"  billing data:       kwartier billing <EAN> --from {first} --to {end}\n"
        "  batch catalogue:    kwartier store batches"
    )
    _print_data_market(result.data_market, settings.home, port)
    if serve_after:
        serve(port=port, home=settings.home)


def _print_market(run: Any) -> None:
    """One paragraph on the demo's supply-market stream (issue 3)."""
    kinds = ", ".join(f"{count:,} {kind}" for kind, count in run.messages.items())
    reasons = ", ".join(f"{count:,} {code}" for code, count in run.rejected.items()) or "none"
    blocked = run.blocked
    out.print(
        f"Supply market: {sum(run.messages.values()):,} messages ({kinds}), {run.new:,} applied now; "
        f"{run.accepted:,} accepted; rejected: {reasons}. {run.outbox:,} outbox messages to the parties; "
        f"{run.advanced:,} access points advanced to the last moment; {blocked['blocked']:,} blocked "
        f"({blocked['blocked_over_10_days']:,} over 10 days).",
        soft_wrap=True,
    )


def _print_data_market(seed: Any, home: Path, port: int) -> None:
    """Where to click in the portal and the API of the demo (issue 6)."""
    from kwartier.access.demo import PASSWORD  # noqa: PLC0415

    base = f"http://127.0.0.1:{port}"
    start = f"kwartier serve --home {home} --port {port}"
    if seed is None:
        out.print(f"\n[bold]Portal and API[/bold] (seeded before): {start}, then open {base}/")
        return
    accounts = "\n".join(f"    {login:<24} {what}" for login, what in seed.accounts.items())
    out.print(
        f"\n[bold]Portal and API[/bold]: {start}  (or ./scripts/demo.sh --serve)\n"
        f"  portal:             {base}/  — sign in with password {PASSWORD!r} as\n{accounts}\n"
        f"  a pending consent:  {base}{seed.consent_path}  (sign in as bert@kwartier.demo)\n"
        f"  API for providers:  {base}/api/v1/docs  — client credentials in {seed.provider_credentials}\n"
        f"  public status:      {base}/api/v1/status",
        soft_wrap=True,
    )


def main() -> None:
    """Entry point of the ``kwartier`` script."""
    app()
