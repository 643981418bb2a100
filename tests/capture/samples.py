"""File names of the real samples the capture tests read (see ``/work/shared/samples/README.md``)."""

from __future__ import annotations

ENGLISH_ELECTRICITY = (
    "Consumption_history_electricity_541448820052377134_20231022_20250426_15 minute totals.csv"
)
ENGLISH_GAS = "Consumption_history_gas_541448860018322037_20231022_20250426_hourly totals.csv"
DUTCH_ELECTRICITY = (
    "Verbruikshistoriek_elektriciteit_123456789123456789_20211012_20240929_kwartiertotalen.csv"
)
DUTCH_GAS = "Verbruikshistoriek_gas_123456789123456789_20220110_20240929_uurtotalen.csv"
MIJN_FLUVIUS_SAMPLES = (ENGLISH_ELECTRICITY, ENGLISH_GAS, DUTCH_ELECTRICITY, DUTCH_GAS)
ANONYMISED_EAN = "123456879123456789"  # fails the GS1 check digit
P1_TELEGRAM = "telegram_fluvius_v171.txt"
P1_TELEGRAM_ALT = "telegram_fluvius_v171_alt.txt"
