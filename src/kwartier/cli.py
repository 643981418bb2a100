"""The ``kwartier`` command line (Typer)."""

from __future__ import annotations

import typer

from kwartier import __version__

app = typer.Typer(help="kwartier: the data hub for smart-meter data.", no_args_is_help=True)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    """Entry point of the ``kwartier`` script."""
    app()
