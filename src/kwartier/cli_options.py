"""What every command group of the CLI shares: the ``--json`` and ``--home`` options, JSON output, and
the consoles (progress and messages on standard error, tables on standard output)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

err = Console(stderr=True)
out = Console()

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document for machines.")]
HomeOption = Annotated[
    Path | None, typer.Option("--home", help="Data home (default: $KWARTIER_HOME or ./kwartier-data).")
]


def print_json(document: Any) -> None:
    """Write ``document`` as indented JSON on standard output (dates and decimals as text)."""
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
