"""Branch account-opening targets [S0 §13(二)(2), DOMAIN §8]: 1 a week, 4 and 2 basic a month."""

from __future__ import annotations

from datetime import date

import pytest

from domain.rules.targets import OpenedAccount, branch_targets, iso_weeks
from tests.support import RULEBOOK

pytestmark = pytest.mark.unit

TARGETS = RULEBOOK.branch_targets


def test_iso_weeks_cross_year_boundaries() -> None:
    weeks = iso_weeks(date(2026, 12, 30), date(2027, 1, 5))
    assert weeks == [("2026-W53", date(2026, 12, 28), date(2027, 1, 3)),
                     ("2027-W01", date(2027, 1, 4), date(2027, 1, 10))]


def test_counts_and_met_missed_per_week_and_month() -> None:
    accounts = [OpenedAccount(date(2026, 3, 2), "basic"),  # Mon, week 10
                OpenedAccount(date(2026, 3, 8), "general"),  # Sun, week 10
                OpenedAccount(date(2026, 3, 18), "basic"),  # week 12
                OpenedAccount(date(2026, 3, 31), "special"),  # Tue, week 14
                OpenedAccount(date(2026, 4, 1), "basic")]  # week 14, April
    report = branch_targets(accounts, TARGETS, date(2026, 3, 1), date(2026, 3, 31),
                            today=date(2026, 4, 2))
    assert [(w.key, w.count, w.met, w.missed) for w in report.weeks] == [
        ("2026-W09", 0, False, True),  # Sunday 1 March closes week 9
        ("2026-W10", 2, True, False),
        ("2026-W11", 0, False, True),
        ("2026-W12", 1, True, False),
        ("2026-W13", 0, False, True),
        ("2026-W14", 2, True, False),  # whole week counted, April 1 included
    ]
    (march,) = report.months
    assert (march.key, march.count, march.target, march.met) == ("2026-03", 4, 4, True)
    (basic,) = report.basic_months
    assert (basic.count, basic.target, basic.met, basic.missed) == (2, 2, True, False)


def test_a_running_period_is_not_yet_missed() -> None:
    report = branch_targets([], TARGETS, date(2026, 4, 1), date(2026, 4, 30),
                            today=date(2026, 4, 15))
    (april,) = report.months
    assert (april.met, april.complete, april.missed) == (False, False, False)
    assert report.weeks[0].missed  # week 14 (30 Mar – 5 Apr) has ended
    assert not report.weeks[-1].complete


def test_an_empty_range_reports_nothing() -> None:
    report = branch_targets([], TARGETS, date(2026, 4, 2), date(2026, 4, 1))
    assert (report.weeks, report.months, report.basic_months) == ([], [], [])
