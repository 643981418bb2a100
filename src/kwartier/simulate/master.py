"""Master data of a simulated region for the registry: CSV files with a header, ISO dates.

``out/master/``: grid_areas.csv, parties.csv, access_points.csv, meters.csv, regimes.csv,
capacities.csv, installations.csv (PV and batteries; PV installations flagged unregistered are left out,
although they inject).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from kwartier.domain.channels import Energy
from kwartier.domain.ean import check_digit
from kwartier.simulate.arrays import BoolArray, IntArray
from kwartier.simulate.region import METER_KIND_TEXT, Region

GRID_AREAS = (("ANTWERPEN-ZUID", "Antwerpen Zuid"), ("KEMPEN-WEST", "Kempen West"))
PARTIES = tuple(
    (payload + str(check_digit(payload)), name, roles)  # GLN-13: 12 digits + the GS1 check digit
    for payload, name, roles in (
        ("541400000000", "Netbeheer Kwartier", "dso"),
        ("541400000010", "Aurora Energie", "supplier|brp"),
        ("541400000020", "Blauwe Stroom", "supplier|brp"),
        ("541400000030", "Centrum Gas & Elektriciteit", "supplier|brp"),
        ("541400000040", "Duin Energie", "supplier|brp"),
    )
)


def _dates(days: IntArray) -> pa.Array:
    return pa.array(days.astype("datetime64[D]"), pa.date32())


def _write(path: Path, columns: dict[str, pa.Array | list[object]]) -> int:
    """Write ``columns`` as CSV: header line, no quotes (no value holds a comma), ISO dates."""
    table = pa.table(columns)
    with pa.OSFile(str(path), "wb") as sink:
        sink.write((",".join(columns) + "\n").encode())
        pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return int(table.num_rows)


def _take(values: list[str], mask: BoolArray) -> list[str]:
    return [values[i] for i in np.flatnonzero(mask)]


def write_master(region: Region, out: Path) -> dict[str, int]:
    """Write the master-data files of ``region`` into ``out/master``; return rows per file."""
    folder = out / "master"
    folder.mkdir(parents=True, exist_ok=True)
    n, g = len(region.ean), len(region.gas_ean)
    areas = pa.array([code for code, _ in GRID_AREAS])
    eans = pa.array(region.ean + region.gas_ean, pa.string())
    gas_area = region.grid_area[region.gas_of]
    electricity = [Energy.ELECTRICITY.value] * n + [Energy.GAS.value] * g
    kinds = pa.array(METER_KIND_TEXT).take(pa.array(np.concatenate([region.kind, region.gas_kind])))
    smr3 = np.concatenate([region.smr3, region.gas_smr3])
    installed = np.concatenate([region.installed_from, region.gas_installed_from])
    pv = region.pv_kwp > 0
    registered_pv = pv & region.pv_registered
    battery = region.battery_kwh > 0
    rows = {
        "grid_areas.csv": _write(
            folder / "grid_areas.csv",
            {"code": [c for c, _ in GRID_AREAS], "name": [name for _, name in GRID_AREAS]},
        ),
        "parties.csv": _write(
            folder / "parties.csv",
            {
                "code": [p[0] for p in PARTIES],
                "name": [p[1] for p in PARTIES],
                "roles": [p[2] for p in PARTIES],
            },
        ),
        "access_points.csv": _write(
            folder / "access_points.csv",
            {
                "ean": eans,
                "energy": electricity,
                "grid_area": areas.take(pa.array(np.concatenate([region.grid_area, gas_area]))),
                "connected_from": _dates(np.concatenate([region.connected_from, region.gas_connected_from])),
            },
        ),
        "meters.csv": _write(
            folder / "meters.csv",
            {
                "serial": region.meter + region.gas_meter,
                "ean": eans,
                "kind": kinds,
                "energy": electricity,
                "installed_from": _dates(installed),
            },
        ),
        "regimes.csv": _write(
            folder / "regimes.csv",
            {
                "ean": eans,
                "regime": np.where(smr3, "SMR3", "SMR1").tolist(),
                "valid_from": _dates(installed),
                "valid_to": pa.nulls(n + g, pa.string()),
            },
        ),
        "capacities.csv": _write(
            folder / "capacities.csv",
            {
                "ean": eans,
                "capacity": pa.array(np.concatenate([region.capacity_kva, region.gas_capacity_m3h])),
                "unit": ["kVA"] * n + ["m3/h"] * g,
                "valid_from": _dates(np.concatenate([region.connected_from, region.gas_connected_from])),
            },
        ),
        "installations.csv": _write(
            folder / "installations.csv",
            {
                "ean": _take(region.ean, registered_pv) + _take(region.ean, battery),
                "kind": ["pv"] * int(registered_pv.sum()) + ["battery"] * int(battery.sum()),
                "kva": pa.array(
                    np.concatenate(
                        [
                            region.inverter_kva[registered_pv],
                            region.battery_kw[battery],
                        ]
                    )
                ),
                "commissioned_on": _dates(
                    np.concatenate(
                        [region.pv_commissioned[registered_pv], region.battery_commissioned[battery]]
                    )
                ),
            },
        ),
    }
    return rows
