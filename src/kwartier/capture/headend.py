"""The head-end interval and register exports (``docs/formats.md``), read by DuckDB at full speed.

A head-end file is read straight into DuckDB: every field is checked in SQL and a row that breaks a rule
gets a ``reason`` instead of being accepted. A row DuckDB cannot even split into the nine columns is
reported by DuckDB's reject table with its line. Quarantined rows keep file, line, field and reason.

Checks (each a code; a failing row goes to quarantine, the rest of the file is accepted). The EAN checks
run once per distinct EAN (:func:`ean_reason_sql`), the others per row (:func:`interval_reason_sql`):

- ``C01-EAN``: the EAN is not 18 digits with a valid GS1 check digit (market and head-end inputs with an
  invalid EAN are rejected; only customer exports are imported with a warning);
- ``C09-UNKNOWN-ACCESS-POINT``: a valid EAN the registry does not know (a head-end delivers only for
  registered access points);
- ``C02-CHANNEL`` / ``C03-TARIFF`` / ``C04-UNIT`` / ``C05-STATUS``: a word outside the vocabulary, or a unit
  that does not fit the channel;
- ``C06-RESOLUTION``: ``minutes`` is not 15 for electricity or 60 for gas;
- ``C07-TIME``: ``start`` is not an ISO-8601 instant ending in its UTC offset (``Z`` or ``±hh:mm``);
- ``V07-OFF-GRID``: ``start`` is not on the grid of its resolution (seed 001 art. 3.1.57: quarter hours,
  hours for gas);
- ``V08-FUTURE``: the interval ends after the moment the batch is recorded;
- ``C08-VALUE``: the value is not a number, or has more than 3 decimals in kWh or m³.
"""

from __future__ import annotations

from pathlib import Path

from kwartier.domain.channels import Channel, TariffPeriod
from kwartier.domain.source_status import SourceStatus

INTERVAL_HEADER = "ean,meter,channel,tariff,start,minutes,value,unit,status"
REGISTER_HEADER = "ean,meter,channel,tariff,read_at,index,unit,status"

_VARCHAR = "VARCHAR"


def _sql_list(words: list[str]) -> str:
    return ", ".join(f"'{word}'" for word in words)


ELECTRICITY = _sql_list([Channel.OFFTAKE.value, Channel.INJECTION.value])
CHANNELS = _sql_list([c.value for c in Channel])
TARIFFS = _sql_list([t.value for t in TariffPeriod])
STATUSES = _sql_list([s.value for s in SourceStatus])


def read_csv_sql(path: Path, columns: list[str], rejects: str) -> str:
    """DuckDB ``read_csv`` of a head-end file: all fields as text, bad lines into table ``rejects``."""
    spec = ", ".join(f"'{name}': '{_VARCHAR}'" for name in columns)
    literal = str(path).replace("'", "''")
    return (
        f"read_csv('{literal}', header = true, delim = ',', quote = '\"', columns = {{{spec}}}, "
        f"store_rejects = true, rejects_table = '{rejects}', rejects_scan = '{rejects}_scan', "
        "parallel = true, auto_detect = false)"
    )


def ean_check_sql(column: str) -> str:
    """SQL boolean: ``column`` is 18 ASCII digits with a correct GS1 check digit (see domain.ean)."""
    weighted = " + ".join(
        f"(ascii(substr({column}, {position}, 1)) - 48) * {3 if (17 - position) % 2 == 0 else 1}"
        for position in range(1, 18)
    )
    return (
        f"(regexp_full_match({column}, '[0-9]{{18}}') AND "
        f"(10 - (({weighted}) % 10)) % 10 = ascii(substr({column}, 18, 1)) - 48)"
    )


def ean_reason_sql(column: str) -> str:
    """SQL: why an EAN missing from the registry is refused (C01 when malformed, else C09)."""
    return (
        f"CASE WHEN NOT coalesce({ean_check_sql(column)}, false) "
        "THEN 'C01-EAN|ean|not 18 digits with a valid GS1 check digit' "
        "ELSE 'C09-UNKNOWN-ACCESS-POINT|ean|the registry has no access point with this EAN' END"
    )


def instant_sql(column: str) -> str:
    """SQL: the ISO-8601 text in ``column`` as TIMESTAMPTZ, NULL unless it ends in a UTC offset: ``Z`` or
    ``±hh:mm`` (docs/formats.md). A date alone, or a time without an offset, is NULL: DuckDB would read it
    as UTC.

    The suffix test is three ``LIKE`` patterns, which DuckDB matches on the bytes: on a day of 200,000
    access points (18.6 million rows) they cost 0.6 s with the cast, where ``right`` and ``substr``, which
    count characters, cost 1.6 s.
    """
    return (
        f"CASE WHEN {column} LIKE '%Z' OR {column} LIKE '%+__:__' OR {column} LIKE '%-__:__' "
        f"THEN TRY_CAST({column} AS TIMESTAMPTZ) END"
    )


