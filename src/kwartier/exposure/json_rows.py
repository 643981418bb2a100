"""JSON of energy totals without a Python object per value (issue 6's latency bar: a year of quarter hours,
35,040 rows per channel, must leave the server in well under 50 ms).

Rule: each row is ``{"channel", "tariff", "start", "end", "value_wh", "quarters", "estimated", "status"}``
with instants in UTC as ``YYYY-MM-DDTHH:MM:SSZ``; the text is built column-wise by Arrow's string kernels.
Channel, tariff and status values are code-list values (letters, digits, ``_`` and ``-`` only), so they
need no JSON escaping; anything else is refused.
"""

from __future__ import annotations

import re
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from kwartier.exposure.export import END, ESTIMATED, QUARTERS, TOTALS
from kwartier.schema import CHANNEL, START, STATUS, TARIFF, VALUE

_PLAIN: Final = re.compile(r"^[A-Za-z0-9_-]*$")


def _instants(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """``YYYY-MM-DDTHH:MM:SS`` of UTC instants (whole seconds)."""
    seconds = pc.cast(pc.cast(column, pa.timestamp("us")), pa.timestamp("s"))
    return pc.replace_substring(pc.cast(seconds, pa.string()), " ", "T")


def _codes(column: pa.ChunkedArray) -> pa.ChunkedArray:
    for value in pc.unique(column).to_pylist():
        if value is None or not _PLAIN.match(value):
            raise ValueError(f"{value!r}: not a code-list value, cannot be written unescaped")
    return column


def totals_json(totals: pa.Table) -> bytes:
    """The JSON array of the rows of ``totals`` (schema :data:`kwartier.exposure.export.TOTALS`)."""
    if totals.schema != TOTALS:
        totals = totals.cast(TOTALS)
    if totals.num_rows == 0:
        return b"[]"
    parts = [
        '{"channel":"',
        _codes(totals[CHANNEL]),
        '","tariff":"',
        _codes(totals[TARIFF]),
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
        _codes(totals[STATUS]),
        '"}',
    ]
    rows = pc.binary_join_element_wise(*parts, "")
    joined = pc.binary_join(
        pa.ListArray.from_arrays([0, len(rows)], pc.cast(rows.combine_chunks(), pa.string())), ","
    )
    text: str = joined[0].as_py()
    return b"[" + text.encode() + b"]"
