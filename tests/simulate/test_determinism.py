"""Same configuration → byte-identical files; another seed → other files."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from kwartier.simulate.config import RegionConfig
from kwartier.simulate.simulator import simulate_region


def _files(root: Path) -> dict[str, bytes]:
    paths = sorted(path for path in root.rglob("*") if path.is_file())
    return {str(path.relative_to(root)): path.read_bytes() for path in paths}


def test_same_config_gives_byte_identical_files(tmp_path: Path) -> None:
    config = RegionConfig(seed=5, access_points=250, start=date(2026, 3, 28), days=3)
    calls: list[tuple[str, int, int]] = []
    simulate_region(config, tmp_path / "a", lambda stage, done, total: calls.append((stage, done, total)))
    simulate_region(config, tmp_path / "b")
    first, second = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert len(first) > 10
    assert first == second
    assert calls[-1][1] == calls[-1][2]


def test_another_seed_gives_other_values(tmp_path: Path) -> None:
    simulate_region(RegionConfig(seed=1, access_points=100, days=1), tmp_path / "a")
    simulate_region(RegionConfig(seed=2, access_points=100, days=1), tmp_path / "b")
    assert _files(tmp_path / "a") != _files(tmp_path / "b")


def test_manifest_lists_every_file_in_delivery_order(tmp_path: Path) -> None:
    summary = simulate_region(RegionConfig(seed=9, access_points=400, days=4), tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    listed = [entry["file"] for entry in manifest["files"]]
    on_disk = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "headend").iterdir())
    assert sorted(listed) == on_disk
    times = [entry["delivered_at"] for entry in manifest["files"]]
    assert times == sorted(times)
    # the on-time delivery of market day D is at 03:00 Brussels (02:00 UTC in winter) on D + 1
    first = manifest["files"][0]
    assert first["delivered_at"] == "2026-11-03T02:00:00Z"
    assert first["market_days"] == ["2026-11-02"]
    assert first["gas_days"] == []
    assert manifest["summary"]["interval_lines"] == summary.interval_lines
    lines = sum(len((tmp_path / f).read_text(encoding="utf-8").splitlines()) - 1 for f in listed)
    assert lines == summary.interval_lines + summary.register_lines
