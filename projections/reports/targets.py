"""Branch account-opening targets [S0 §13(二)(2)]: route → here → `domain.rules.targets`.

Definitions:

- **What counts**: every account opened by a *corporate* customer of the
  branch (the branch the customer belongs to) — basic, general, special and
  temporary accounts are all corporate settlement accounts (单位结算账户);
  individuals' accounts never count. An account counts in the week and month
  it was opened, even if it was closed later. Basic accounts (基本户) are also
  counted on their own, per month.
- **Periods**: every ISO week and calendar month overlapping [from, to] is
  reported whole, so its count is comparable with its target.
- **Targets** are read from the rulebook in force on each period's last day
  (each row names it): per week `new_accounts_per_week`, per month
  `new_accounts_per_month` and `new_basic_accounts_per_month`.
- **Met / missed**: `met` when count ≥ target; `missed` only for a period
  that ended before `today` and fell short — not yet met is not yet missed.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from domain.errors import InvalidInput
from domain.rulebook import Rulebook
from domain.rules import targets as rule
from domain.rules.calendar import month_end
from domain.values import Segment
from projections.reader import BookReader
from projections.reports.visits import rulebook_versions

Doc = dict[str, Any]


def covering_range(start: date, end: date) -> tuple[date, date]:
    """First and last day of the whole weeks and months overlapping [start, end]."""
    monday = start - timedelta(days=start.weekday())
    sunday = end + timedelta(days=6 - end.weekday())
    return min(monday, start.replace(day=1)), max(sunday, month_end(end))


def opened_accounts(reader: BookReader, branch: str, start: date, end: date
                    ) -> list[rule.OpenedAccount]:
    """The branch's corporate settlement accounts opened in [start, end]."""
    return [rule.OpenedAccount(date.fromisoformat(a["opened_on"]), a["type"])
            for a in reader.accounts(branch, start, end) if a["segment"] == Segment.CORPORATE]


def _figures(result: rule.TargetResult) -> dict[str, Any]:
    return {"count": result.count, "target": result.target, "met": result.met,
            "missed": result.missed}


def _period(result: rule.TargetResult, rulebook: Rulebook) -> dict[str, Any]:
    return {"key": result.key, "from": result.start, "to": result.end,
            "complete": result.complete, "rulebook_version": rulebook.version}


def _reports(reader: BookReader, accounts: list[rule.OpenedAccount], start: date, end: date,
             today: date) -> dict[str, rule.TargetsReport]:
    """The rule's report under each rulebook in force at some period's end (usually one)."""
    _first, last = covering_range(start, end)
    reports = {}
    for version in rulebook_versions(reader.history, start, last):
        rulebook = reader.history.by_version(version)
        assert rulebook is not None  # the history named it
        reports[version] = rule.branch_targets(accounts, rulebook.branch_targets, start, end,
                                               today)
    return reports


def branch_targets(reader: BookReader, branch: str, start: date, end: date, today: date
                   ) -> dict[str, Any] | None:
    """GET /v1/branches/{code}/targets: weeks and months with counts and met/missed."""
    if not reader.has_branch(branch):
        return None
    if end < start:
        raise InvalidInput(f"to ({end}) is before from ({start})", field="to")
    accounts = opened_accounts(reader, branch, *covering_range(start, end))
    reports = _reports(reader, accounts, start, end, today)
    # Every rulebook's report lists the same periods in the same order.
    any_report = next(iter(reports.values()))
    weeks, months = [], []
    for i, week in enumerate(any_report.weeks):
        rulebook = reader.history.effective_on(week.end)
        chosen = reports[rulebook.version]
        weeks.append({**_period(week, rulebook), "settlement": _figures(chosen.weeks[i])})
    for i, month in enumerate(any_report.months):
        rulebook = reader.history.effective_on(month.end)
        chosen = reports[rulebook.version]
        months.append({**_period(month, rulebook), "settlement": _figures(chosen.months[i]),
                       "basic": _figures(chosen.basic_months[i])})
    used = {row["rulebook_version"] for row in (*weeks, *months)}
    return {
        "branch": branch, "from": start, "to": end, "today": today,
        "rulebook_version": reader.history.effective_on(end).version,
        "rulebook_versions": [v for v in reports if v in used],
        "weeks": weeks, "months": months,
        "missed": {"weeks": sum(w["settlement"]["missed"] for w in weeks),
                   "months": sum(m["settlement"]["missed"] for m in months),
                   "basic_months": sum(m["basic"]["missed"] for m in months)},
    }
