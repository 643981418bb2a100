"""``kwartier access``: an operator bootstraps an account, a token and a contract from the command line."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kwartier.cli import app
from kwartier.config import load_settings
from kwartier.server import create_app

runner = CliRunner()


def test_operator_bootstrap_then_the_api_accepts_the_token(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    made = runner.invoke(
        app,
        ["access", "account", "ops@dso.be", "--role", "operator", "--home", home],
        input="long enough pw\n" * 2,
    )
    assert made.exit_code == 0, made.output
    again = runner.invoke(
        app,
        ["access", "account", "OPS@dso.be", "--role", "operator", "--home", home],
        input="long enough pw\n" * 2,
    )
    assert again.exit_code == 1 and "exists" in again.output
    token = runner.invoke(app, ["access", "token", "ops@dso.be", "--home", home])
    assert token.exit_code == 0 and token.stdout.startswith("kwp_")
    assert runner.invoke(app, ["access", "token", "nobody@dso.be", "--home", home]).exit_code == 1
    unknown = runner.invoke(app, ["access", "contract", "5414499000079", "DAC-1", "--home", home, "--json"])
    assert unknown.exit_code == 1 and "unknown party" in unknown.output
    with TestClient(create_app(load_settings(Path(home)))) as client:
        headers = {"Authorization": f"Bearer {token.stdout.strip()}"}
        assert client.get("/api/v1/operator/usage", headers=headers).status_code == 200
