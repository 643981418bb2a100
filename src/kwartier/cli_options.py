"""What every command group of the CLI shares: the ``--json`` and ``--home`` options, instants given on
the command line, failing with a message, JSON output, and the consoles (messages on standard error,
tables on standard output)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

EXIT_FAILED = 1
"""Exit code of a command that could not do its work (a file, a batch or an input failed)."""

err = Console(stderr=True)
out = Console()

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document for machines.")]
MonthsOption = Annotated[
    list[str] | None,
    typer.Option("--month", help="Months to check (YYYY-MM; default: all in the store)."),
]
HomeOption = Annotated[
    Path | None, typer.Option("--home", help="Data home (default: $KWARTIER_HOME or ./kwartier-data).")
]


def print_json(document: Any) -> None:
    """Write ``document`` as indented JSON on standard output (dates and decimals as text)."""
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")


def instant(text: str | None) -> datetime | None:
    """An ISO-8601 instant from the command line; a date or a naive time is taken as UTC."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as error:
        raise typer.BadParameter(f"{text!r} is no ISO-8601 instant") from error
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def fail(message: str) -> typer.Exit:
    """Print ``message`` as an error on standard error; the exit (code 1) for the caller to raise."""
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_FAILED)
