"""The csv, json and Mijn Fluvius shapes of an export, and the combinations that are refused."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kwartier.domain.channels import Channel, Energy, ReadingStatus, TariffPeriod
from kwartier.exposure.export import ExportFormat, Granularity, decimal_text, export_readings
from tests.exposure.tables import readings, utc

EAN_CODE = "541448820052377134"
M, E = ReadingStatus.MEASURED, ReadingStatus.ESTIMATED
QUARTER = timedelta(minutes=15)
# the two passes of the hour 02:00 on the autumn DST day 2023-10-29 (a Sunday: night)
AUTUMN = readings(
    [
        (Channel.OFFTAKE, TariffPeriod.NIGHT, utc(2023, 10, 29, 0) + i * QUARTER, 15, value, status)
        for i, (value, status) in enumerate(
            [(173, M), (1000, M), (5, M), (1234, M), (1, M), (2, E), (3, M), (4, M)]
        )
    ]
)
GAS = readings(
    [
        (Channel.GAS_VOLUME, TariffPeriod.TOTAL, utc(2023, 11, 6, 5), 60, 1234, M),
        (Channel.GAS_ENERGY, TariffPeriod.TOTAL, utc(2023, 11, 6, 5), 60, 12345, E),
    ]
)


def export(
    table: pa.Table, energy: Energy, granularity: Granularity, fmt: ExportFormat, language: str = "en"
) -> tuple[int, str]:
    out = io.StringIO(newline="")
    written = export_readings(
        table,
        ean=EAN_CODE,
        meter="1SAG1100000001",
        energy=energy,
        granularity=granularity,
        fmt=fmt,
        out=out,
        language=language,
    )
    return written, out.getvalue()


def test_csv_has_local_times_with_offset_and_kwh_with_3_decimals() -> None:
    written, text = export(AUTUMN, Energy.ELECTRICITY, Granularity.HOUR, ExportFormat.CSV)
    assert written == 2
    assert text.split("\n") == [
        "ean,channel,tariff,start,end,value,unit,status,quarters,estimated",
        f"{EAN_CODE},offtake,night,2023-10-29T02:00:00+02:00,2023-10-29T02:00:00+01:00,2.412,kWh,measured,4,0",
        f"{EAN_CODE},offtake,night,2023-10-29T02:00:00+01:00,2023-10-29T03:00:00+01:00,0.010,kWh,"
        "partly-estimated,4,1",
        "",
    ]


def test_csv_of_gas_writes_volume_in_m3_and_energy_in_kwh() -> None:
    written, text = export(GAS, Energy.GAS, Granularity.DAY, ExportFormat.CSV)
    assert written == 2
    assert text.splitlines()[1:] == [
        f"{EAN_CODE},gas_energy,total,2023-11-06T06:00:00+01:00,2023-11-07T06:00:00+01:00,12.345,kWh,estimated,1,1",
        f"{EAN_CODE},gas_volume,total,2023-11-06T06:00:00+01:00,2023-11-07T06:00:00+01:00,1.234,m3,measured,1,0",
    ]


def test_json_document_has_the_same_fields_and_exact_values() -> None:
    written, text = export(AUTUMN, Energy.ELECTRICITY, Granularity.HOUR, ExportFormat.JSON)
    document = json.loads(text)
    assert written == 2
    assert list(document) == ["ean", "granularity", "unit_note", "rows"]
    assert document["ean"] == EAN_CODE
    assert document["granularity"] == "hour"
    assert "kWh" in document["unit_note"]
    assert document["rows"] == [
        {
            "channel": "offtake",
            "tariff": "night",
            "start": "2023-10-29T02:00:00+02:00",
            "end": "2023-10-29T02:00:00+01:00",
            "value": 2.412,
            "value_wh": 2412,
            "unit": "kWh",
            "status": "measured",
            "quarters": 4,
            "estimated": 0,
        },
        {
            "channel": "offtake",
            "tariff": "night",
            "start": "2023-10-29T02:00:00+01:00",
            "end": "2023-10-29T03:00:00+01:00",
            "value": 0.01,
            "value_wh": 10,
            "unit": "kWh",
            "status": "partly-estimated",
            "quarters": 4,
            "estimated": 1,
        },
    ]
    # the numbers keep their 3 decimals in the text
    assert '"value": 2.412, "value_wh": 2412' in text
    assert '"value": 0.010, "value_wh": 10' in text


def test_json_of_gas_and_of_nothing() -> None:
    _, text = export(GAS, Energy.GAS, Granularity.MONTH, ExportFormat.JSON)
    rows = json.loads(text)["rows"]
    assert [(r["channel"], r["value"], r["value_wh"], r["unit"], r["start"]) for r in rows] == [
        ("gas_energy", 12.345, 12345, "kWh", "2023-11-01T06:00:00+01:00"),
        ("gas_volume", 1.234, 1234, "m3", "2023-11-01T06:00:00+01:00"),
    ]
    written, text = export(GAS.slice(0, 0), Energy.GAS, Granularity.MONTH, ExportFormat.JSON)
    assert written == 0
    assert json.loads(text)["rows"] == []


@pytest.mark.parametrize(
    ("language", "words"), [("en", ["Validated", "Estimated"]), ("nl", ["Gevalideerd", "Geschat"])]
)
def test_mijn_fluvius_maps_measured_to_validated(language: str, words: list[str]) -> None:
    written, text = export(
        AUTUMN.slice(4, 2), Energy.ELECTRICITY, Granularity.QUARTER, ExportFormat.MIJN_FLUVIUS, language
    )
    lines = [line.split(";") for line in text.removeprefix("\ufeff").split("\r\n")[1:-1]]
    assert written == 2
    assert [(c[1], c[3], c[8], c[10]) for c in lines] == [
        ("02:00:00", "02:15:00", "0,001", words[0]),  # 01:00 UTC, the winter pass
        ("02:15:00", "02:30:00", "0,002", words[1]),
    ]


@pytest.mark.parametrize(
    ("energy", "granularity", "message"),
    [
        (Energy.ELECTRICITY, Granularity.HOUR, "quarter totals of electricity"),
        (Energy.ELECTRICITY, Granularity.DAY, "quarter totals of electricity"),
        (Energy.GAS, Granularity.QUARTER, "hour totals of gas"),
        (Energy.GAS, Granularity.MONTH, "hour totals of gas"),
    ],
)
def test_mijn_fluvius_only_for_its_own_granularity(
    energy: Energy, granularity: Granularity, message: str
) -> None:
    table = AUTUMN if energy is Energy.ELECTRICITY else GAS
    with pytest.raises(ValueError, match=message):
        export(table, energy, granularity, ExportFormat.MIJN_FLUVIUS)


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_channels_of_another_energy_are_refused(fmt: ExportFormat) -> None:
    with pytest.raises(ValueError, match="not electricity"):
        export(GAS, Energy.ELECTRICITY, Granularity.HOUR, fmt)


def test_plain_strings_are_accepted_and_unknown_ones_refused() -> None:
    assert export(AUTUMN, "electricity", "day", "csv")[0] == 1  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="week"):
        export(AUTUMN, Energy.ELECTRICITY, "week", ExportFormat.CSV)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("wh", "text"), [(0, "0.000"), (5, "0.005"), (1000, "1.000"), (123456, "123.456"), (-4, "-0.004")]
)
def test_decimal_text_by_hand(wh: int, text: str) -> None:
    assert decimal_text(wh) == text


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_decimal_text_is_the_exact_decimal(wh: int) -> None:
    assert decimal_text(wh) == str(Decimal(wh).scaleb(-3).quantize(Decimal("0.001")))


def test_mijn_fluvius_writes_a_partly_estimated_hour_as_estimated() -> None:
    # gas values per quarter hour (not what the store normally holds) summed into the file's hours
    quarters = readings(
        [
            (Channel.GAS_ENERGY, TariffPeriod.TOTAL, utc(2023, 11, 6, 5) + i * QUARTER, 15, 100 + i, status)
            for i, status in enumerate([M, M, E, M, M, M, M, M])
        ]
    )
    written, text = export(quarters, Energy.GAS, Granularity.HOUR, ExportFormat.MIJN_FLUVIUS)
    lines = [line.split(";") for line in text.removeprefix("\ufeff").split("\r\n")[1:-1]]
    assert written == 2
    assert [(c[1], c[3], c[8], c[10]) for c in lines] == [
        ("06:00:00", "07:00:00", "0,406", "Estimated"),  # 100 + 101 + 102 + 103 Wh, one estimated
        ("07:00:00", "08:00:00", "0,422", "Validated"),  # 104 + 105 + 106 + 107 Wh
    ]
