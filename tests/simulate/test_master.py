"""Master data: valid EANs, referential consistency, plausible shares."""

from __future__ import annotations

import re

from kwartier.domain.ean import check_digit, is_valid_ean
from tests.simulate.conftest import Simulated


def test_eans_are_valid_belgian_gsrn(clean_winter: Simulated) -> None:
    eans = clean_winter.master("access_points").column("ean").to_pylist()
    assert len(eans) == len(set(eans))
    assert all(len(e) == 18 and e.startswith("5414") and is_valid_ean(e) for e in eans)
    summary = clean_winter.summary
    assert len(eans) == summary.electricity_access_points + summary.gas_access_points


def test_every_reference_points_to_a_known_access_point(clean_winter: Simulated) -> None:
    points = clean_winter.master("access_points").to_pylist()
    energy = {row["ean"]: row["energy"] for row in points}
    areas = set(clean_winter.master("grid_areas").column("code").to_pylist())
    assert {row["grid_area"] for row in points} <= areas
    meters = clean_winter.master("meters").to_pylist()
    assert sorted(row["ean"] for row in meters) == sorted(energy)
    for row in meters:
        pattern = r"1SAG11\d{8}" if row["energy"] == "electricity" else r"7FLO11\d{8}"
        assert re.fullmatch(pattern, row["serial"])
        assert row["energy"] == energy[row["ean"]]
        assert row["kind"] in {"digital", "amr", "classic"}
    assert sorted(clean_winter.master("regimes").column("ean").to_pylist()) == sorted(energy)
    for row in clean_winter.master("regimes").to_pylist():
        assert row["regime"] in {"SMR1", "SMR3"}
        assert row["valid_to"] is None or row["valid_to"] == ""
    for row in clean_winter.master("capacities").to_pylist():
        if energy[row["ean"]] == "gas":
            assert (row["unit"], float(row["capacity"])) in {("m3/h", 6.0), ("m3/h", 10.0)}
        else:
            assert row["unit"] == "kVA"
            assert 9.2 <= float(row["capacity"]) <= 630
    for row in clean_winter.master("installations").to_pylist():
        assert energy[row["ean"]] == "electricity"
        assert row["kind"] in {"pv", "battery"}
        assert float(row["kva"]) > 0
    codes = clean_winter.master("parties").column("code").to_pylist()
    assert all(len(code) == 13 and check_digit(code[:-1]) == int(code[-1]) for code in codes)  # GLN-13
    roles = clean_winter.master("parties").column("roles").to_pylist()
    assert "dso" in roles
    assert roles.count("supplier|brp") >= 2


def test_shares_are_near_the_configuration(clean_winter: Simulated) -> None:
    summary, config = clean_winter.summary, clean_winter.config
    households = summary.households
    assert abs(summary.pv - config.pv_share * households) < 0.1 * households
    assert abs(summary.gas_access_points - config.gas_share * households) < 0.1 * households
    electricity = summary.meters["electricity"]
    small = electricity["digital"] + electricity["classic"]
    assert abs(electricity["digital"] / small - config.digital_share) < 0.06


def test_unregistered_pv_is_missing_from_installations_but_injects(faulty: Simulated) -> None:
    registered = {row["ean"] for row in faulty.master("installations").to_pylist() if row["kind"] == "pv"}
    lines = faulty.intervals(as_text=True)
    channel = lines.column("channel").to_numpy(zero_copy_only=False)
    injecting = set(lines.filter(channel == "injection").column("ean").to_pylist())
    unregistered = injecting - registered
    assert len(unregistered) == faulty.summary.faults.unregistered_pv
    assert len(unregistered) >= 1
