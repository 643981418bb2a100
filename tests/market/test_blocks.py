"""The blocked-access-point figures of seed 000 §4.2.4 on hand-built blocks."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from kwartier.market.blocks import add_months, blocked_days, blocked_report, compensation_cents

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def _since(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=10, tzinfo=UTC)


@pytest.mark.parametrize(("days", "cents"), [(0, 0), (179, 0), (180, 150), (181, 300), (365, 186 * 150)])
def test_compensation_is_150_cents_a_day_from_day_180(days: int, cents: int) -> None:
    assert compensation_cents(days) == cents


def test_add_months_keeps_the_day_or_takes_the_last_of_a_short_month() -> None:
    assert add_months(date(2026, 8, 31), -6) == date(2026, 2, 28)
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert add_months(date(2026, 1, 15), -1) == date(2025, 12, 15)


def test_the_report_counts_open_blocks_by_age_inflow_and_compensation() -> None:
    periods = [
        ("p-new", "E-new", _since("2026-11-20"), None),  # 4 days: blocked, not over 10 days
        ("p-11", "E-11", _since("2026-11-13"), None),  # day 11
        ("p-200", "E-200", _since("2026-05-07"), None),  # open since 6 months and a bit, day 201
        ("p-done", "E-done", _since("2026-01-01"), _since("2026-07-20")),  # resolved on day 201
        ("p-short", "E-short", _since("2026-08-01"), _since("2026-08-05")),  # resolved before 3 months
        ("p-future", "E-future", _since("2026-12-01"), None),  # not yet begun at NOW
    ]
    report = blocked_report(periods, NOW)
    assert blocked_days(_since("2026-05-07"), None, NOW) == 201
    assert (report["blocked"], report["blocked_over_10_days"], report["blocked_over_6_months"]) == (3, 2, 1)
    assert report["inflow_after_3_months"] == {"2026-04": 1, "2026-08": 1}
    assert report["compensation"] == [
        {"ean": "E-200", "days": 201, "euro": 33.0},
        {"ean": "E-done", "days": 200, "euro": 31.5},
    ]
    assert report["compensation_total_euro"] == 64.5
