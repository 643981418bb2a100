"""JSON of energy totals without a Python object per value (issue 6's latency bar: a year of quarter hours,
35,040 rows per channel, must leave the server in well under 50 ms).

Two shapes, both built column-wise by Arrow's string kernels, instants in UTC as ``YYYY-MM-DDTHH:MM:SSZ``:

- **rows** (:func:`totals_json`): one object per total, ``{"channel", "tariff", "start", "end",
  "value_wh", "quarters", "estimated", "status"}`` (about 160 bytes per quarter hour);
- **series** (:func:`series_json`): one object per channel and tariff period on a fixed time grid,
  ``{"channel", "tariff", "start", "end", "resolution_minutes", "value_wh": [...],
  "estimated_indexes": [...]}``: element ``k`` of ``value_wh`` is the interval starting at
  ``start + k × resolution``, ``null`` where that channel and tariff period has no value (the other
  tariff period's hours, or no data); ``estimated_indexes`` lists the ``k`` whose value is an estimate
  (about 5 bytes per quarter hour).

Channel, tariff and status values are code-list values (letters, digits, ``_`` and ``-`` only), so they
need no JSON escaping; anything else is refused.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Final

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from kwartier.exposure.export import END, ESTIMATED, QUARTERS, TOTALS, VALUE_WH
from kwartier.schema import CHANNEL, START, STATUS, TARIFF, VALUE

_PLAIN: Final = re.compile(r"^[A-Za-z0-9_-]*$")
_MICROS_PER_MINUTE: Final = 60_000_000
FEW_ROWS: Final = 400
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
"""Up to this many rows (a year of days) JSON goes through Python objects, beyond it column-wise."""


def _instants(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """``YYYY-MM-DDTHH:MM:SS`` of UTC instants (whole seconds)."""
    seconds = pc.cast(pc.cast(column, pa.timestamp("us")), pa.timestamp("s"))
    return pc.replace_substring(pc.cast(seconds, pa.string()), " ", "T")


def _codes(column: pa.ChunkedArray) -> pa.ChunkedArray:
    _check_codes(pc.unique(column).to_pylist())
    return column


def _check_codes(values: Iterable[str | None]) -> None:
    """Refuse any value that is not a code-list value (it would need JSON escaping)."""
    for value in values:
        if value is None or not _PLAIN.match(value):
            raise ValueError(f"{value!r}: not a code-list value, cannot be written unescaped")


def totals_json(totals: pa.Table) -> bytes:
    """The JSON array of the rows of ``totals`` (schema :data:`kwartier.exposure.export.TOTALS`): up to
    :data:`FEW_ROWS` rows through Python objects and orjson (a month of days: fewer calls), more
    column-wise; the same text either way."""
    if totals.schema != TOTALS:
        totals = totals.cast(TOTALS)
    if totals.num_rows == 0:
        return b"[]"
    if totals.num_rows <= FEW_ROWS:
        return few_rows_json(totals)
    for column in (CHANNEL, TARIFF, STATUS):
        _codes(totals[column])
    return column_wise_json(totals)


def few_rows_json(totals: pa.Table) -> bytes:
    """:func:`totals_json` of a non-empty ``totals`` through one Python object per row: code values
    checked as Python strings, instants written from a cache of their text (a month of days shares its
    instants with every other access point's month)."""
    channels, tariffs, statuses = (totals[c].to_pylist() for c in (CHANNEL, TARIFF, STATUS))
    _check_codes({*channels, *tariffs, *statuses})
    starts, ends = (map(_instant_text, pc.cast(totals[c], pa.int64()).to_pylist()) for c in (START, END))
    rows = [
        {
            "channel": channel,
            "tariff": tariff,
            "start": start,
            "end": end,
            VALUE_WH: value,
            "quarters": quarters,
            "estimated": estimated,
            "status": status,
        }
        for channel, tariff, start, end, value, quarters, estimated, status in zip(
            channels,
            tariffs,
            starts,
            ends,
            totals[VALUE].to_pylist(),
            totals[QUARTERS].to_pylist(),
            totals[ESTIMATED].to_pylist(),
            statuses,
            strict=True,
        )
    ]
    return orjson.dumps(rows)


@functools.lru_cache(maxsize=65_536)
def _instant_text(micros: int) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` of a UTC instant in microseconds since the epoch (whole seconds)."""
    return (_EPOCH + timedelta(microseconds=micros)).strftime("%Y-%m-%dT%H:%M:%SZ")


def column_wise_json(totals: pa.Table) -> bytes:
    """:func:`totals_json` of a non-empty ``totals``, built by Arrow's string kernels."""
    parts = [
        '{"channel":"',
        totals[CHANNEL],
        '","tariff":"',
        totals[TARIFF],
        '","start":"',
        _instants(totals[START]),
        'Z","end":"',
        _instants(totals[END]),
        'Z","value_wh":',
        pc.cast(totals[VALUE], pa.string()),
        ',"quarters":',
        pc.cast(totals[QUARTERS], pa.string()),
        ',"estimated":',
        pc.cast(totals[ESTIMATED], pa.string()),
        ',"status":"',
        totals[STATUS],
        '"}',
    ]
    rows = pc.binary_join_element_wise(*parts, "")
    joined = pc.binary_join(
        pa.ListArray.from_arrays([0, len(rows)], pc.cast(rows.combine_chunks(), pa.string())), ","
    )
    text: str = joined[0].as_py()
    return b"[" + text.encode() + b"]"


def series_json(totals: pa.Table, first: datetime, end: datetime) -> bytes:
    """The JSON array of the series (module rules) of ``totals`` at granularity quarter (one row per
    stored interval, schema :data:`kwartier.exposure.export.TOTALS`, sorted by channel, tariff and start),
    each on the grid of its intervals' length over [``first``, ``end``).

    Raises ``ValueError`` when one channel and tariff period holds intervals of several lengths, or an
    interval off the grid that starts at ``first``: such data has no single grid (ask for rows).
    """
    if totals.schema != TOTALS:
        totals = totals.cast(TOTALS)
    origin, stop = _micros(first), _micros(end)
    starts = pc.cast(totals[START], pa.int64()).to_numpy()
    lengths = pc.cast(totals[END], pa.int64()).to_numpy() - starts
    pairs = pc.binary_join_element_wise(_codes(totals[CHANNEL]), _codes(totals[TARIFF]), "\x1f")
    parts: list[bytes] = []
    opened = np.flatnonzero(pc.not_equal(pairs.slice(1), pairs.slice(0, len(pairs) - 1)).to_numpy(False))
    bounds = [0, *(opened + 1).tolist(), totals.num_rows] if totals.num_rows else []
    for begin, finish in pairwise(bounds):
        channel, tariff = str(pairs[begin]).split("\x1f")
        length = int(lengths[begin])
        offsets = starts[begin:finish] - origin
        if (lengths[begin:finish] != length).any() or (offsets % length).any() or offsets.min() < 0:
            raise ValueError(
                f"{channel} {tariff}: intervals of several lengths or off the grid from {first}: ask for rows"
            )
        slots = offsets // length
        size = int(-(-(stop - origin) // length))
        if slots.max() >= size:
            raise ValueError(f"{channel} {tariff}: an interval at or after {end}")
        grid = np.zeros(size, dtype=np.int64)
        present = np.zeros(size, dtype=bool)
        grid[slots] = totals[VALUE].slice(begin, finish - begin).to_numpy()
        present[slots] = True
        estimated = slots[totals[ESTIMATED].slice(begin, finish - begin).to_numpy() > 0]
        head = (
            f'{{"channel":"{channel}","tariff":"{tariff}","start":"{_instant(origin)}",'
            f'"end":"{_instant(stop)}","resolution_minutes":{length // _MICROS_PER_MINUTE},"value_wh":['
        )
        parts.append(
            head.encode()
            + _joined(pa.array(grid, mask=~present))
            + b'],"estimated_indexes":['
            + _joined(pa.array(estimated))
            + b"]}"
        )
    return b"[" + b",".join(parts) + b"]"


def _micros(instant: datetime) -> int:
    """Microseconds since the epoch of an aware instant."""
    return int(pa.scalar(instant, pa.timestamp("us", tz="UTC")).cast(pa.int64()).as_py())


def _instant(micros: int) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` of microseconds since the epoch (whole seconds)."""
    return datetime.fromtimestamp(micros // 1_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _joined(numbers: pa.Array) -> bytes:
    """Comma-joined JSON numbers, ``null`` for a missing one."""
    if len(numbers) == 0:
        return b""
    text = pc.fill_null(pc.cast(numbers, pa.string()), "null")
    joined: str = pc.binary_join(pa.ListArray.from_arrays([0, len(text)], text), ",")[0].as_py()
    return joined.encode()