def quantity_sql(value: str, unit: str) -> str:
    """SQL: the integer quantity in Wh (energy) or dm³ (gas volume), NULL when not exact to the unit.

    ``kWh`` and ``m3`` values may carry up to 3 decimals (exact Wh / dm³); ``Wh`` and ``dm3`` are integers.
    """
    scaled = f"TRY_CAST({value} AS DECIMAL(18, 3))"
    return (
        f"CASE WHEN {unit} IN ('Wh', 'dm3') THEN TRY_CAST({value} AS BIGINT) "
        f"WHEN {unit} IN ('kWh', 'm3') THEN CAST({scaled} * 1000 AS BIGINT) END"
    )


def unit_fits_sql(channel: str, unit: str) -> str:
    """SQL boolean: the unit is one the channel is measured in."""
    return (
        f"(({channel} = 'gas_volume' AND {unit} IN ('dm3', 'm3')) OR "
        f"({channel} <> 'gas_volume' AND {unit} IN ('Wh', 'kWh')))"
    )


def interval_reason_sql(
    recorded_at: str, *, channel: str = "channel", tariff: str = "tariff", status: str = "status"
) -> str:
    """SQL: the first check an interval row breaks (code and reason), NULL when it passes them all.

    Expects columns ean, minutes, value, unit, the derived ``start_utc`` and ``quantity``, and the
    columns named by ``channel``, ``tariff`` and ``status``: the text, or DuckDB ENUMs of the vocabulary
    (NULL for a word outside it; comparing them is cheaper than comparing text); ``recorded_at`` is a
    TIMESTAMPTZ SQL literal.
    """
    return f"""CASE
        WHEN {channel} IS NULL OR {channel} NOT IN ({CHANNELS})
            THEN 'C02-CHANNEL|channel|expected one of ' || '{CHANNELS.replace("'", "")}'
        WHEN {tariff} IS NULL OR {tariff} NOT IN ({TARIFFS})
            OR ({channel} IN ({ELECTRICITY}) AND {tariff} = 'total')
            OR ({channel} NOT IN ({ELECTRICITY}) AND {tariff} <> 'total')
            THEN 'C03-TARIFF|tariff|not a tariff period of this channel'
        WHEN unit IS NULL OR NOT {unit_fits_sql(channel, "unit")}
            THEN 'C04-UNIT|unit|not a unit of this channel'
        WHEN {status} IS NULL OR {status} NOT IN ({STATUSES})
            THEN 'C05-STATUS|status|expected one of ' || '{STATUSES.replace("'", "")}'
        WHEN minutes IS DISTINCT FROM (CASE WHEN {channel} IN ({ELECTRICITY}) THEN '15' ELSE '60' END)
            THEN 'C06-RESOLUTION|minutes|15 for electricity, 60 for gas'
        WHEN start_utc IS NULL
            THEN 'C07-TIME|start|not an ISO-8601 instant with a UTC offset'
        WHEN epoch(start_utc)::BIGINT % (CAST(minutes AS INTEGER) * 60) <> 0
            THEN 'V07-OFF-GRID|start|not on the grid of its resolution'
        WHEN start_utc + to_minutes(CAST(minutes AS INTEGER)) > {recorded_at}
            THEN 'V08-FUTURE|start|the interval ends after the moment of recording'
        WHEN quantity IS NULL
            THEN 'C08-VALUE|value|not a number exact to the Wh or dm3'
    END"""


def register_reason_sql(recorded_at: str) -> str:
    """SQL: the first check a register row breaks, NULL when it passes (columns as for intervals)."""
    return f"""CASE
        WHEN channel IS NULL OR channel NOT IN ({CHANNELS}) OR channel = 'gas_energy'
            THEN 'C02-CHANNEL|channel|expected offtake, injection or gas_volume'
        WHEN tariff IS NULL OR tariff NOT IN ({TARIFFS})
            THEN 'C03-TARIFF|tariff|not a tariff period'
        WHEN unit IS NULL OR NOT {unit_fits_sql("channel", "unit")}
            THEN 'C04-UNIT|unit|not a unit of this channel'
        WHEN status IS NULL OR status NOT IN ({STATUSES})
            THEN 'C05-STATUS|status|expected one of ' || '{STATUSES.replace("'", "")}'
        WHEN read_at_utc IS NULL
            THEN 'C07-TIME|read_at|not an ISO-8601 instant with a UTC offset'
        WHEN read_at_utc > {recorded_at}
            THEN 'V08-FUTURE|read_at|read after the moment of recording'
        WHEN quantity IS NULL OR quantity < 0
            THEN 'C08-VALUE|index|not a non-negative number exact to the Wh or dm3'
    END"""
