"""The billing commands of the CLI: ``kwartier peaks`` and ``kwartier billing``.

``peaks FILE...`` works straight from files, without the registry or the store, so that any household can
check its capacity tariff from its own export; ``peaks --ean EAN`` and ``billing EAN`` read the store.
Exit codes: 0 success; 1 a file could not be read, or there is nothing to compute; 2 wrong usage.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import typer
from rich.markup import escape
from rich.table import Table

from kwartier.billing.peak_report import peak_report, peaks_document
from kwartier.billing.prosumer import DEFAULT_PROSUMER_EUR_PER_KVA_YEAR
from kwartier.cli_options import HomeOption, JsonOption, MonthsOption, err, fail, instant, out, print_json
from kwartier.config import EngineName, load_settings

EngineOption = Annotated[EngineName, typer.Option("--engine", help="Calculation engine.")]


def peaks(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Mijn Fluvius exports, head-end interval CSVs or P1 telegrams."),
    ] = None,
    ean: Annotated[
        str | None, typer.Option("--ean", help="An access point in the store instead of files.")
    ] = None,
    month_from: Annotated[str | None, typer.Option("--from", help="First month shown (YYYY-MM).")] = None,
    month_to: Annotated[str | None, typer.Option("--to", help="Last month shown (YYYY-MM).")] = None,
    as_json: JsonOption = False,
    engine: EngineOption = EngineName.DUCKDB,
    home: HomeOption = None,
) -> None:
    """Monthly capacity-tariff peaks and the billing peak (average of the last 12 months, 2.5 kW floor),
    from files (nothing is stored) or, with --ean, the billing data kept for an access point."""
    from kwartier.engine import connect  # noqa: PLC0415 - keeps `kwartier --help` fast

    if files and ean is None:
        document = _peaks_of_files(connect(engine), files)
    elif ean is not None and not files:
        document = _peaks_of_store(ean, month_from, month_to, home)
    else:
        raise fail("give either files or --ean")
    if as_json:
        print_json(document)
        return
    for point in document["access_points"]:
        _print_peaks(point)
    if not document["access_points"]:
        err.print("no quarter-hour offtake or monthly peaks found")


def _peaks_of_files(backend: Any, files: list[Path]) -> dict[str, Any]:
    from kwartier.billing.sources import read_files  # noqa: PLC0415
    from kwartier.capture.quarantine import InputFormatError  # noqa: PLC0415

    try:
        content = read_files(files, datetime.now(UTC))
    except (InputFormatError, OSError) as error:
        raise fail(str(error)) from error
    for warning in content.warnings:
        err.print(f"[yellow]{escape(warning)}[/yellow]", soft_wrap=True)
    for rejection in content.rejections:
        err.print(f"[yellow]{escape(str(rejection))} ({rejection.code})[/yellow]", soft_wrap=True)
    report = peak_report(backend, "ean", content.readings, content.peaks)
    if report.num_rows == 0:
        raise fail("the files hold no quarter-hour offtake and no monthly peaks")
    return {**peaks_document(report, "ean"), "rejected_rows": len(content.rejections)}


def _peaks_of_store(
    ean: str, month_from: str | None, month_to: str | None, home: Path | None
) -> dict[str, Any]:
    """The kept billing data of ``ean`` (``kwartier billing-refresh``), stale months marked."""
    from kwartier.billing.billing_data import STALE, read_billing_peaks  # noqa: PLC0415
    from kwartier.store.pseudonym import Pseudonymiser  # noqa: PLC0415

    settings = load_settings(home)
    ap = Pseudonymiser.from_key_file(settings.pseudonym_key_file).of(ean)
    kept = read_billing_peaks(settings, ap)
    if kept.num_rows == 0:
        raise fail(f"no billing data kept for {ean}: run `kwartier billing-refresh` after ingesting")
    first = _month(month_from) if month_from else date.min
    last = _month(month_to) if month_to else date.max
    rows = [row for row in kept.to_pylist() if first <= row["month"] <= last]
    document = peaks_document(pa.Table.from_pylist(rows, schema=kept.schema), "ap", {ap: ean})
    stale = {f"{row['month']:%Y-%m}" for row in rows if row[STALE]}
    for point in document["access_points"]:
        for month in point["months"]:
            month[STALE] = month["month"] in stale
    return document


def billing_refresh(
    months: MonthsOption = None,
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """Recompute the kept monthly and billing peaks of every month whose data changed."""
    from kwartier.billing.billing_data import refresh  # noqa: PLC0415

    report = refresh(load_settings(home), [_month(m) for m in months] if months else None)
    if as_json:
        print_json(report.as_dict())
        return
    err.print(
        f"recomputed {len(report.recomputed)} month(s) ({report.access_point_months:,} access-point months), "
        f"{len(report.current)} current; billing peaks of {len(report.billing_months)} month(s) updated; "
        f"{report.files_scanned:,} store file(s) scanned, candidates of {report.files_kept:,} kept"
    )


def _month(text: str) -> date:
    try:
        return date.fromisoformat(f"{text}-01")
    except ValueError as error:
        raise fail(f"{text!r} is not a month (YYYY-MM)") from error


def _print_peaks(point: dict[str, Any]) -> None:
    table = Table(title=f"Capacity tariff of {point['ean']}")
    for name in ("month", "monthly peak kW", "peak quarter", "billing peak kW", "months", "estimated"):
        table.add_column(name, justify="left" if name in ("month", "peak quarter") else "right")
    for month in point["months"]:
        table.add_row(
            month["month"],
            f"{month['peak_kw']:.3f}",
            month.get("peak_start", "")[:16].replace("T", " "),  # local time; the offset is in --json
            f"{month['billing_peak_kw']:.3f}",
            str(month["months_in_billing_peak"]),
            "yes" if month["estimated"] else "",
        )
    out.print(table)


def billing(
    ean: Annotated[str, typer.Argument(help="EAN of the access point.")],
    date_from: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD, local).")],
    date_to: Annotated[str, typer.Option("--to", help="Day after the last one (YYYY-MM-DD, local).")],
    net_metering_until: Annotated[
        str | None,
        typer.Option(
            help="Cut-off: first day a digital-meter prosumer is billed gross (publication of the judgment)."
        ),
    ] = None,
    prosumer_eur_per_kva: Annotated[
        str, typer.Option(help="Prosumer tariff of a classic meter [€/kVA per year], a decimal number.")
    ] = str(DEFAULT_PROSUMER_EUR_PER_KVA_YEAR),
    as_of: Annotated[str | None, typer.Option(help="Data as known at this moment (ISO-8601).")] = None,
    daily: Annotated[bool, typer.Option("--daily", help="Add the totals per market day.")] = False,
    as_json: JsonOption = False,
    engine: EngineOption = EngineName.DUCKDB,
    home: HomeOption = None,
) -> None:
    """Monthly (with --daily also daily) offtake and injection per tariff period, peaks and net-metering
    figures of an access point."""
    from kwartier.billing.statement import billing_statement  # noqa: PLC0415

    try:
        document = billing_statement(
            load_settings(home),
            ean,
            date.fromisoformat(date_from),
            date.fromisoformat(date_to),
            cutoff=date.fromisoformat(net_metering_until) if net_metering_until else None,
            eur_per_kva_year=_decimal(prosumer_eur_per_kva),
            as_of=instant(as_of),
            engine=engine,
            daily=daily,
        )
    except ValueError as error:
        raise fail(str(error)) from error
    if as_json:
        print_json(document)
        return
    _print_statement(document)


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation as error:
        raise fail(f"{text!r} is not a decimal number") from error


def _print_statement(document: dict[str, Any]) -> None:
    table = Table(title=f"Billing data of {document['ean']} ({document['meter'] or 'no meter'})")
    for name in ("month", "channel", "tariff", "kWh", "quarters", "estimated"):
        table.add_column(name, justify="left" if name in ("month", "channel", "tariff") else "right")
    for month in document["months"]:
        for channel in ("offtake", "injection"):
            for tariff, figures in sorted(month.get(channel, {}).items()):
                table.add_row(
                    month["month"],
                    channel,
                    tariff,
                    f"{figures['kwh']:.3f}",
                    str(figures["quarters"]),
                    str(figures["estimated_quarters"]),
                )
    out.print(table)
    measured = [p for p in document["peaks"] if "month" in p]
    if measured:
        _print_peaks({"ean": document["ean"], "months": measured})
    for flat in (p for p in document["peaks"] if p.get("flat")):
        out.print(f"Classic meter: flat billing peak of {flat['billing_peak_kw']:.3f} kW")
    if "net_metering" in document:
        out.print_json(data=document["net_metering"])
    if "prosumer_tariff" in document:
        out.print_json(data=document["prosumer_tariff"])
