"""Visit compliance reports (DOMAIN §7 [S0 §14, S3, S4 rural-credit rules §11(2)]).

Route → here → `domain.rules.visits` (the rule: cadence, due units, compliance, overdue).

Definitions (where the rule module leaves a choice to the report):

- **Cadence on a date** comes from the rulebook in force that date: a credit
  customer (a credit line from the customer document open that day) with a
  loan balance (from the recorded balances, carried forward) at or above the
  rulebook's threshold is visited monthly, other credit customers quarterly,
  non-credit corporates half-yearly; non-credit individuals never fall due.
- **Closed customers** are not due from their closure date on: a unit ending
  on or after closure is not due (and the customer has no custodian then).
- **Who answers** for a unit is the custodian on its last day (DOMAIN §7), so
  a manager's row counts the units of every customer it held on a unit's last
  day — whatever the customer's branch. A branch report lists the managers of
  that branch: every customer manager employed during the period, and anyone
  else who answered for a unit or holds customers.
- **Due / compliant / rate** count completed units (ended before `today`);
  `rate` = compliant / due as a 4-decimal string, `None` when nothing is due.
- **Overdue** customers are judged as of the period's end or today, whichever
  is earlier, and listed under the custodian on that date.
- **Needs reassignment** [DOMAIN §3]: customers held on that date by a manager
  who had departed by then (they can only be moved by a full transfer).
- A period that has not begun by `today` is refused (nothing can be due yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any

from domain.errors import DateOutOfRange, NotFound
from domain.rulebook import RulebookHistory
from domain.rules.balance_days import balance_on
from domain.rules.visits import (
    Assessment,
    Overdue,
    Period,
    assess,
    compliance_by_manager,
    overdue,
    parse_period,
    required_cadence,
)
from domain.values import Role
from projections.reader import BookReader

Doc = dict[str, Any]
_ALL_TIME = date(1, 1, 1)


# ---- shared by the reports ----------------------------------------------------------


def format_rate(rate: Fraction | None) -> str | None:
    """A rate as a decimal string with 4 decimals (half-even); None stays None."""
    if rate is None:
        return None
    units = round(rate * 10_000)  # Fraction.__round__ rounds half to even
    return f"{units // 10_000}.{units % 10_000:04d}"


def rulebook_versions(history: RulebookHistory, start: date, end: date) -> list[str]:
    """Every rulebook version in force on some day of [start, end], oldest first."""
    first = history.effective_on(start)
    later = [r for r in history.versions if start < r.effective_from <= end]
    return [first.version, *(r.version for r in later if r.version != first.version)]


def reporting_period(period: str, today: date) -> Period:
    """Parse a period ('2026-Q1' …); one that has not begun by `today` is refused."""
    report = parse_period(period)
    if report.start > today:
        raise DateOutOfRange(f"period {report.key} has not begun (today is {today})",
                             field="period")
    return report


def credit_on(doc: Doc, day: str) -> bool:
    """[S0 §2] a credit customer on D has a credit line open on D (granted ≤ D < closed)."""
    return any(granted <= day and (closed is None or day < closed)
               for granted, closed, _limit in doc["credit"])


def closed_by(doc: Doc, day: str) -> bool:
    return bool(doc["closed_on"]) and doc["closed_on"] <= day


def held_on(manager: Doc, day: str) -> list[str]:
    """Customers in the manager's custody on an ISO date (book entries are [no, from, until))."""
    return [no for no, since, until in manager["book"]
            if since <= day and (until is None or day < until)]


def departed_by(manager: Doc, on: date) -> bool:
    return bool(manager["departed_on"]) and manager["departed_on"] <= on.isoformat()


# ---- one customer ---------------------------------------------------------------------


@dataclass(frozen=True)
class LoggedVisit:
    on: date
    staff_no: str


class CustomerCalendar:
    """What the visit rules ask of one customer, date by date: cadence and custodian."""

    def __init__(self, reader: BookReader, doc: Doc, visits: list[LoggedVisit]) -> None:
        self.reader = reader
        self.doc = doc
        self.visits = visits
        balances = reader.balances(doc["no"])
        self._loan_dates = sorted(balances)
        self._loans = [balances[d][1] for d in self._loan_dates]

    @property
    def customer_no(self) -> str:
        return str(self.doc["no"])

    def cadence_on(self, on: date) -> str | None:
        day = on.isoformat()
        if closed_by(self.doc, day) or self.doc["onboarded_on"] > day:
            return None
        rules = self.reader.history.effective_on(on).visits
        return required_cadence(rules, segment=self.doc["segment"],
                                credit=credit_on(self.doc, day),
                                loan_balance=balance_on(self._loan_dates, self._loans, on))

    def custodian_on(self, on: date) -> str | None:
        return self.reader.custodian_on(self.doc, on.isoformat())

    def assess(self, report: Period, today: date) -> list[Assessment]:
        return assess(self.customer_no, report, self.cadence_on, self.custodian_on,
                      self.visits, today)

    def overdue(self, on: date) -> Overdue | None:
        return overdue(self.customer_no, on, self.cadence_on(on), self.custodian_on,
                       self.visits)


