"""Visit cadence and compliance (客户拜访) [S0 §14, S3, S4 rural-credit rules §11].

DOMAIN §7. Required cadence (rulebook `visits`): a credit customer whose loan
balance is ≥ `large_credit_loan_at_least` monthly; other credit customers
quarterly [S4 §11(2)]; non-credit corporate customers half-yearly (default);
non-credit individuals have no required cadence.

Choices where the policy is silent (documented for the API):

- **Due units.** A reporting period (month, quarter, half-year, year) is
  judged by the customer's *cadence periods that lie inside it*: a quarterly
  customer is due once in a quarter report, twice in a half-year report, and
  not at all in a month report; a monthly customer is due three times in a
  quarter report. A cadence period P counts when the cadence required on P's
  last day is P's kind and the customer has a custodian that day; so a
  customer whose cadence changes is judged, period by period, by the cadence
  in force at each period's end. `due` and `compliant` count these units.
- **Compliance.** A unit is compliant if the custodian on its last day logged
  at least one visit inside it (DOMAIN §7). Only completed units (ended before
  `today`) are judged. A rate with nothing due is `None`, not 0 or 1.
- **Overdue on D.** With the cadence K required on D, the last completed
  K-period before D is non-compliant and the current custodian has not
  visited since it ended (a visit made after the miss clears the flag).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from typing import Protocol

from domain.errors import InvalidInput
from domain.rulebook import VisitCadence
from domain.rules.calendar import add_months, month_end
from domain.values import Segment

MONTH, QUARTER, HALF_YEAR, YEAR = "month", "quarter", "half_year", "year"
MONTHS = {MONTH: 1, QUARTER: 3, HALF_YEAR: 6, YEAR: 12}
_DAY = timedelta(days=1)
_FORMS = (
    (re.compile(r"^(\d{4})-(\d{2})$"), MONTH),
    (re.compile(r"^(\d{4})-Q([1-4])$"), QUARTER),
    (re.compile(r"^(\d{4})-H([12])$"), HALF_YEAR),
    (re.compile(r"^(\d{4})$"), YEAR),
)


@dataclass(frozen=True, order=True)
class Period:
    """A calendar month, quarter, half-year or year: the closed range [start, end]."""

    start: date
    end: date
    kind: str

    @property
    def key(self) -> str:
        """'2026-03', '2026-Q1', '2026-H1', '2026' — the API's spelling."""
        y, m = self.start.year, self.start.month
        if self.kind == MONTH:
            return f"{y:04d}-{m:02d}"
        if self.kind == QUARTER:
            return f"{y:04d}-Q{(m - 1) // 3 + 1}"
        if self.kind == HALF_YEAR:
            return f"{y:04d}-H{(m - 1) // 6 + 1}"
        return f"{y:04d}"

    def contains(self, on: date) -> bool:
        return self.start <= on <= self.end


