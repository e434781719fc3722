"""The base window of a handover [S0 §12(3)]: whose balances form the stock.

On a handover the stock stays with the outgoing custodian; the stock is the
customer's daily-average deposit balance over the base window before the
handover's `effective_on`:

- `previous_half_year` (default): effective_on − 6 calendar months (same day,
  clamped to month end) … effective_on − 1 day;
- `year_to_date`: 1 January of the effective year … effective_on − 1 day; on
  1 January itself the window would be empty, so it falls back to the
  previous half-year.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from domain.rules.balance_days import balance_days
from domain.rules.calendar import add_months, days_between, previous_day

PREVIOUS_HALF_YEAR = "previous_half_year"
YEAR_TO_DATE = "year_to_date"


def base_window(effective_on: date, kind: str = PREVIOUS_HALF_YEAR) -> tuple[date, date]:
    """The closed date range [start, end] of balances that make up the base."""
    end = previous_day(effective_on)
    if kind == YEAR_TO_DATE and not (effective_on.month == 1 and effective_on.day == 1):
        return date(effective_on.year, 1, 1), end
    if kind not in (PREVIOUS_HALF_YEAR, YEAR_TO_DATE):
        raise ValueError(f"unknown base window {kind!r}")
    return add_months(effective_on, -6), end


@dataclass(frozen=True)
class Base:
    """The stock of a handover: exact balance-days over the base window."""

    start: date
    end: date
    balance_days: int  # fen·days
    days: int

    @property
    def daily_average(self) -> Fraction:
        return Fraction(self.balance_days, self.days) if self.days else Fraction(0)


def handover_base(deposits: Mapping[date, int], effective_on: date,
                  kind: str = PREVIOUS_HALF_YEAR) -> Base:
    """The base daily average before `effective_on`, from the balances as known now."""
    start, end = base_window(effective_on, kind)
    return Base(start, end, balance_days(deposits, start, end), days_between(start, end))
