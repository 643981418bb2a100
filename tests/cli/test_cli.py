"""The command line: exit codes, JSON output, and the main job on a small region."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kwartier.cli import app
from tests.capture.samples import ENGLISH_ELECTRICITY

runner = CliRunner()


def test_ingest_json_and_exit_codes(tmp_path: Path, samples_dir: Path) -> None:
    home = str(tmp_path / "home")
    sample = str(samples_dir / "mijn-fluvius" / ENGLISH_ELECTRICITY)
    result = runner.invoke(app, ["ingest", sample, "--home", home, "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["batches"][0]["status"] == "committed"
    again = runner.invoke(app, ["ingest", sample, "--home", home, "--json"])
    assert json.loads(again.stdout)["batches"][0]["status"] == "duplicate-batch"
    missing = runner.invoke(app, ["ingest", str(tmp_path / "nothing.csv"), "--home", home])
    assert missing.exit_code == 1


def test_unreadable_file_fails_with_its_reason(tmp_path: Path) -> None:
    junk = tmp_path / "junk.csv"
    junk.write_text("hello;world\n1;2\n")
    result = runner.invoke(app, ["ingest", str(junk), "--home", str(tmp_path / "home"), "--json"])
    assert result.exit_code == 1
    failed = json.loads(result.stdout)["failed"]
    assert failed[0]["file"] == str(junk) and "unknown format" in failed[0]["error"]


def test_strict_exits_3_on_quarantine(tmp_path: Path, samples_dir: Path) -> None:
    broken = tmp_path / "broken.csv"
    source = (samples_dir / "mijn-fluvius" / ENGLISH_ELECTRICITY).read_text(encoding="utf-8-sig").splitlines()
    broken.write_text("\n".join([source[0], source[3], source[4].replace("0,", "zero,")]) + "\n")
    result = runner.invoke(app, ["ingest", str(broken), "--home", str(tmp_path / "home"), "--strict"])
    assert result.exit_code == 3


def test_demo_runs_end_to_end_and_reports_quality(tmp_path: Path) -> None:
    home = tmp_path / "home"
    args = ["demo", "--home", str(home), "--access-points", "60", "--days", "3", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["totals"]["accepted"] > 0
    assert document["totals"]["estimated"] > 0
    electricity = document["quality"]["electricity"]
    assert electricity["non_communicating"]["digital_meters"] > 0
    assert 0 < electricity["timeliness"]["share_by_d1"] <= 1
    assert document["billing"]["recomputed"] == ["2026-11"]  # the region's week lies in November 2026
    assert document["billing"]["access_point_months"] > 0
    market = document["data_market"]  # portal users who moved in, a provider, mandates, real API reads
    assert market["accounts"] == [
        "ann@kwartier.demo",
        "bert@kwartier.demo",
        "facility@bakkerij.demo",
        "ops@kwartier.demo",
    ]
    assert market["reads"] == 3 and market["consent_path"].startswith("/consent/kwc_")
    supply = document["market"]  # the supply market's stream over the region's days
    assert supply["messages"]["move_in"] > 0 and supply["new"] > 0
    assert 0 < supply["accepted"] <= supply["new"] and supply["outbox"] > 0
    rerun = runner.invoke(app, args)  # replaying the same region changes nothing
    again = json.loads(rerun.stdout)
    assert again["totals"]["accepted"] == 0 and again["data_market"] is None
    assert again["market"]["new"] == 0 and again["market"]["outbox"] == 0
