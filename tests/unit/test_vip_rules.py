"""VIP levels for individuals [S2 §6–8, DOMAIN §8]: head office, branch, or none."""

from __future__ import annotations

import dataclasses
from datetime import date
from fractions import Fraction

import pytest

from domain.rulebook import Rulebook, VipThresholds
from domain.rules.vip import (
    BRANCH,
    HEAD_OFFICE,
    VipAssessment,
    assess_vip,
    higher_level,
    look_back_months,
    vip_figures,
)
from tests.support import RULEBOOK

pytestmark = pytest.mark.unit

YUAN = 100
ON = date(2026, 5, 20)  # look-back: May 2025 … April 2026


def vip(deposits: dict[date, int] | None = None, loans: dict[date, int] | None = None,
        defaults: list[date] | None = None, cards: dict[str, int] | None = None,
        branch: str = "B1", rulebook: Rulebook = RULEBOOK) -> VipAssessment:
    return assess_vip(ON, rulebook, branch, deposits or {}, loans or {}, defaults or [],
                      cards or {})


def test_look_back_is_the_twelve_complete_months_before_the_month() -> None:
    months = look_back_months(ON)
    assert (months[0], months[-1], len(months)) == (date(2025, 5, 1), date(2026, 4, 1), 12)


def test_mean_of_monthly_daily_averages() -> None:
    """600,000.00 for the second half of the look-back, 0 before: mean 300,000.00."""
    figures = vip_figures(ON, {date(2025, 11, 1): 600_000 * YUAN, date(2026, 5, 1): 0},
                          {}, [], {})
    assert figures.avg_monthly_deposit == 300_000 * YUAN


def test_monthly_average_counts_days_of_each_month() -> None:
    """April 2026 only: 30 days of which 15 at 1,200,000.00 → 600,000.00 that month."""
    figures = vip_figures(ON, {date(2026, 4, 16): 1_200_000 * YUAN}, {}, [], {})
    assert figures.avg_monthly_deposit == Fraction(600_000 * YUAN, 12)


def test_head_office_by_deposits() -> None:
    result = vip(deposits={date(2024, 1, 1): 500_000 * YUAN})
    assert (result.level, result.criterion) == (HEAD_OFFICE, "avg_monthly_deposit")


def test_head_office_by_loan_without_default() -> None:
    loans = {date(2026, 5, 20): 1_000_000 * YUAN}
    assert vip(loans=loans).criteria_met == ("loan_balance",)
    # A default on D − 12 months is inside the look-back; the day before is not.
    assert vip(loans=loans, defaults=[date(2025, 5, 20)]).level is None
    assert vip(loans=loans, defaults=[date(2025, 5, 19)]).level == HEAD_OFFICE


def test_a_default_disqualifies_the_loan_criterion_at_every_level() -> None:
    loans = {date(2026, 1, 1): 2_000_000 * YUAN}
    result = vip(loans=loans, defaults=[ON])
    assert (result.level, result.criteria_met) == (None, ())
    assert result.figures.defaulted


def test_head_office_by_card_spending_over_the_look_back_only() -> None:
    cards = {f"2025-{m:02d}": 10_000 * YUAN for m in range(5, 13)}
    cards |= {"2026-01": 20_000 * YUAN, "2026-05": 99_000 * YUAN}  # May 2026 not counted
    result = vip(cards=cards)
    assert result.figures.card_spending_12m == 100_000 * YUAN
    assert (result.level, result.criterion) == (HEAD_OFFICE, "card_spending_12m")


def test_branch_level_by_the_branch_thresholds() -> None:
    result = vip(deposits={date(2024, 1, 1): 200_000 * YUAN},
                 cards={"2026-04": 60_000 * YUAN})
    assert (result.level, result.criteria_met) == (
        BRANCH, ("avg_monthly_deposit", "card_spending_12m"))
    assert result.criterion == "avg_monthly_deposit"


def test_branch_override() -> None:
    rulebook = dataclasses.replace(RULEBOOK, vip_branch_overrides={
        "B2": VipThresholds(300_000 * YUAN, 800_000 * YUAN, 80_000 * YUAN)})
    deposits = {date(2024, 1, 1): 250_000 * YUAN}
    assert vip(deposits=deposits, rulebook=rulebook).level == BRANCH
    assert vip(deposits=deposits, branch="B2", rulebook=rulebook).level is None


def test_no_criterion_no_vip() -> None:
    result = vip(deposits={date(2024, 1, 1): 199_999 * YUAN})
    assert (result.level, result.criterion) == (None, None)


def test_a_manual_grant_lifts_but_never_lowers() -> None:
    assert higher_level(None, BRANCH) == BRANCH
    assert higher_level(HEAD_OFFICE, BRANCH) == HEAD_OFFICE
    assert higher_level(None, None) is None
