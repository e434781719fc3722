"""Visit cadence and compliance [S0 §14, S4 §11, DOMAIN §7]."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

import pytest

from domain.errors import InvalidInput
from domain.rules.visits import (
    Compliance,
    Period,
    assess,
    compliance_by_manager,
    due_periods,
    overdue,
    parse_period,
    period_of,
    periods_within,
    required_cadence,
)
from tests.support import RULEBOOK

pytestmark = pytest.mark.unit

CADENCE = RULEBOOK.visits
YUAN = 100


@dataclass(frozen=True)
class V:
    on: date
    staff_no: str


@pytest.mark.parametrize(
    ("text", "start", "end", "kind"),
    [("2026-03", date(2026, 3, 1), date(2026, 3, 31), "month"),
     ("2024-02", date(2024, 2, 1), date(2024, 2, 29), "month"),
     ("2026-Q1", date(2026, 1, 1), date(2026, 3, 31), "quarter"),
     ("2026-Q4", date(2026, 10, 1), date(2026, 12, 31), "quarter"),
     ("2026-H1", date(2026, 1, 1), date(2026, 6, 30), "half_year"),
     ("2026-H2", date(2026, 7, 1), date(2026, 12, 31), "half_year"),
     ("2026", date(2026, 1, 1), date(2026, 12, 31), "year")],
)
def test_parse_period(text: str, start: date, end: date, kind: str) -> None:
    period = parse_period(text)
    assert period == Period(start, end, kind)
    assert period.key == text


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-Q5", "2026-H3", "26-03",
                                  "2026-W01", "", "0000"])
def test_bad_periods_are_refused_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_period(text)
    assert refused.value.field == "period"


def test_periods_within_keeps_whole_periods_only() -> None:
    assert [p.key for p in periods_within("quarter", date(2026, 2, 1), date(2026, 12, 31))] \
        == ["2026-Q2", "2026-Q3", "2026-Q4"]
    assert periods_within("half_year", date(2026, 1, 1), date(2026, 3, 31)) == []
    assert period_of("half_year", date(2026, 8, 8)).key == "2026-H2"


@pytest.mark.parametrize(
    ("segment", "credit", "loan", "cadence"),
    [("corporate", True, 300_000 * YUAN, "month"),
     ("corporate", True, 300_000 * YUAN - 1, "quarter"),
     ("individual", True, 0, "quarter"),
     ("corporate", False, 900_000 * YUAN, "half_year"),
     ("individual", False, 0, None)],
)
def test_required_cadence(segment: str, credit: bool, loan: int, cadence: str | None) -> None:
    assert required_cadence(CADENCE, segment=segment, credit=credit, loan_balance=loan) \
        == cadence


def _keys(periods: list[Period]) -> list[str]:
    return [p.key for p in periods]


def always(value: str | None) -> Callable[[date], str | None]:
    return lambda on: value


def switch(on_day: date, before: str | None, after: str | None) -> Callable[[date], str | None]:
    """`before` until the day before `on_day`, `after` from it."""
    return lambda on: before if on < on_day else after


def test_due_units_are_the_cadence_periods_inside_the_report() -> None:
    quarterly, monthly = always("quarter"), always("month")
    assert _keys(due_periods(parse_period("2026-Q1"), quarterly)) == ["2026-Q1"]
    assert _keys(due_periods(parse_period("2026-H1"), quarterly)) == ["2026-Q1", "2026-Q2"]
    assert _keys(due_periods(parse_period("2026-03"), quarterly)) == []
    assert _keys(due_periods(parse_period("2026-Q1"), monthly)) == [
        "2026-01", "2026-02", "2026-03"]
    assert due_periods(parse_period("2026"), always(None)) == []


def test_a_changing_cadence_is_judged_at_each_period_end() -> None:
    """Large credit until 15 February, then ordinary credit."""
    cadence = switch(date(2026, 2, 15), "month", "quarter")
    assert _keys(due_periods(parse_period("2026-Q1"), cadence)) == ["2026-01", "2026-Q1"]


def test_compliance_counts_visits_by_the_custodian_on_the_last_day() -> None:
    q1 = parse_period("2026-Q1")
    custodian = switch(date(2026, 3, 1), "M1", "M2")
    monthly = always("month")
    visits = [V(date(2026, 1, 5), "M1"), V(date(2026, 2, 27), "M2"),  # M2 not yet custodian
              V(date(2026, 3, 2), "M2")]
    result = assess("C1", q1, monthly, custodian, visits, today=date(2026, 4, 1))
    assert [(a.period.key, a.custodian, a.compliant) for a in result] == [
        ("2026-01", "M1", True), ("2026-02", "M1", False), ("2026-03", "M2", True)]
    assert compliance_by_manager(result) == {"M1": Compliance(2, 1), "M2": Compliance(1, 1)}
    assert compliance_by_manager(result)["M1"].rate == Fraction(1, 2)
    assert Compliance(0, 0).rate is None


def test_only_completed_periods_in_custody_are_judged() -> None:
    q1 = parse_period("2026-Q1")
    custodian = switch(date(2026, 2, 1), None, "M1")
    result = assess("C1", q1, always("month"), custodian, [], today=date(2026, 3, 31))
    assert [a.period.key for a in result] == ["2026-02"]  # Jan: no custodian; Mar: running


def test_overdue_when_the_last_completed_period_was_missed() -> None:
    custodian = always("M1")
    visits = [V(date(2026, 1, 20), "M1")]
    missed = overdue("C1", date(2026, 3, 10), "month", custodian, visits)
    assert missed is not None
    assert missed.missed.key == "2026-02"
    assert missed.last_visit == date(2026, 1, 20)
    assert overdue("C1", date(2026, 2, 10), "month", custodian, visits) is None
    caught_up = [*visits, V(date(2026, 3, 5), "M1")]
    assert overdue("C1", date(2026, 3, 10), "month", custodian, caught_up) is None
    assert overdue("C1", date(2026, 3, 10), None, custodian, visits) is None
    assert overdue("C1", date(2026, 5, 1), "quarter", custodian, visits) is None
    assert overdue("C1", date(2026, 7, 1), "quarter", custodian, visits) is not None