def period_of(kind: str, on: date) -> Period:
    """The period of `kind` containing `on`."""
    if kind not in MONTHS:
        raise ValueError(f"unknown period kind {kind!r}")
    months = MONTHS[kind]
    start = date(on.year, (on.month - 1) // months * months + 1, 1)
    return Period(start, month_end(add_months(start, months - 1)), kind)


def previous_period(period: Period) -> Period:
    return period_of(period.kind, period.start - _DAY)


def parse_period(text: str) -> Period:
    """'2026-03' month, '2026-Q1' quarter, '2026-H1' half-year, '2026' year."""
    raw = text.strip() if isinstance(text, str) else ""
    for pattern, kind in _FORMS:
        match = pattern.match(raw)
        if match is None:
            continue
        year = int(match.group(1))
        index = int(match.group(2)) if match.lastindex == 2 else 1
        if year < 1 or (kind == MONTH and not 1 <= index <= 12):
            break
        return period_of(kind, date(year, (index - 1) * MONTHS[kind] + 1, 1))
    raise InvalidInput(
        f"period must be YYYY-MM, YYYY-Qn, YYYY-Hn or YYYY, got {text!r}", field="period")


def periods_within(kind: str, start: date, end: date) -> list[Period]:
    """Every period of `kind` lying wholly inside [start, end], in order."""
    found = []
    period = period_of(kind, start)
    if period.start < start:
        period = period_of(kind, period.end + _DAY)
    while period.end <= end:
        found.append(period)
        if period.end == date.max:  # pragma: no cover - the calendar's last day
            break
        period = period_of(kind, period.end + _DAY)
    return found


def required_cadence(cadence: VisitCadence, *, segment: str, credit: bool,
                     loan_balance: int) -> str | None:
    """[S4 §11(2)] the cadence a customer must be visited at; None when not required."""
    if credit:
        if loan_balance >= cadence.large_credit_loan_at_least:
            return cadence.large_credit
        return cadence.credit
    if segment == Segment.CORPORATE:
        return cadence.non_credit_corporate
    return None


class VisitLike(Protocol):
    """What compliance needs of a logged visit (`domain.customer.Visit` fits)."""

    @property
    def on(self) -> date: ...
    @property
    def staff_no(self) -> str: ...


def due_periods(report: Period, cadence_on: Callable[[date], str | None]) -> list[Period]:
    """The customer's cadence periods inside `report` (see the module note on due units)."""
    due = [p for kind in MONTHS for p in periods_within(kind, report.start, report.end)
           if cadence_on(p.end) == kind]
    return sorted(due)


def visited(visits: Iterable[VisitLike], staff_no: str, start: date, end: date) -> bool:
    """Did `staff_no` log at least one visit in [start, end]?"""
    return any(v.staff_no == staff_no and start <= v.on <= end for v in visits)


@dataclass(frozen=True)
class Assessment:
    """One due unit of one customer: who answered for it and whether it was met."""

    customer_no: str
    period: Period
    custodian: str
    compliant: bool


def assess(customer_no: str, report: Period, cadence_on: Callable[[date], str | None],
           custodian_on: Callable[[date], str | None], visits: Iterable[VisitLike],
           today: date) -> list[Assessment]:
    """Each completed due unit of `report` for one customer, judged against its custodian."""
    seen = list(visits)
    result = []
    for period in due_periods(report, cadence_on):
        custodian = custodian_on(period.end)
        if custodian is None or period.end >= today:
            continue
        result.append(Assessment(customer_no, period, custodian,
                                 visited(seen, custodian, period.start, period.end)))
    return result


@dataclass(frozen=True)
class Compliance:
    due: int
    compliant: int

    @property
    def rate(self) -> Fraction | None:
        """compliant / due; None when nothing was due."""
        return Fraction(self.compliant, self.due) if self.due else None


def compliance_by_manager(assessments: Iterable[Assessment]) -> dict[str, Compliance]:
    """DOMAIN §7: per custodian, units due and units compliant."""
    due: dict[str, int] = {}
    compliant: dict[str, int] = {}
    for a in assessments:
        due[a.custodian] = due.get(a.custodian, 0) + 1
        compliant[a.custodian] = compliant.get(a.custodian, 0) + int(a.compliant)
    return {m: Compliance(due[m], compliant[m]) for m in sorted(due)}


@dataclass(frozen=True)
class Overdue:
    customer_no: str
    custodian: str  # the custodian on the date asked about
    missed: Period  # the last completed cadence period with no visit
    last_visit: date | None  # the latest visit by anyone, on or before the date


def overdue(customer_no: str, on: date, cadence: str | None,
            custodian_on: Callable[[date], str | None],
            visits: Iterable[VisitLike]) -> Overdue | None:
    """Is the customer overdue for a visit on `on` (see the module note)? None if not."""
    current = custodian_on(on)
    if cadence is None or current is None:
        return None
    missed = previous_period(period_of(cadence, on))
    responsible = custodian_on(missed.end)
    seen = [v for v in visits if v.on <= on]
    if responsible is None or visited(seen, responsible, missed.start, missed.end):
        return None
    if visited(seen, current, missed.end + _DAY, on):
        return None
    last = max((v.on for v in seen), default=None)
    return Overdue(customer_no, current, missed, last)
