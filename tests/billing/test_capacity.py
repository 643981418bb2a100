"""The capacity-tariff rules against a second method: plain Python with exact fractions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from kwartier.billing.capacity import (
    MINIMUM_PEAK_W,
    decode_peaks,
    monthly_peaks,
    peak_candidates,
    peaks_from_candidates,
)
from kwartier.billing.months import month_index, month_of_index, month_quarter_bounds
from kwartier.billing.peak_report import peak_report
from kwartier.billing.sources import FILE_PEAKS, FILE_READINGS
from kwartier.config import EngineName
from kwartier.domain.channels import tariff_period
from kwartier.domain.timegrid import BRUSSELS
from kwartier.engine import connect, load
from kwartier.schema import STORED_READINGS
from kwartier.store.versions import current_readings_arrow

BACKEND = connect(EngineName.DUCKDB)


def reference_billing_peak(history: dict[int, int], month: int) -> int:
    """Mean of max(peak, 2.5 kW) over the months present among the 12 ending with ``month``, half up."""
    window = [max(w, MINIMUM_PEAK_W) for m, w in history.items() if month - 12 < m <= month]
    mean = Fraction(sum(window), len(window))
    return int(mean + Fraction(1, 2)) if mean.denominator != 1 else int(mean)


histories = st.dictionaries(
    st.integers(min_value=month_index(date(2023, 1, 1)), max_value=month_index(date(2026, 12, 1))),
    st.integers(min_value=0, max_value=40_000),
    min_size=1,
    max_size=30,
)


@settings(max_examples=40, deadline=None)
@given(histories)
def test_billing_peak_equals_the_exact_mean_of_floored_months(history: dict[int, int]) -> None:
    reported = pa.table(
        {
            "ean": ["E"] * len(history),
            "month": [month_of_index(m) for m in history],
            "peak_start": [None] * len(history),
            "peak_w": list(history.values()),
        },
        schema=FILE_PEAKS,
    )
    report = peak_report(BACKEND, "ean", FILE_READINGS.empty_table(), reported)
    got = {month_index(row["month"]): row["billing_peak_w"] for row in report.to_pylist()}
    assert got == {m: reference_billing_peak(history, m) for m in history}


quarters = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=96 * 70), st.integers(min_value=0, max_value=5_000), st.booleans()
    ),
    min_size=1,
    max_size=60,
    unique_by=lambda q: q[0],
)


@settings(max_examples=40, deadline=None)
@given(quarters)
def test_monthly_peak_is_the_earliest_highest_quarter_of_the_local_month(
    values: list[tuple[int, int, bool]],
) -> None:
    origin = datetime(2026, 9, 20, 22, tzinfo=UTC)  # 70 days over the October DST change and a month end
    starts = [origin + timedelta(minutes=15 * n) for n, _, _ in values]
    readings = pa.table(
        {
            "ean": ["E"] * len(values),
            "channel": ["offtake"] * len(values),
            "tariff": [tariff_period(s).value for s in starts],
            "start": starts,
            "minutes": [15] * len(values),
            "value": [wh for _, wh, _ in values],
            "status": ["estimated" if est else "measured" for _, _, est in values],
        },
        schema=FILE_READINGS,
    )
    expected: dict[date, tuple[int, datetime, bool]] = {}
    for start, (_, wh, est) in sorted(zip(starts, values, strict=True)):
        month = start.astimezone(BRUSSELS).date().replace(day=1)
        if month not in expected or wh * 4 > expected[month][0]:
            expected[month] = (wh * 4, start, est)
    report = peak_report(BACKEND, "ean", readings)
    assert {
        r["month"]: (r["peak_w"], r["peak_start"], r["estimated"]) for r in report.to_pylist()
    } == expected


registers = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=96 * 70),
        st.integers(min_value=0, max_value=5_000),
        st.booleans(),
        st.sampled_from(["day", "night", "excl_night"]),
    ),
    min_size=1,
    max_size=60,
    unique_by=lambda q: (q[0], q[3]),
)


@settings(max_examples=40, deadline=None)
@given(registers)
def test_day_and_night_values_of_one_quarter_are_added_whatever_their_period(
    values: list[tuple[int, int, bool, str]],
) -> None:
    origin = datetime(2026, 9, 20, 22, tzinfo=UTC)
    starts = [origin + timedelta(minutes=15 * n) for n, _, _, _ in values]
    readings = pa.table(
        {
            "ean": ["E"] * len(values),
            "channel": ["offtake"] * len(values),
            "tariff": [tariff for *_, tariff in values],
            "start": starts,
            "minutes": [15] * len(values),
            "value": [wh for _, wh, _, _ in values],
            "status": ["estimated" if est else "measured" for _, _, est, _ in values],
        },
        schema=FILE_READINGS,
    )
    per_quarter: dict[datetime, tuple[int, bool]] = {}
    for start, (_, wh, est, tariff) in zip(starts, values, strict=True):
        if tariff != "excl_night":  # the exclusive-night register is no part of the capacity tariff
            energy, estimated = per_quarter.get(start, (0, False))
            per_quarter[start] = (energy + wh, estimated or est)
    expected: dict[date, tuple[int, datetime, bool, int]] = {}
    for start, (wh, est) in sorted(per_quarter.items()):
        month = start.astimezone(BRUSSELS).date().replace(day=1)
        count = expected[month][3] + 1 if month in expected else 1
        if month not in expected or wh * 4 > expected[month][0]:
            expected[month] = (wh * 4, start, est, count)
        else:
            expected[month] = (*expected[month][:3], count)
    report = peak_report(BACKEND, "ean", readings)
    got = {
        r["month"]: (r["peak_w"], r["peak_start"], r["estimated"], r["quarters"]) for r in report.to_pylist()
    }
    assert got == expected


def test_the_quarter_bounds_of_a_dst_month_count_its_quarters() -> None:
    # October 2026: 31 days and one hour more (2,980 quarters)
    october, november = month_quarter_bounds([date(2026, 10, 1), date(2026, 11, 1)])
    assert october[2] - october[1] == 2_980 and november[2] - november[1] == 30 * 96
    first = datetime.fromtimestamp(october[1] * 900, UTC).astimezone(BRUSSELS)
    assert datetime.fromtimestamp((october[2] - 1) * 900, UTC) == datetime(2026, 10, 31, 22, 45, tzinfo=UTC)
    assert (first.date(), first.hour) == (date(2026, 10, 1), 0)


BOUNDARY = datetime(2026, 10, 31, 21, tzinfo=UTC)  # 22:00 local: four quarters of October, then November
stored_versions = st.lists(
    st.tuples(
        st.sampled_from(["A", "B"]),
        st.integers(min_value=0, max_value=11),  # quarter after BOUNDARY
        st.sampled_from(["day", "night", "excl_night"]),
        st.integers(min_value=0, max_value=3_000),  # Wh
        st.sampled_from(["measured", "estimated", "rejected"]),
        st.integers(min_value=0, max_value=3),  # hour of recording
        st.sampled_from(["b1", "b2"]),  # batch
    ),
    min_size=1,
    max_size=40,
    unique_by=lambda v: (v[0], v[1], v[2], v[5], v[6]),  # one version per key, recording and batch
)


@settings(max_examples=60, deadline=None)
@given(stored_versions, st.one_of(st.none(), st.integers(min_value=0, max_value=3)))
def test_peaks_from_stored_versions_equal_the_peaks_of_the_current_values(
    versions: list[tuple[str, int, str, int, str, int, str]], as_of_hour: int | None
) -> None:
    # second method: the store's rule (current_readings_arrow) first, then the peaks of those values
    recorded = datetime(2026, 11, 2, tzinfo=UTC)
    table = _stored(versions, recorded)
    as_of = None if as_of_hour is None else recorded + timedelta(hours=as_of_hour)
    months = [date(2026, 10, 1), date(2026, 11, 1)]
    current = current_readings_arrow(table, as_of)
    expected = decode_peaks(monthly_peaks(BACKEND, load(BACKEND, current), "ap", months))
    got = decode_peaks(monthly_peaks(BACKEND, load(BACKEND, table), "ap", months, as_of=as_of))
    order = [("ap", "ascending"), ("month_index", "ascending")]
    assert got.sort_by(order).to_pylist() == expected.sort_by(order).to_pylist()


@settings(max_examples=60, deadline=None)
@given(stored_versions, st.lists(st.integers(min_value=0, max_value=3), min_size=40, max_size=40))
def test_peaks_combined_from_the_candidates_of_files_equal_the_peaks_of_all_rows(
    versions: list[tuple[str, int, str, int, str, int, str]], file_of_row: list[int]
) -> None:
    """The stored rows spread over up to four files (as batches and compactions leave them); the peaks
    from each file's candidates equal those of all rows read together, whatever overlaps."""
    table = _stored(versions, datetime(2026, 11, 2, tzinfo=UTC))
    months = [date(2026, 10, 1), date(2026, 11, 1)]
    files = pa.array(file_of_row[: table.num_rows])
    pieces = [load(BACKEND, table.filter(pc.equal(files, n))) for n in range(4)]
    parts = [(rows, peak_candidates(BACKEND, rows, "ap", months, spans=True)) for rows in pieces]
    got = decode_peaks(peaks_from_candidates(BACKEND, parts, "ap", months))
    expected = decode_peaks(monthly_peaks(BACKEND, load(BACKEND, table), "ap", months))
    order = [("ap", "ascending"), ("month_index", "ascending")]
    assert got.sort_by(order).to_pylist() == expected.sort_by(order).to_pylist()


