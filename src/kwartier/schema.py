"""Column names and Arrow schemas shared by capture, validation, estimation and the store.

Every stage hands the next one an Arrow table with one of these schemas. Energy is integer Wh and gas
volume integer dm³ (:mod:`kwartier.domain.channels`); instants are UTC microseconds.

- ``CAPTURED_READINGS``: interval values as a format parser reads them, still keyed by EAN.
- ``CAPTURED_REGISTERS``: register (index) readings per tariff period, keyed by EAN.
- ``CAPTURED_PEAKS``: monthly quarter-hour offtake peaks a P1 telegram reports, keyed by EAN.
- ``STORED_READINGS`` etc.: the pseudonymised rows of the meter-data store: the EAN is replaced by
  ``ap``, a keyed pseudonym, and each row carries its batch and the moment it was recorded.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

# column names
LINE: Final = "line"
EAN: Final = "ean"
METER: Final = "meter"
AP: Final = "ap"
CHANNEL: Final = "channel"
TARIFF: Final = "tariff"
START: Final = "start"
MINUTES: Final = "minutes"
VALUE: Final = "value"
SOURCE_STATUS: Final = "source_status"
STATUS: Final = "status"
RULE: Final = "rule"
METHOD: Final = "method"
BATCH: Final = "batch"
RECORDED_AT: Final = "recorded_at"
READ_AT: Final = "read_at"
INDEX_VALUE: Final = "index_value"
MONTH: Final = "month"
PEAK_START: Final = "peak_start"
PEAK_W: Final = "peak_w"
DAY: Final = "day"
DETAIL: Final = "detail"

UTC_MICROS = pa.timestamp("us", tz="UTC")

CAPTURED_READINGS = pa.schema(
    [
        pa.field(LINE, pa.int64(), nullable=False),  # 1-based line of the source file
        pa.field(EAN, pa.string(), nullable=False),
        pa.field(METER, pa.string()),
        pa.field(CHANNEL, pa.string(), nullable=False),  # Channel value
        pa.field(TARIFF, pa.string(), nullable=False),  # TariffPeriod value
        pa.field(START, UTC_MICROS, nullable=False),
        pa.field(MINUTES, pa.int16(), nullable=False),  # 15, 60 or 1440
        pa.field(VALUE, pa.int64(), nullable=False),  # Wh, or dm³ for gas_volume
        pa.field(SOURCE_STATUS, pa.string(), nullable=False),  # SourceStatus value
    ]
)

CAPTURED_REGISTERS = pa.schema(
    [
        pa.field(LINE, pa.int64(), nullable=False),
        pa.field(EAN, pa.string(), nullable=False),
        pa.field(METER, pa.string()),
        pa.field(CHANNEL, pa.string(), nullable=False),
        pa.field(TARIFF, pa.string(), nullable=False),
        pa.field(READ_AT, UTC_MICROS, nullable=False),
        pa.field(INDEX_VALUE, pa.int64(), nullable=False),  # cumulative Wh, or dm³ for gas
        pa.field(SOURCE_STATUS, pa.string(), nullable=False),
    ]
)

CAPTURED_PEAKS = pa.schema(
    [
        pa.field(LINE, pa.int64(), nullable=False),
        pa.field(EAN, pa.string(), nullable=False),
        pa.field(METER, pa.string()),
        pa.field(MONTH, pa.date32(), nullable=False),  # first day of the local calendar month
        pa.field(PEAK_START, UTC_MICROS),  # start of the peak quarter, null when not known
        pa.field(PEAK_W, pa.int64(), nullable=False),  # quarter-hour average power in W
        pa.field(SOURCE_STATUS, pa.string(), nullable=False),
    ]
)

STORED_READINGS = pa.schema(
    [
        pa.field(AP, pa.string(), nullable=False),
        pa.field(CHANNEL, pa.string(), nullable=False),
        pa.field(TARIFF, pa.string(), nullable=False),
        pa.field(START, UTC_MICROS, nullable=False),
        pa.field(MINUTES, pa.int16(), nullable=False),
        pa.field(VALUE, pa.int64(), nullable=False),
        pa.field(STATUS, pa.string(), nullable=False),  # ReadingStatus value
        pa.field(RULE, pa.string()),  # validation rule that rejected or flagged the value
        pa.field(METHOD, pa.string()),  # estimation method of an estimated value
        pa.field(BATCH, pa.string(), nullable=False),
        pa.field(RECORDED_AT, UTC_MICROS, nullable=False),
    ]
)

STORED_REGISTERS = pa.schema(
    [
        pa.field(AP, pa.string(), nullable=False),
        pa.field(CHANNEL, pa.string(), nullable=False),
        pa.field(TARIFF, pa.string(), nullable=False),
        pa.field(READ_AT, UTC_MICROS, nullable=False),
        pa.field(INDEX_VALUE, pa.int64(), nullable=False),
        pa.field(STATUS, pa.string(), nullable=False),
        pa.field(BATCH, pa.string(), nullable=False),
        pa.field(RECORDED_AT, UTC_MICROS, nullable=False),
    ]
)

STORED_PEAKS = pa.schema(
    [
        pa.field(AP, pa.string(), nullable=False),
        pa.field(MONTH, pa.date32(), nullable=False),
        pa.field(PEAK_START, UTC_MICROS),
        pa.field(PEAK_W, pa.int64(), nullable=False),
        pa.field(STATUS, pa.string(), nullable=False),
        pa.field(BATCH, pa.string(), nullable=False),
        pa.field(RECORDED_AT, UTC_MICROS, nullable=False),
    ]
)

STORED_FINDINGS = pa.schema(
    [
        pa.field(AP, pa.string(), nullable=False),
        pa.field(CHANNEL, pa.string(), nullable=False),
        pa.field(DAY, pa.date32(), nullable=False),  # market day (gas day for gas)
        pa.field(RULE, pa.string(), nullable=False),
        pa.field(DETAIL, pa.string(), nullable=False),
        pa.field(BATCH, pa.string(), nullable=False),
        pa.field(RECORDED_AT, UTC_MICROS, nullable=False),
    ]
)

# Registry facts a batch calculation needs, per pseudonymised access point and validity period
# (produced from the registry and the pseudonymiser; the store itself never holds them).
ENERGY: Final = "energy"
METER_KIND: Final = "meter_kind"
REGIME: Final = "regime"
CAPACITY: Final = "capacity"
HAS_PRODUCTION: Final = "has_production"
VALID_FROM: Final = "valid_from"
VALID_TO: Final = "valid_to"

ACCESS_POINT_CONTEXT = pa.schema(
    [
        pa.field(AP, pa.string(), nullable=False),
        pa.field(ENERGY, pa.string(), nullable=False),  # Energy value: electricity | gas
        pa.field(METER_KIND, pa.string(), nullable=False),  # digital | amr | classic
        pa.field(REGIME, pa.string(), nullable=False),  # SMR1 | SMR3
        pa.field(CAPACITY, pa.float64(), nullable=False),  # kVA (electricity) or m³/h (gas)
        pa.field(HAS_PRODUCTION, pa.bool_(), nullable=False),  # a production installation is registered
        pa.field(VALID_FROM, pa.date32(), nullable=False),  # first market day these facts hold
        pa.field(VALID_TO, pa.date32()),  # first market day they no longer hold; null: open-ended
    ]
)
