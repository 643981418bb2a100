"""``kwartier sharing``: energy sharing and peer-to-peer sale (seed 002, issue 5).

- ``compute``: stateless, files in and out (:mod:`kwartier.sharing.inputs`);
- ``run``: a settlement run of a registered group on validated data from the store, written as Parquet
  under the data home (:mod:`kwartier.sharing.settlement`);
- ``compare``: the three keys side by side on past data (:mod:`kwartier.sharing.compare`).

Exit codes: 0 success; 1 malformed input, a group that breaks a participation rule, or an unknown group
(the message names the file, line or rule).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import typer
from rich.table import Table

from kwartier.cli_options import HomeOption, JsonOption, err, fail, instant, out, print_json
from kwartier.config import load_settings
from kwartier.engine import connect, load, to_arrow
from kwartier.registry.database import open_registry
from kwartier.registry.sharing_groups import AllocationKey
from kwartier.schema import AP
from kwartier.sharing.allocation import (
    INJECTION_WH,
    NET_INJECTION_WH,
    NET_OFFTAKE_WH,
    OFFTAKE_WH,
    PARTICIPANT,
    SHARED_WH,
    START,
    allocate,
)
from kwartier.sharing.compare import (
    ENERGY_PRICE_EUR_PER_KWH,
    INJECTION_COMPENSATION_EUR_PER_KWH,
    KeyOutcome,
    compare_keys,
)
from kwartier.sharing.group import Group
from kwartier.sharing.inputs import InputError, read_group, read_readings, wh_to_kwh_text, write_result
from kwartier.sharing.outbox import publish_monthly
from kwartier.sharing.participation import ParticipationError
from kwartier.sharing.settlement import ESTIMATED_QUARTERS, MONTH, TARIFF, settle
from kwartier.sharing.totals import Totals, amount_eur, check_conservation, totals_per_participant
from kwartier.store.pseudonym import Pseudonymiser

app = typer.Typer(help="Energy sharing and peer-to-peer sale, per quarter hour.", no_args_is_help=True)


def _kwh(wh: int) -> float:
    return float(wh_to_kwh_text(wh))


def participant_document(
    totals: Totals, group: Group | None = None, label: str | None = None
) -> dict[str, Any]:
    """Totals of one participant for ``--json`` [kWh]; a P2P seller also gets sold and amount [EUR]."""
    document: dict[str, Any] = {
        "ean": label or totals.participant,
        "offtake_kwh": _kwh(totals.offtake_wh),
        "injection_kwh": _kwh(totals.injection_wh),
        "shared_kwh": _kwh(totals.shared_wh),
        "net_offtake_kwh": _kwh(totals.net_offtake_wh),
        "net_injection_kwh": _kwh(totals.net_injection_wh),
        "self_sufficiency": round(totals.self_sufficiency, 4),
    }
    if group is not None and group.price_eur_per_kwh is not None and totals.participant != group.buyer:
        document["sold_kwh"] = _kwh(totals.given_wh)
        document["amount_eur"] = float(amount_eur(totals.given_wh, group.price_eur_per_kwh))
    return document


@app.command()
def compute(
    group_file: Annotated[Path, typer.Option("--group", help="GROUP.json: form, key, participants, price.")],
    readings_file: Annotated[
        Path, typer.Option("--readings", help="READINGS.csv: ean,start,offtake_kwh,...")
    ],
    out_file: Annotated[Path, typer.Option("--out", help="RESULT.csv to write.")],
    as_json: JsonOption = False,
) -> None:
    """Allocate shared energy per quarter hour for a group given as files; no registry, no store."""
    try:
        group = read_group(group_file)
        readings = read_readings(readings_file, group)
    except InputError as error:
        raise fail(str(error)) from error
    backend = connect(load_settings().engine)
    result = to_arrow(allocate(load(backend, readings.table), group.key), [PARTICIPANT, START])
    check_conservation(result)
    write_result(out_file, result)
    totals = totals_per_participant(result)
    if as_json:
        document = {
            "group": group.code,
            "form": group.form.value,
            "key": group.key.value,
            "quarters": readings.quarters,
            "participants": [participant_document(t, group) for t in totals],
        }
        print_json(document)
        return
    _print_totals(f"group {group.code} ({group.form.value}, {group.key.value} key)", totals, group)
    err.print(f"wrote {out_file} ({result.num_rows} rows, {readings.quarters} quarter hours)")


def _print_totals(
    title: str, totals: list[Totals], group: Group | None, labels: dict[str, str] | None = None
) -> None:
    table = Table(title=title)
    for column in (
        "participant",
        "offtake kWh",
        "injection kWh",
        "shared kWh",
        "net offtake",
        "net injection",
    ):
        table.add_column(column, justify="left" if column == "participant" else "right")
    p2p = group is not None and group.price_eur_per_kwh is not None
    if p2p:
        table.add_column("sold kWh", justify="right")
        table.add_column("EUR", justify="right")
    for t in totals:
        cells = [
            (labels or {}).get(t.participant, t.participant),
            *(
                wh_to_kwh_text(v)
                for v in (t.offtake_wh, t.injection_wh, t.shared_wh, t.net_offtake_wh, t.net_injection_wh)
            ),
        ]
        if p2p and group is not None and group.price_eur_per_kwh is not None:
            seller = t.participant != group.buyer
            cells += [
                wh_to_kwh_text(t.given_wh) if seller else "",
                str(amount_eur(t.given_wh, group.price_eur_per_kwh)) if seller else "",
            ]
        table.add_row(*cells)
    out.print(table)


def _day(text: str) -> date:
    return date.fromisoformat(text)


GroupOption = Annotated[str, typer.Option("--group", help="Code of the registered sharing group.")]
FromOption = Annotated[str, typer.Option("--from", help="First market day (YYYY-MM-DD).")]
ToOption = Annotated[str, typer.Option("--to", help="Market day after the last one (YYYY-MM-DD).")]
AsOfOption = Annotated[
    str | None, typer.Option("--as-of", help="Use the data as known at this instant (default: now).")
]


@app.command("run")
def run_settlement(
    group: GroupOption,
    date_from: FromOption,
    date_to: ToOption,
    as_of: AsOfOption = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Settle a registered group on validated data from the store; write Parquet under the data home."""
    settings = load_settings(home)
    try:
        run = settle(settings, group, _day(date_from), _day(date_to), instant(as_of))
    except (LookupError, ParticipationError) as error:
        raise fail(str(error)) from error
    known_at = datetime.fromisoformat(run.summary["as_of"])
    with open_registry(settings.registry_url)() as session, session.begin():
        sent = publish_monthly(
            session,
            Pseudonymiser.from_key_file(settings.pseudonym_key_file),
            group,
            run.monthly,
            known_at,
            datetime.now(UTC),
        )
    if as_json:
        print_json({**run.summary, "directory": str(run.directory), "outbox_messages": sent})
        return
    print_monthly(run.monthly)
    summary = run.summary
    err.print(
        f"{summary['participant_quarters']:,} participant-quarters settled "
        f"({summary['estimated_quarters']:,} with estimated data, {summary['missing_quarters']:,} missing); "
        f"{len(summary['warnings'])} warnings; written to {run.directory}; {sent} new sharing_result "
        "message(s) in the market outbox for the suppliers and the manager"
    )


