"""``kwartier sharing``: energy sharing and peer-to-peer sale (seed 002, issue 5).

- ``compute``: stateless, files in and out (:mod:`kwartier.sharing.inputs`);
- ``run``: a settlement run of a registered group on validated data from the store, written as Parquet
  under the data home (:mod:`kwartier.sharing.settlement`);
- ``compare``: the three keys side by side on past data (:mod:`kwartier.sharing.compare`).

Exit codes: 0 success; 1 malformed input, a group that breaks a participation rule, or an unknown group
(the message names the file, line or rule).
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from kwartier.config import load_settings
from kwartier.engine import connect, load, to_arrow
from kwartier.sharing.allocation import PARTICIPANT, START, allocate
from kwartier.sharing.group import Group
from kwartier.sharing.inputs import InputError, read_group, read_readings, wh_to_kwh_text, write_result
from kwartier.sharing.totals import Totals, amount_eur, check_conservation, totals_per_participant

app = typer.Typer(help="Energy sharing and peer-to-peer sale, per quarter hour.", no_args_is_help=True)
EXIT_FAILED = 1
err = Console(stderr=True)
out = Console()

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document for machines.")]


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(EXIT_FAILED)


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
        raise _fail(str(error)) from error
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
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
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


def _decimal(text: str) -> Decimal:
    return Decimal(text)


def _instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
