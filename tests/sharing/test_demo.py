"""The demo registers an energy community in the simulated region and shows its monthly result."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kwartier.cli import app


def test_demo_settles_a_community(tmp_path: Path) -> None:
    args = ["demo", "--home", str(tmp_path / "home"), "--access-points", "80", "--days", "2", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    sharing = json.loads(result.stdout)["sharing"]
    assert sharing["group"] == "demo-community"
    assert [p["key"] for p in sharing["periods"]] == ["optimal"]
    totals = sharing["totals_wh"]
    assert totals["shared_wh"] > 0
    assert totals["shared_wh"] + totals["net_injection_wh"] == totals["injection_wh"]
    assert totals["shared_wh"] + totals["net_offtake_wh"] == totals["offtake_wh"]
    assert sharing["participant_quarters"] % (2 * 96) == 0
    # the member who moved in through the market (the data market's household) has a supplier, who gets
    # the month's result through the market outbox
    outbox = CliRunner().invoke(app, ["market", "outbox", "--home", str(tmp_path / "home"), "--json"])
    results = [m for m in json.loads(outbox.stdout) if m["type"] == "sharing_result"]
    assert results and all(m["group"] == "demo-community" and m["periods"] for m in results)
    again = CliRunner().invoke(app, args)  # the community is registered once; the run is the same
    assert json.loads(again.stdout)["sharing"]["totals_wh"] == totals
