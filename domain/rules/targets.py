"""Branch account-opening targets [S0 §13(二)(2)].

DOMAIN §8: per branch, at least `new_accounts_per_week` new corporate
settlement accounts each ISO week, `new_accounts_per_month` each calendar
month, and `new_basic_accounts_per_month` new basic accounts (基本户) each
month (rulebook `branch_targets`: 1 / 4 / 2).

Every ISO week and month that overlaps the asked range is reported whole:
the caller passes the accounts opened in those whole periods (a week may
straddle two months or two years). A period that has not ended by `today` is
`complete=False`: not yet met is not yet missed.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from domain.rulebook import BranchTargets
from domain.rules.calendar import add_months, month_end
from domain.values import AccountType

WEEK, MONTH = "week", "month"


@dataclass(frozen=True)
class OpenedAccount:
    """A corporate settlement account of the branch, by the date it opened."""

    opened_on: date
    type: str  # AccountType value


@dataclass(frozen=True)
class TargetResult:
    kind: str  # "week" | "month"
    key: str  # "2026-W03" | "2026-03"
    start: date
    end: date
    count: int
    target: int
    complete: bool

    @property
    def met(self) -> bool:
        return self.count >= self.target

    @property
    def missed(self) -> bool:
        return self.complete and not self.met


@dataclass(frozen=True)
class TargetsReport:
    weeks: list[TargetResult]  # new settlement accounts per ISO week
    months: list[TargetResult]  # new settlement accounts per month
    basic_months: list[TargetResult]  # new basic accounts per month


def iso_weeks(start: date, end: date) -> list[tuple[str, date, date]]:
    """(key, Monday, Sunday) of every ISO week overlapping [start, end]."""
    weeks = []
    monday = start - timedelta(days=start.weekday())
    while monday <= end:
        year, week, _ = monday.isocalendar()
        weeks.append((f"{year:04d}-W{week:02d}", monday, monday + timedelta(days=6)))
        monday += timedelta(days=7)
    return weeks


def months(start: date, end: date) -> list[tuple[str, date, date]]:
    """(key, first day, last day) of every calendar month overlapping [start, end]."""
    found = []
    first = start.replace(day=1)
    while first <= end:
        found.append((f"{first.year:04d}-{first.month:02d}", first, month_end(first)))
        first = add_months(first, 1)
    return found


def _count(kind: str, periods: list[tuple[str, date, date]], opened: list[date], target: int,
           today: date | None) -> list[TargetResult]:
    return [TargetResult(kind, key, first, last,
                         bisect_right(opened, last) - bisect_left(opened, first), target,
                         today is None or last < today)
            for key, first, last in periods]


def branch_targets(accounts: Iterable[OpenedAccount], targets: BranchTargets, start: date,
                   end: date, today: date | None = None) -> TargetsReport:
    """Counts and met/missed per ISO week and per month overlapping [start, end]."""
    listed = list(accounts)
    opened = sorted(a.opened_on for a in listed)
    basic = sorted(a.opened_on for a in listed if a.type == AccountType.BASIC)
    if end < start:
        return TargetsReport([], [], [])
    weeks, month_list = iso_weeks(start, end), months(start, end)
    return TargetsReport(
        weeks=_count(WEEK, weeks, opened, targets.new_accounts_per_week, today),
        months=_count(MONTH, month_list, opened, targets.new_accounts_per_month, today),
        basic_months=_count(MONTH, month_list, basic, targets.new_basic_accounts_per_month,
                            today),
    )
