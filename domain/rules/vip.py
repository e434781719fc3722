"""VIP levels for individual customers [S2 §6–8].

DOMAIN §8. On date D a customer is `head_office` VIP if any criterion meets
the head-office thresholds, else `branch` VIP if any meets the branch's own
thresholds (`Rulebook.vip_branch`), else not a VIP:

- `avg_monthly_deposit`: the mean, over the 12 complete calendar months
  before D's month, of each month's daily-average deposit (months before the
  first balance record count as 0: the balance is 0 before it, DOMAIN §5.1);
- `loan_balance`: the loan balance on D, with no repayment default in the
  12 months before D — taken as [D − 12 months, D], so a default recorded on
  D itself also disqualifies (the loan is in arrears on D);
- `card_spending_12m`: card spending over the same 12 complete months.

A manual grant [S2 §7] may lift a customer: `higher_level` combines it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from domain.rulebook import Rulebook, VipThresholds
from domain.rules.balance_days import balance_days, balance_on
from domain.rules.calendar import add_months, days_between, month_end
from domain.values import month_key

HEAD_OFFICE, BRANCH = "head_office", "branch"
LEVELS: tuple[str | None, ...] = (None, BRANCH, HEAD_OFFICE)  # lowest first
AVG_MONTHLY_DEPOSIT = "avg_monthly_deposit"
LOAN_BALANCE = "loan_balance"
CARD_SPENDING_12M = "card_spending_12m"
MONTHS_LOOKED_BACK = 12


@dataclass(frozen=True)
class VipFigures:
    avg_monthly_deposit: Fraction  # fen, exact
    loan_balance: int  # fen
    defaulted: bool  # a repayment default in the look-back
    card_spending_12m: int  # fen


@dataclass(frozen=True)
class VipAssessment:
    level: str | None  # "head_office" | "branch" | None
    criteria_met: tuple[str, ...]  # at that level, in the order above
    figures: VipFigures

    @property
    def criterion(self) -> str | None:
        """The first criterion met at the level reached."""
        return self.criteria_met[0] if self.criteria_met else None


def look_back_months(on: date) -> list[date]:
    """First days of the 12 complete calendar months before `on`'s month, oldest first."""
    first = on.replace(day=1)
    return [add_months(first, -k) for k in range(MONTHS_LOOKED_BACK, 0, -1)]


def vip_figures(on: date, deposits: Mapping[date, int], loans: Mapping[date, int],
                defaults: Iterable[date], card_spending: Mapping[str, int]) -> VipFigures:
    """The figures the criteria test; `card_spending` is keyed by 'YYYY-MM'."""
    months = look_back_months(on)
    window_start, window_end = months[0], month_end(months[-1])
    # Only the records inside the window and the one carried into it matter.
    before = [d for d in deposits if d < window_start]
    inside = {d: v for d, v in deposits.items() if window_start <= d <= window_end}
    if before:
        inside[max(before)] = deposits[max(before)]
    monthly = [Fraction(balance_days(inside, first, month_end(first)),
                        days_between(first, month_end(first))) for first in months]
    loan_dates = sorted(loans)
    since = add_months(on, -MONTHS_LOOKED_BACK)
    return VipFigures(
        avg_monthly_deposit=sum(monthly, Fraction(0)) / MONTHS_LOOKED_BACK,
        loan_balance=balance_on(loan_dates, [loans[d] for d in loan_dates], on),
        defaulted=any(since <= d <= on for d in defaults),
        card_spending_12m=sum(card_spending.get(month_key(first), 0) for first in months),
    )


def criteria_met(figures: VipFigures, thresholds: VipThresholds) -> tuple[str, ...]:
    met = []
    if figures.avg_monthly_deposit >= thresholds.avg_monthly_deposit:
        met.append(AVG_MONTHLY_DEPOSIT)
    if figures.loan_balance >= thresholds.loan_balance and not figures.defaulted:
        met.append(LOAN_BALANCE)
    if figures.card_spending_12m >= thresholds.card_spending_12m:
        met.append(CARD_SPENDING_12M)
    return tuple(met)


def vip_level(figures: VipFigures, rulebook: Rulebook, branch: str) -> VipAssessment:
    """[S2 §6–8] head office if any head-office criterion is met, else branch, else none."""
    head = criteria_met(figures, rulebook.vip_head_office)
    if head:
        return VipAssessment(HEAD_OFFICE, head, figures)
    local = criteria_met(figures, rulebook.vip_branch(branch))
    if local:
        return VipAssessment(BRANCH, local, figures)
    return VipAssessment(None, (), figures)


def assess_vip(on: date, rulebook: Rulebook, branch: str, deposits: Mapping[date, int],
               loans: Mapping[date, int], defaults: Iterable[date],
               card_spending: Mapping[str, int]) -> VipAssessment:
    """The VIP level of an individual customer on `on` and the criteria that earned it."""
    return vip_level(vip_figures(on, deposits, loans, defaults, card_spending), rulebook, branch)


def higher_level(a: str | None, b: str | None) -> str | None:
    """The higher of two levels (a manual grant [S2 §7] lifts, never lowers)."""
    return a if LEVELS.index(a) >= LEVELS.index(b) else b