def _stored(versions: list[tuple[str, int, str, int, str, int, str]], recorded: datetime) -> pa.Table:
    """Stored readings rows of (ap, quarter after BOUNDARY, tariff, Wh, status, hour recorded, batch)."""
    return pa.Table.from_pylist(
        [
            {
                "ap": ap,
                "channel": "offtake",
                "tariff": tariff,
                "start": BOUNDARY + timedelta(minutes=15 * quarter),
                "minutes": 15,
                "value": wh,
                "status": status,
                "rule": None,
                "method": None,
                "batch": batch,
                "recorded_at": recorded + timedelta(hours=hour),
            }
            for ap, quarter, tariff, wh, status, hour, batch in versions
        ],
        schema=STORED_READINGS,
    )


deliveries = st.lists(
    st.tuples(
        st.sampled_from(["A", "B", "C"]),
        st.integers(min_value=0, max_value=200),  # first quarter after BOUNDARY (Monday 07:00 local: 132)
        st.integers(min_value=1, max_value=60),  # quarters delivered
        st.integers(min_value=0, max_value=10**6),  # seed of the values
        st.sampled_from(["day", "night", "clock"]),  # the register; "clock": the tariff clock's
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=120, deadline=None)
@given(deliveries, st.lists(st.integers(min_value=0, max_value=2), min_size=8, max_size=8), st.booleans())
def test_corrections_over_part_of_a_file_are_resolved_in_their_doubtful_range(
    delivered: list[tuple[str, int, int, int, str]], file_of_delivery: list[int], one_version: bool
) -> None:
    """Batches that each deliver a run of quarters of one access point, one version per quarter, later
    batches correcting part of earlier ones, spread over up to three files: only the quarters two files
    share are resolved per quarter (:func:`_combined`'s doubtful range); the peaks equal those of the
    current values chosen by the store's rule. Each file holds one version per value, so the candidates
    may also be computed with ``one_version`` (registers against the tariff clock)."""
    recorded = datetime(2026, 11, 2, tzinfo=UTC)
    rows, file_of_row = [], []
    for n, (ap, first, count, seed, register) in enumerate(delivered):
        for quarter in range(first, first + count):
            start = BOUNDARY + timedelta(minutes=15 * quarter)
            tariff = tariff_period(start).value if register == "clock" else register
            rows.append((ap, quarter, tariff, (seed * (quarter + 7)) % 3_001, "measured", n, f"b{n}"))
            file_of_row.append(file_of_delivery[n])
    unique = {}
    for index, row in enumerate(rows):  # a file keeps one version per access point, register and quarter
        unique[(file_of_row[index], row[0], row[1], row[2])] = index
    kept = sorted(unique.values())
    table = _stored([rows[i] for i in kept], recorded)
    files = pa.array([file_of_row[i] for i in kept])
    months = [date(2026, 10, 1), date(2026, 11, 1)]
    pieces = [load(BACKEND, table.filter(pc.equal(files, n))) for n in range(3)]
    parts = [
        (part, peak_candidates(BACKEND, part, "ap", months, spans=True, one_version=one_version))
        for part in pieces
    ]
    got = decode_peaks(peaks_from_candidates(BACKEND, parts, "ap", months))
    current = current_readings_arrow(table, None)
    expected = decode_peaks(monthly_peaks(BACKEND, load(BACKEND, current), "ap", months))
    order = [("ap", "ascending"), ("month_index", "ascending")]
    assert got.sort_by(order).to_pylist() == expected.sort_by(order).to_pylist()


def test_a_file_of_one_version_per_value_flags_only_quarters_that_may_hold_both_registers() -> None:
    """With ``one_version``, an access point whose registers follow the tariff clock, or that has one
    register only, has exact candidates; one with a day and a night value in one quarter is flagged."""
    recorded = datetime(2026, 11, 2, tzinfo=UTC)
    monday = range(120, 200)  # Monday 2 November 2026, 04:00–23:45 local: night, day from 07:00, night
    rows = [
        ("A", q, tariff_period(BOUNDARY + timedelta(minutes=15 * q)).value, 100 + q, "measured", 0, "b")
        for q in monday
    ]
    rows += [("B", q, "day", 100 + q, "measured", 0, "b") for q in monday]
    rows += [
        ("C", q, tariff_period(BOUNDARY + timedelta(minutes=15 * q)).value, 100 + q, "measured", 0, "b")
        for q in monday
    ]
    rows.append(("C", 150, "night", 7, "measured", 0, "b"))  # both registers in a day quarter
    rows += [("D", q, "night", 100 + q, "measured", 0, "b") for q in monday if q % 2]
    rows += [("D", q, "day", 100 + q, "measured", 0, "b") for q in monday if not q % 2]  # off the clock
    table = load(BACKEND, _stored(rows, recorded))
    months = [date(2026, 11, 1)]
    fast = peak_candidates(BACKEND, table, "ap", months, one_version=True)
    general = peak_candidates(BACKEND, table, "ap", months)
    flagged = {row["ap"]: row["repeated"] for row in fast.to_pylist()}
    assert flagged == {"A": False, "B": False, "C": True, "D": True}
    assert {row["ap"]: row["repeated"] for row in general.to_pylist()} == {
        "A": False,
        "B": False,
        "C": True,
        "D": False,
    }
    got = decode_peaks(peaks_from_candidates(BACKEND, [(table, fast)], "ap", months))
    expected = decode_peaks(monthly_peaks(BACKEND, table, "ap", months))
    order = [("ap", "ascending"), ("month_index", "ascending")]
    assert got.sort_by(order).to_pylist() == expected.sort_by(order).to_pylist()
