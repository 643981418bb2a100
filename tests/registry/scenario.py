"""A small region of master-data files whose registry context is worked out by hand in the tests.

Access points (all in grid area ``GA1``):
- ``E1`` electricity: digital meter, 9.2 kVA, PV since 2021-05-01; SMR1 until 2026-11-15, then SMR3;
- ``E2`` electricity: classic meter replaced by a digital one on 2026-11-10; SMR1; 6.9 kVA;
- ``E3`` electricity: digital meter, SMR3, 5 kVA; a battery commissioned on 2026-11-20;
- ``E4`` electricity: digital meter, SMR1, 9.2 kVA; its PV replaced on 2026-11-05 by a new one the same
  day (production never stops);
- ``E5`` electricity: digital meter, 9.2 kVA, SMR1 only until 2026-10-01 (no regime afterwards);
- ``G1`` gas: digital meter, SMR1, 10 m³/h.
"""

from __future__ import annotations

from pathlib import Path

from kwartier.domain.ean import check_digit, with_check_digit

E1 = with_check_digit("54144882000000001")
E2 = with_check_digit("54144882000000002")
E3 = with_check_digit("54144882000000003")
E4 = with_check_digit("54144882000000004")
E5 = with_check_digit("54144882000000005")
G1 = with_check_digit("54144883000000001")
UNKNOWN = with_check_digit("54144882099999999")  # valid, but in no access_points.csv
SUPPLIER_GLN = "541449900001" + str(check_digit("541449900001"))
DSO_GLN = "541449900002" + str(check_digit("541449900002"))

FILES: dict[str, list[str]] = {
    "grid_areas.csv": ["code,name", "GA1,Antwerpen"],
    "parties.csv": ["code,name,roles", f"{SUPPLIER_GLN},Stroom NV,supplier|brp", f"{DSO_GLN},Netbeheer,dso"],
    "access_points.csv": [
        "ean,energy,grid_area,connected_from",
        f"{E1},electricity,GA1,2020-01-01",
        f"{E2},electricity,GA1,2019-01-01",
        f"{E3},electricity,GA1,2022-03-01",
        f"{E4},electricity,GA1,2015-01-01",
        f"{E5},electricity,GA1,2015-01-01",
        f"{G1},gas,GA1,2018-06-01",
    ],
    "meters.csv": [
        "serial,ean,kind,energy,installed_from",
        f"M1,{E1},digital,electricity,2020-01-01",
        f"M2,{E2},classic,electricity,2019-01-01",
        f"M3,{E2},digital,electricity,2026-11-10",
        f"M4,{E3},digital,electricity,2022-03-01",
        f"M5,{E4},digital,electricity,2015-01-01",
        f"M6,{E5},digital,electricity,2015-01-01",
        f"G9,{G1},digital,gas,2018-06-01",
    ],
    "regimes.csv": [
        "ean,regime,valid_from,valid_to",
        f"{E1},SMR1,2020-01-01,2026-11-15",
        f"{E1},SMR3,2026-11-15,",
        f"{E2},SMR1,2019-01-01,",
        f"{E3},SMR3,2022-03-01,",
        f"{E4},SMR1,2015-01-01,",
        f"{E5},SMR1,2015-01-01,2026-10-01",
        f"{G1},SMR1,2018-06-01,",
    ],
    "capacities.csv": [
        "ean,capacity,unit,valid_from",
        f"{E1},9.2,kVA,2020-01-01",
        f"{E2},6.9,kVA,2019-01-01",
        f"{E3},5,kVA,2022-03-01",
        f"{E4},9.2,kVA,2015-01-01",
        f"{E5},9.2,kVA,2015-01-01",
        f"{G1},10,m3/h,2018-06-01",
    ],
    "installations.csv": [
        "ean,kind,kva,commissioned_on",
        f"{E1},pv,4.5,2021-05-01",
        f"{E3},battery,5,2026-11-20",
        f"{E4},pv,3,2015-06-01",
        f"{E4},pv,6,2026-11-05",
    ],
}
DECOMMISSIONED = {(E4, "pv", "2015-06-01"): "2026-11-05"}  # set in the registry by the test, not by a file


def write_master(directory: Path, files: dict[str, list[str]] | None = None) -> Path:
    """Write the scenario files (or ``files``) into ``directory`` and return it."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, lines in (files or FILES).items():
        (directory / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory
