"""Monthly peaks and billing peaks per access point, from interval values and reported monthly peaks.

One table per run, one row per access point and month with a monthly peak: the peak [W] and the start
of its quarter (null where the source reports no quarter, e.g. a P1 buffer), whether it is estimated,
how many quarter hours with offtake the month holds, the billing peak [W] and how many months it
averages (:mod:`kwartier.billing.capacity`). Peaks derived from quarter hours take precedence over a
peak the meter reported for the same month.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from kwartier.billing.capacity import (
    BILLING_PEAK_W,
    ESTIMATED,
    ESTIMATED_QUARTERS,
    MONTH_INDEX,
    MONTHS_COUNTED,
    QUARTERS,
    billing_peaks,
    decode_peaks,
    monthly_peaks,
)
from kwartier.billing.months import month_index, month_of_index, months_between
from kwartier.domain.timegrid import BRUSSELS, market_day_of
from kwartier.engine import load, to_arrow
from kwartier.schema import MONTH, PEAK_START, PEAK_W, START, UTC_MICROS

PEAK_REPORT_COLUMNS: Final = (
    MONTH,
    PEAK_W,
    PEAK_START,
    ESTIMATED,
    QUARTERS,
    ESTIMATED_QUARTERS,
    BILLING_PEAK_W,
    MONTHS_COUNTED,
)


def peak_report(backend: Any, key: str, readings: pa.Table, reported: pa.Table | None = None) -> pa.Table:
    """Monthly and billing peaks per ``key`` on ``backend`` (an Ibis backend).

    ``readings``: interval values (``key``, channel, tariff, start, minutes, value [Wh], status);
    ``reported``: monthly peaks a meter reported (``key``, month, peak_start, peak_w [W]).
    """
    derived = _derived_peaks(backend, key, readings)
    monthly = with_reported(key, derived, reported)
    if monthly.num_rows == 0:
        return _empty(key)
    indexes = monthly.column(MONTH_INDEX).to_pylist()
    months = months_between(month_of_index(min(indexes)), month_of_index(max(indexes)))
    billing = to_arrow(billing_peaks(load(backend, monthly.select([key, MONTH_INDEX, PEAK_W])), key, months))
    joined = monthly.join(billing, [key, MONTH_INDEX], join_type="inner")
    return joined.select([key, *PEAK_REPORT_COLUMNS]).sort_by([(key, "ascending"), (MONTH, "ascending")])


def _derived_peaks(backend: Any, key: str, readings: pa.Table) -> pa.Table:
    if readings.num_rows == 0:
        return pa.table({})
    starts = readings.column(START)
    first = market_day_of(pc.min(starts).as_py())
    last = market_day_of(pc.max(starts).as_py())
    return decode_peaks(monthly_peaks(backend, load(backend, readings), key, months_between(first, last)))


def with_reported(key: str, derived: pa.Table, reported: pa.Table | None) -> pa.Table:
    """The derived monthly peaks plus the reported ones of months that have none derived."""
    if reported is None or reported.num_rows == 0:
        return derived
    seen = set()
    if derived.num_rows:
        seen = set(zip(derived.column(key).to_pylist(), derived.column(MONTH_INDEX).to_pylist(), strict=True))
    rows = [row for row in reported.to_pylist() if (row[key], month_index(row[MONTH])) not in seen]
    extra = pa.table(
        {
            key: pa.array([r[key] for r in rows], pa.string()),
            MONTH_INDEX: pa.array([month_index(r[MONTH]) for r in rows], pa.int64()),
            MONTH: pa.array([r[MONTH] for r in rows], pa.date32()),
            PEAK_W: pa.array([r[PEAK_W] for r in rows], pa.int64()),
            PEAK_START: pa.array([r[PEAK_START] for r in rows], UTC_MICROS),
            ESTIMATED: pa.array([False] * len(rows), pa.bool_()),
            QUARTERS: pa.array([None] * len(rows), pa.int64()),
            ESTIMATED_QUARTERS: pa.array([None] * len(rows), pa.int64()),
        }
    )
    if derived.num_rows == 0:
        return extra
    return pa.concat_tables([derived.select(extra.column_names).cast(extra.schema), extra])


def _empty(key: str) -> pa.Table:
    return pa.table(
        {
            key: pa.array([], pa.string()),
            MONTH: pa.array([], pa.date32()),
            PEAK_W: pa.array([], pa.int64()),
            PEAK_START: pa.array([], UTC_MICROS),
            ESTIMATED: pa.array([], pa.bool_()),
            QUARTERS: pa.array([], pa.int64()),
            ESTIMATED_QUARTERS: pa.array([], pa.int64()),
            BILLING_PEAK_W: pa.array([], pa.int64()),
            MONTHS_COUNTED: pa.array([], pa.int64()),
        }
    )


def kw(watts: int) -> float:
    """Watts as kW with 3 decimals (exact: an integer W is an exact thousandth of a kW)."""
    return round(watts / 1000, 3)


def peaks_document(report: pa.Table, key: str, ean_of: dict[str, str] | None = None) -> dict[str, Any]:
    """The JSON document of ``kwartier peaks``: per access point its months, peaks in kW.

    ``ean_of`` maps the report's key to the EAN shown (identity when the key is the EAN).
    """
    access_points: dict[str, list[dict[str, Any]]] = {}
    for row in report.to_pylist():
        month: date = row[MONTH]
        entry: dict[str, Any] = {"month": month.strftime("%Y-%m"), "peak_kw": kw(row[PEAK_W])}
        if row[PEAK_START] is not None:
            entry["peak_start"] = row[PEAK_START].astimezone(BRUSSELS).isoformat()
        entry["billing_peak_kw"] = kw(row[BILLING_PEAK_W])
        entry["estimated"] = bool(row[ESTIMATED])
        entry["months_in_billing_peak"] = row[MONTHS_COUNTED]
        if row[QUARTERS] is not None:
            entry["quarters"] = row[QUARTERS]
            entry["estimated_quarters"] = row[ESTIMATED_QUARTERS]
        ean = (ean_of or {}).get(row[key], row[key])
        access_points.setdefault(ean, []).append(entry)
    return {"access_points": [{"ean": ean, "months": months} for ean, months in access_points.items()]}
