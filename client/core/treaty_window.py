"""Deadlines of the treaty on export controls in the defence domain (2021: France, Germany, Spain;
the United Kingdom since December 2025), as pure functions of dates the caller passes in.

The objection window. For intergovernmental cooperation programmes and for recognised industrial
cooperation, a party that intends to oppose another party's export says so as early as possible and
at the latest within two months of learning of the export project (DOMAIN.md §6, tracks 1 and 2).
The treaty does not say how a period in months is counted, so this module takes the reading shared
by Reg. (EEC, Euratom) No 1182/71 Art. 3, BGB § 188(2)-(3) and the French code de procédure civile
art. 641-642 [assumed, to check against the treaty text]:

- the day of learning does not count; the period ends at the end of the day with the same day
  number `months` calendar months later (15 January -> 15 March, 30 November -> 30 January);
- when that month has no such day, at the end of its last day (31 December -> 28 February, or
  29 February in a leap year such as 2028; 31 August -> 31 October is unaffected);
- the deadline day itself is still in time; the day after is late;
- no extension to the next working day when the deadline falls on a weekend or a public holiday:
  the treaty names none, and the parties' holidays differ.

A window that elapses in silence is NOT_OPPOSED_IN_TIME: the party lost its treaty ground to object,
but it gave no consent, and every licence stays a national decision.
"""

from __future__ import annotations

import calendar
import datetime as dt
import enum

# Two months from learning of the export project (treaty tracks 1 and 2, DOMAIN.md §6).
OBJECTION_MONTHS = 2


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day number `months` later, or the last day of a month too short to have it."""
    if months < 0:
        raise ValueError(f"months must not be negative, got {months}")
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def objection_deadline(aware: dt.date, months: int = OBJECTION_MONTHS) -> dt.date:
    """The last day on which a party that learned of an export project on `aware` may still say
    it intends to oppose the export."""
    if months < 1:
        raise ValueError(f"an objection window lasts at least one month, got {months}")
    return add_months(aware, months)


def position_in_time(aware: dt.date, on: dt.date, months: int = OBJECTION_MONTHS) -> bool:
    """Whether a position given on `on` came within the window; early is in time, since the
    treaty asks for objections as early as possible."""
    return on <= objection_deadline(aware, months)


def not_opposed_in_time(
    aware: dt.date, today: dt.date, months: int = OBJECTION_MONTHS, *, positions_given: bool
) -> bool:
    """Whether the partner's state is NOT_OPPOSED_IN_TIME: the whole window has passed and it gave
    no position. This is silence, never consent, and must be labelled as such."""
    return not positions_given and today > objection_deadline(aware, months)


class LicenceDue(enum.Enum):
    """Where a de minimis licence stands: the supplying party issues it without delay (Art. 3)."""

    NOT_DUE = "not due"
    DUE = "due"
    OVERDUE = "overdue"


def licence_due(
    decided_on: dt.date | None, due_since: dt.date, today: dt.date, overdue_after_days: int
) -> LicenceDue:
    """Whether a licence the treaty wants issued "without delay" is still awaited, and for too long.

    The treaty gives "without delay" no number of days, so `overdue_after_days` is configuration
    [assumed]: the licence is overdue once more than that many days have passed since `due_since`.
    A decision dated after `today` had not been taken on `today`.
    """
    if overdue_after_days < 0:
        raise ValueError(f"overdue_after_days must not be negative, got {overdue_after_days}")
    if decided_on is not None and decided_on <= today:
        return LicenceDue.NOT_DUE
    if today < due_since:
        return LicenceDue.NOT_DUE
    if (today - due_since).days > overdue_after_days:
        return LicenceDue.OVERDUE
    return LicenceDue.DUE