def calendars(reader: BookReader, numbers: list[str], until: date
              ) -> dict[str, CustomerCalendar]:
    """Calendars of these customers, with every visit logged up to `until`.

    The whole visit history is read, not just the period's: an overdue check
    looks back to the last completed cadence period (up to a year earlier) and
    names the latest visit ever made.
    """
    docs = reader.customers(numbers)
    visits = reader.visits(sorted(docs), _ALL_TIME, until)
    return {no: CustomerCalendar(reader, doc, [LoggedVisit(on, staff) for on, staff in visits[no]])
            for no, doc in sorted(docs.items())}


# ---- managers ------------------------------------------------------------------------


def answered_for(manager: Doc, start: date, end: date) -> set[str]:
    """Customers the manager held on some day of [start, end]."""
    first, last = start.isoformat(), end.isoformat()
    return {no for no, since, until in manager["book"]
            if since <= last and (until is None or until > first)}


def _employed(manager: Doc, report: Period) -> bool:
    departed = manager["departed_on"]
    return manager["hired_on"] <= report.end.isoformat() and (
        departed is None or departed > report.start.isoformat())


def _overdue_row(found: Overdue, cadence: str | None, departed: bool) -> dict[str, Any]:
    return {"customer_no": found.customer_no, "cadence": cadence, "missed": found.missed.key,
            "last_visit": found.last_visit, "needs_reassignment": departed}


def manager_row(manager: Doc, cals: dict[str, CustomerCalendar], report: Period,
                as_of: date, today: date) -> dict[str, Any]:
    """One manager's compliance over `report` and overdue customers as of `as_of`."""
    staff_no = manager["staff_no"]
    units = [a for cal in cals.values() for a in cal.assess(report, today)
             if a.custodian == staff_no]
    counted = compliance_by_manager(units).get(staff_no)
    due, compliant = (counted.due, counted.compliant) if counted else (0, 0)
    departed = departed_by(manager, as_of)
    late = []
    for cal in cals.values():
        found = cal.overdue(as_of)
        if found is not None and found.custodian == staff_no:
            late.append(_overdue_row(found, cal.cadence_on(as_of), departed))
    held = sorted(held_on(manager, as_of.isoformat()))
    return {
        "staff_no": staff_no, "name": manager["name"], "branch": manager["branch"],
        "role": manager["role"], "departed_on": manager["departed_on"],
        "due": due, "compliant": compliant,
        "rate": format_rate(Fraction(compliant, due) if due else None),
        "non_compliant": [{"customer_no": a.customer_no, "period": a.period.key}
                          for a in sorted(units, key=lambda a: (a.customer_no, a.period))
                          if not a.compliant],
        "overdue": late,
        "needs_reassignment": held if departed else [],
    }


def compliance_rows(reader: BookReader, managers: list[Doc], report: Period,
                    today: date) -> list[dict[str, Any]]:
    """A row per manager worth listing (see the module note), in staff_no order."""
    as_of = min(report.end, today)
    wanted = {m["staff_no"]: answered_for(m, report.start, report.end) for m in managers}
    cals = calendars(reader, sorted(set().union(*wanted.values())), as_of)
    rows = []
    for manager in managers:
        mine = {no: cals[no] for no in sorted(wanted[manager["staff_no"]]) if no in cals}
        row = manager_row(manager, mine, report, as_of, today)
        listed = manager["role"] == Role.CUSTOMER_MANAGER and _employed(manager, report)
        if listed or row["due"] or row["overdue"] or held_on(manager, as_of.isoformat()):
            rows.append(row)
    return rows


def manager_compliance(reader: BookReader, manager: Doc, report: Period, today: date
                       ) -> dict[str, Any]:
    """One manager's row, whether or not a branch report would list it (scorecards)."""
    as_of = min(report.end, today)
    cals = calendars(reader, sorted(answered_for(manager, report.start, report.end)), as_of)
    return manager_row(manager, cals, report, as_of, today)


# ---- the report ----------------------------------------------------------------------


def visit_compliance(reader: BookReader, branch: str | None, period: str, today: date
                     ) -> dict[str, Any]:
    """GET /v1/visits/compliance: per manager, units due, compliant, rate, overdue customers."""
    report = reporting_period(period, today)
    if branch is not None and not reader.has_branch(branch):
        raise NotFound(f"branch {branch} not found", field="branch")
    as_of = min(report.end, today)
    rows = compliance_rows(reader, reader.managers(branch), report, today)
    due = sum(r["due"] for r in rows)
    compliant = sum(r["compliant"] for r in rows)
    return {
        "branch": branch, "period": report.key, "from": report.start, "to": report.end,
        "overdue_as_of": as_of,
        "rulebook_version": reader.history.effective_on(as_of).version,
        "rulebook_versions": rulebook_versions(reader.history, report.start, as_of),
        "due": due, "compliant": compliant,
        "rate": format_rate(Fraction(compliant, due) if due else None),
        "managers": rows,
    }
