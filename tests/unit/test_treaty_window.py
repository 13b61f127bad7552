"""The treaty's objection window and the de minimis licence's "without delay", over month ends
and leap years, with the clock moved by hand."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from client.core.treaty_window import (
    LicenceDue,
    add_months,
    licence_due,
    not_opposed_in_time,
    objection_deadline,
    position_in_time,
)

D = dt.date.fromisoformat


@pytest.mark.parametrize(
    ("aware", "months", "deadline"),
    [
        ("2026-01-15", 2, "2026-03-15"),
        ("2026-11-30", 2, "2027-01-30"),
        ("2026-12-31", 2, "2027-02-28"),
        ("2027-12-31", 2, "2028-02-29"),
        ("2027-12-29", 2, "2028-02-29"),
        ("2027-12-30", 2, "2028-02-29"),
        ("2025-12-29", 2, "2026-02-28"),
        ("2026-08-31", 2, "2026-10-31"),
        ("2026-07-31", 2, "2026-09-30"),
        ("2028-02-29", 2, "2028-04-29"),
        ("2026-02-28", 2, "2026-04-28"),
        ("2026-11-01", 2, "2027-01-01"),
        ("2026-01-31", 1, "2026-02-28"),
        ("2028-01-31", 1, "2028-02-29"),
        ("2026-12-15", 1, "2027-01-15"),
        ("2026-11-30", 3, "2027-02-28"),
        ("2027-11-30", 3, "2028-02-29"),
        ("2026-10-31", 3, "2027-01-31"),
        ("2026-05-31", 3, "2026-08-31"),
    ],
    ids=[
        "mid-month",
        "30-november-to-30-january",
        "31-december-to-28-february",
        "31-december-to-29-february-2028",
        "29-december-to-leap-day",
        "30-december-to-leap-day",
        "29-december-to-28-february",
        "31-august-to-31-october",
        "31-july-to-30-september",
        "from-leap-day",
        "from-28-february",
        "first-of-month-across-year",
        "1-month-31-january",
        "1-month-31-january-leap",
        "1-month-across-year",
        "3-months-30-november",
        "3-months-30-november-leap",
        "3-months-31-october",
        "3-months-31-may",
    ],
)
def test_objection_deadline(aware: str, months: int, deadline: str) -> None:
    assert objection_deadline(D(aware), months) == D(deadline)


def test_objection_window_is_two_months_unless_configured() -> None:
    assert objection_deadline(D("2026-03-10")) == D("2026-05-10")


@pytest.mark.parametrize(
    ("aware", "months", "on", "in_time"),
    [
        ("2026-12-31", 2, "2027-02-28", True),
        ("2026-12-31", 2, "2027-03-01", False),
        ("2027-12-31", 2, "2028-02-29", True),
        ("2027-12-31", 2, "2028-03-01", False),
        ("2026-11-30", 2, "2027-01-30", True),
        ("2026-11-30", 2, "2027-01-31", False),
        ("2026-01-15", 1, "2026-02-15", True),
        ("2026-01-15", 1, "2026-02-16", False),
        ("2026-01-15", 3, "2026-04-15", True),
        ("2026-01-15", 3, "2026-04-16", False),
        ("2026-01-15", 2, "2026-01-15", True),
        ("2026-01-15", 2, "2026-01-10", True),
    ],
    ids=[
        "deadline-day-28-february",
        "day-after-28-february",
        "deadline-day-leap",
        "day-after-leap",
        "deadline-day-30-january",
        "31-january-late",
        "1-month-deadline-day",
        "1-month-day-after",
        "3-months-deadline-day",
        "3-months-day-after",
        "same-day",
        "before-learning",
    ],
)
def test_position_in_time(aware: str, months: int, on: str, in_time: bool) -> None:
    assert position_in_time(D(aware), D(on), months) is in_time


@pytest.mark.parametrize(
    ("today", "given", "expected"),
    [
        ("2026-01-20", False, False),
        ("2026-03-20", False, False),
        ("2026-03-21", False, True),
        ("2027-06-01", False, True),
        ("2026-03-21", True, False),
        ("2026-03-20", True, False),
    ],
    ids=[
        "window-open",
        "deadline-day-still-open",
        "day-after-silent",
        "long-after-silent",
        "day-after-answered",
        "deadline-day-answered",
    ],
)
def test_not_opposed_in_time(today: str, given: bool, expected: bool) -> None:
    assert not_opposed_in_time(D("2026-01-20"), D(today), 2, positions_given=given) is expected


def test_not_opposed_in_time_over_a_leap_february() -> None:
    aware = D("2027-12-31")
    assert not not_opposed_in_time(aware, D("2028-02-29"), positions_given=False)
    assert not_opposed_in_time(aware, D("2028-03-01"), positions_given=False)
    assert not not_opposed_in_time(aware, D("2028-02-29"), 3, positions_given=False)
    assert not_opposed_in_time(aware, D("2028-04-01"), 3, positions_given=False)


@pytest.mark.parametrize("months", [0, -1])
def test_window_of_no_months_refused(months: int) -> None:
    with pytest.raises(ValueError, match="at least one month"):
        objection_deadline(D("2026-01-01"), months)


def test_add_months_refuses_going_back() -> None:
    with pytest.raises(ValueError, match="negative"):
        add_months(D("2026-01-01"), -1)


@given(st.dates(dt.date(1990, 1, 1), dt.date(2200, 12, 31)), st.integers(1, 36))
def test_deadline_is_same_day_or_month_end(aware: dt.date, months: int) -> None:
    deadline = objection_deadline(aware, months)
    assert (deadline.year * 12 + deadline.month) - (aware.year * 12 + aware.month) == months
    next_day = deadline + dt.timedelta(days=1)
    assert deadline.day == aware.day or (deadline.day < aware.day and next_day.day == 1)
    assert position_in_time(aware, deadline, months)
    assert not position_in_time(aware, next_day, months)


@given(st.dates(dt.date(1990, 1, 1), dt.date(2200, 12, 31)))
def test_a_longer_window_never_ends_sooner(aware: dt.date) -> None:
    deadlines = [objection_deadline(aware, m) for m in (1, 2, 3)]
    assert deadlines == sorted(set(deadlines))


@pytest.mark.parametrize(
    ("decided_on", "today", "expected"),
    [
        (None, "2026-05-31", LicenceDue.NOT_DUE),
        (None, "2026-06-01", LicenceDue.DUE),
        (None, "2026-06-15", LicenceDue.DUE),
        (None, "2026-06-16", LicenceDue.OVERDUE),
        ("2026-06-10", "2026-06-20", LicenceDue.NOT_DUE),
        ("2026-06-30", "2026-06-20", LicenceDue.OVERDUE),
        ("2026-06-30", "2026-06-10", LicenceDue.DUE),
        ("2026-05-20", "2026-06-20", LicenceDue.NOT_DUE),
    ],
    ids=[
        "before-due",
        "due-first-day",
        "last-day-not-overdue",
        "day-after-overdue",
        "decided",
        "decided-later-overdue-then",
        "decided-later-due-then",
        "decided-before-due",
    ],
)
def test_licence_due(decided_on: str | None, today: str, expected: LicenceDue) -> None:
    decided = D(decided_on) if decided_on else None
    assert licence_due(decided, D("2026-06-01"), D(today), 14) is expected


def test_licence_due_with_no_grace_is_overdue_the_next_day() -> None:
    assert licence_due(None, D("2026-06-01"), D("2026-06-01"), 0) is LicenceDue.DUE
    assert licence_due(None, D("2026-06-01"), D("2026-06-02"), 0) is LicenceDue.OVERDUE


def test_licence_due_refuses_negative_grace() -> None:
    with pytest.raises(ValueError, match="negative"):
        licence_due(None, D("2026-06-01"), D("2026-06-02"), -1)