def print_monthly(monthly: pa.Table) -> None:
    """The monthly result per participant (pseudonym) and tariff period [kWh]."""
    table = Table(title="sharing: monthly result per participant (pseudonym) and tariff period, kWh")
    for column in (
        "ap",
        "month",
        "tariff",
        "offtake",
        "injection",
        "shared",
        "net offtake",
        "net injection",
        "est.",
    ):
        table.add_column(column, justify="left" if column in ("ap", "month", "tariff") else "right")
    for row in monthly.to_pylist():
        table.add_row(
            row[AP][:8],
            row[MONTH].strftime("%Y-%m"),
            row[TARIFF],
            *(
                wh_to_kwh_text(row[c])
                for c in (OFFTAKE_WH, INJECTION_WH, SHARED_WH, NET_OFFTAKE_WH, NET_INJECTION_WH)
            ),
            str(row[ESTIMATED_QUARTERS]),
        )
    out.print(table)


@app.command()
def compare(
    group: GroupOption,
    date_from: FromOption,
    date_to: ToOption,
    energy_price: Annotated[
        str, typer.Option(help="Energy component the receiver no longer pays [EUR/kWh] (seed 002: 0.41).")
    ] = str(ENERGY_PRICE_EUR_PER_KWH),
    compensation: Annotated[
        str,
        typer.Option(help="Injection compensation the injector no longer gets [EUR/kWh] (seed 002: 0.21)."),
    ] = str(INJECTION_COMPENSATION_EUR_PER_KWH),
    as_of: AsOfOption = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the three keys on past data: shared energy, self-sufficiency and money, per participant."""
    settings = load_settings(home)
    try:
        outcomes = compare_keys(
            settings,
            group,
            _day(date_from),
            _day(date_to),
            as_of=instant(as_of),
            energy_price=Decimal(energy_price),
            compensation=Decimal(compensation),
        )
    except (LookupError, ParticipationError) as error:
        raise fail(str(error)) from error
    by_key = {key: [o for o in outcomes if o.key is key] for key in AllocationKey}
    if as_json:
        document = {
            key.value: {
                "participants": [
                    {
                        **participant_document(o.totals, label=o.ean),
                        "saving_eur": float(o.saving_eur),
                        "lost_compensation_eur": float(o.lost_compensation_eur),
                        "benefit_eur": float(o.benefit_eur),
                    }
                    for o in rows
                ],
                "total": _total_document(rows),
            }
            for key, rows in by_key.items()
        }
        print_json(document)
        return
    table = Table(title=f"group {group}: the three keys on [{date_from}, {date_to})")
    for column in (
        "key",
        "participant",
        "shared kWh",
        "self-sufficiency",
        "saving EUR",
        "lost comp. EUR",
        "net EUR",
    ):
        table.add_column(column, justify="left" if column in ("key", "participant") else "right")
    for key, rows in by_key.items():
        for o in rows:
            table.add_row(
                key.value,
                o.ean,
                wh_to_kwh_text(o.totals.shared_wh),
                f"{o.totals.self_sufficiency:.1%}",
                str(o.saving_eur),
                str(o.lost_compensation_eur),
                str(o.benefit_eur),
            )
        total = _total_document(rows)
        table.add_row(
            key.value,
            "[bold]group[/bold]",
            f"{total['shared_kwh']:.3f}",
            f"{total['self_sufficiency']:.1%}",
            f"{total['saving_eur']:.2f}",
            f"{total['lost_compensation_eur']:.2f}",
            f"{total['benefit_eur']:.2f}",
            end_section=True,
        )
    out.print(table)


def _total_document(rows: list[KeyOutcome]) -> dict[str, float]:
    shared = sum(o.totals.shared_wh for o in rows)
    offtake = sum(o.totals.offtake_wh for o in rows)
    return {
        "shared_kwh": _kwh(shared),
        "offtake_kwh": _kwh(offtake),
        "self_sufficiency": round(shared / offtake, 4) if offtake else 0.0,
        "saving_eur": float(sum((o.saving_eur for o in rows), Decimal(0))),
        "lost_compensation_eur": float(sum((o.lost_compensation_eur for o in rows), Decimal(0))),
        "benefit_eur": float(sum((o.benefit_eur for o in rows), Decimal(0))),
    }
