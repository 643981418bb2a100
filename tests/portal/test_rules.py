"""The portal's pure rules: the history windows and groupings, the occupant's billing peak, the chart
geometry, the language choice and catalogues, and the user-port service."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from tests.portal.conftest import C1, E1, E2, PortalWorld

from kwartier.access import user_port
from kwartier.access.codes import PortAction
from kwartier.portal import history
from kwartier.portal.charts import Point, bar_chart
from kwartier.portal.i18n import CATALOGUES, choose_language, from_accept_language, translate
from kwartier.portal.web import kwh_text, safe_next
from kwartier.registry.data_access import Account
from kwartier.registry.database import open_registry

T0 = datetime(2025, 5, 1, 12, tzinfo=UTC)


def test_both_catalogues_hold_the_same_keys_and_fields() -> None:
    assert set(CATALOGUES["nl"]) == set(CATALOGUES["en"])
    for key, text in CATALOGUES["nl"].items():
        fields = sorted(part.split("}")[0] for part in text.split("{")[1:])
        english = sorted(part.split("}")[0] for part in CATALOGUES["en"][key].split("{")[1:])
        assert fields == english, key
    assert translate("en", "ap.since", start="2024-01-01") == "In your name since 2024-01-01"
    with pytest.raises(KeyError):
        translate("nl", "no.such.key")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("en-GB,en;q=0.9", "en"),
        ("fr-BE, nl;q=0.7, en;q=0.8", "en"),
        ("de, fr", None),
        ("nl-BE", "nl"),
        ("en;q=0, nl;q=0.1", "nl"),
        ("en;q=abc", None),
        ("", None),
        (None, None),
    ],
)
def test_accept_language(header: str | None, expected: str | None) -> None:
    assert from_accept_language(header) == expected


def test_the_account_choice_wins_then_the_cookie_then_the_browser() -> None:
    assert choose_language("en", "nl", "nl") == "en"
    assert choose_language(None, "en", "nl") == "en"
    assert choose_language(None, "xx", "en-US") == "en"
    assert choose_language(None, None, "de") == "nl"


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/my-data", "/my-data"), ("//evil", "/"), ("/\\evil", "/"), ("http://x", "/"), ("", "/"), (None, "/")],
)
def test_only_local_paths_come_back_after_sign_in(path: str | None, expected: str) -> None:
    assert safe_next(path) == expected


def test_kwh_text_is_exact() -> None:
    assert [kwh_text(v) for v in (0, 1, 999, 1000, 123456, -1500, None)] == [
        "0.000",
        "0.001",
        "0.999",
        "1.000",
        "123.456",
        "-1.500",
        "–",
    ]


def test_windows_and_held_months() -> None:
    today = date(2025, 5, 1)
    assert history.detail_window(today) == (date(2023, 5, 1), today)
    assert history.cumulative_window(today) == (date(2022, 1, 1), today)
    assert history.months_back(date(2025, 1, 31), 1) == date(2024, 12, 1)
    periods = [(date(2024, 1, 15), date(2024, 4, 1)), (date(2024, 5, 1), None)]
    assert history.visible(periods, date(2024, 3, 20), date(2024, 5, 3)) == [
        (date(2024, 3, 20), date(2024, 4, 1)),
        (date(2024, 5, 1), date(2024, 5, 3)),
    ]
    full, part = history.held_months(periods, date(2024, 1, 1), date(2024, 7, 1))
    assert full == [date(2024, 2, 1), date(2024, 3, 1), date(2024, 5, 1), date(2024, 6, 1)]
    assert part == [date(2024, 1, 1)]


def _total(
    start: datetime, channel: str, tariff: str, value: int, status: str = "measured"
) -> dict[str, Any]:
    return {"start": start, "channel": channel, "tariff": tariff, "value": value, "status": status}


def test_weeks_and_years_add_up_their_days_and_keep_estimates() -> None:
    days = [
        _total(datetime(2024, 12, 29, 23, tzinfo=UTC), "offtake", "day", 1000),  # Mon 2024-12-30 local
        _total(datetime(2024, 12, 30, 23, tzinfo=UTC), "offtake", "day", 2000, "estimated"),  # Tue 31
        _total(datetime(2024, 12, 31, 23, tzinfo=UTC), "offtake", "night", 500),  # Wed 2025-01-01
        _total(datetime(2025, 1, 5, 23, tzinfo=UTC), "injection", "day", 300),  # Mon 2025-01-06
    ]
    weeks = history.grouped(days, "week")
    assert [w.label for w in weeks] == ["01 · 2024-12-30", "02 · 2025-01-06"]
    assert weeks[0].values == {("offtake", "day"): 3000, ("offtake", "night"): 500}
    assert weeks[0].estimated == {("offtake", "day")} and not weeks[1].any_estimated
    years = history.grouped(days, "year")
    assert [(y.label, y.total(history.OFFTAKE_CHANNELS)) for y in years] == [("2024", 3000), ("2025", 500)]
    assert history.columns_of(weeks) == [("offtake", "day"), ("offtake", "night"), ("injection", "day")]


def test_the_billing_peak_of_the_published_example() -> None:
    """docs/billing.md: these twelve monthly peaks give an average monthly peak of 4.456 kW."""
    peaks_kw = [0.632, 4.6, 0, 1.028, 3.444, 4.164, 4.564, 6.0, 9.2, 5.0, 4.12, 4.88]
    months = [
        history.MonthPeak(date(2024, m + 1, 1), round(kw * 1000), None, False, False)
        for m, kw in enumerate(peaks_kw)
    ]
    result = history.with_billing_peaks(months)
    assert (result[-1].billing_peak_w, result[-1].months_counted) == (4456, 12)
    assert result[0].billing_peak_w == 2500  # one month below the floor
    eleven_low = [history.MonthPeak(date(2024, m + 1, 1), 1000, None, False, False) for m in range(11)]
    high = history.MonthPeak(date(2024, 12, 1), 20_000, None, False, False)
    assert history.with_billing_peaks([*eleven_low, high])[-1].billing_peak_w == 3958


def test_a_peak_is_the_highest_quarter_the_earliest_of_equal_ones() -> None:
    start = datetime(2024, 3, 1, tzinfo=UTC)
    quarters = [
        history.Quarter(start + timedelta(minutes=15 * i), value, 0, i == 2)
        for i, value in enumerate([100, 300, 300, 50])
    ]
    assert history.peak_of_quarters(quarters) == (1200, start + timedelta(minutes=15), False)
    assert history.peak_of_quarters([]) == (0, None, False)


def test_estimated_bars_are_hatched_and_marked_and_heights_are_proportional() -> None:
    chart = bar_chart(
        [Point("a", 1000, 0, False, "a"), Point("b", 500, 0, True), Point("c", 0, 250, True, "c")]
    )
    offtake = [b for b in chart.bars if b.channel == "offtake"]
    injection = [b for b in chart.bars if b.channel == "injection"]
    assert [b.estimated for b in offtake] == [False, True] and injection[0].estimated
    assert offtake[0].marker_y is None and offtake[1].marker_y is not None
    assert offtake[0].height == pytest.approx(2 * offtake[1].height)
    assert injection[0].height == pytest.approx(offtake[1].height / 2)
    assert injection[0].y == pytest.approx(chart.axis_y) and offtake[0].y + offtake[0].height == chart.axis_y
    assert [t.text for t in chart.ticks] == ["a", "c"] and chart.has_injection and chart.has_estimates
    flat = bar_chart([Point("z", 0, 0, False)])
    assert flat.bars == () and not flat.has_injection


def _account_id(session: sa.orm.Session, login: str) -> int:
    found = session.scalar(sa.select(Account.id).where(Account.login == login))
    assert found is not None
    return found


def test_the_user_port_service(world: PortalWorld) -> None:
    with open_registry(world.settings.registry_url)() as session, session.begin():
        owner = _account_id(session, C1)
        state = user_port.port_state(session, E1, T0)
        assert (state.open, state.known, state.pending) == (False, False, None)
        with pytest.raises(user_port.PortError):
            user_port.request_change(
                session,
                ean=E1,
                account_id=owner,
                action=PortAction.CLOSE,
                now=T0,
                open_until=date(2025, 6, 1),
            )
        with pytest.raises(user_port.PortError):
            user_port.request_change(
                session, ean=E1, account_id=owner, action=PortAction.OPEN, now=T0, open_until=date(2025, 5, 1)
            )
        opened = user_port.request_change(
            session, ean=E1, account_id=owner, action=PortAction.OPEN, now=T0, open_until=date(2025, 5, 20)
        )
        assert opened.due_at == T0 + timedelta(hours=24)
        other = user_port.request_change(session, ean=E2, account_id=owner, action=PortAction.OPEN, now=T0)
        assert user_port.overdue(session, T0 + timedelta(hours=25)) == [opened, other]
        done = user_port.execute_due(session, T0 + timedelta(hours=2), failed={other.id})
        assert [(r.id, r.status.value) for r in done] == [(opened.id, "done"), (other.id, "failed")]
        assert user_port.overdue(session, T0 + timedelta(hours=25)) == []
        state = user_port.port_state(session, E1, T0 + timedelta(days=1))
        assert (state.open, state.open_until) == (True, date(2025, 5, 20))
        assert not user_port.port_state(session, E2, T0).open  # the head-end failed
        assert user_port.reminders_due(session, T0) == []  # 19 days ahead: not yet
        assert user_port.reminders_due(session, T0 + timedelta(days=6)) == [opened]
        assert user_port.reminders_due(session, T0 + timedelta(days=7)) == []
        assert not user_port.port_state(session, E1, datetime(2025, 5, 21, 12, tzinfo=UTC)).open
        assert [r.id for r in user_port.requests_of(session, E1)] == [opened.id]
