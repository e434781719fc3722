"""Balance-days (积数): the sum over days of the end-of-day balance.

The balance on a day is the latest recorded balance on or before it, carried
forward over days with no record, and 0 before the first record (DOMAIN §5.1).
All arithmetic is on integers (fen·days); a daily average is an exact
`Fraction` and is rounded only when shown.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from datetime import date
from fractions import Fraction

from domain.rules.calendar import days_between


def balance_on(dates: Sequence[date], amounts: Sequence[int], on: date) -> int:
    """The carried-forward balance on `on` from records sorted by date."""
    i = bisect_right(dates, on)
    return amounts[i - 1] if i else 0


def balance_days(records: Mapping[date, int], start: date, end: date) -> int:
    """Σ over d in [start, end] of the carried-forward balance, in fen·days."""
    if end < start:
        return 0
    dates = sorted(records)
    amounts = [records[d] for d in dates]
    total = 0
    current = balance_on(dates, amounts, start)
    cursor = start
    i = bisect_right(dates, start)
    while i < len(dates) and dates[i] <= end:
        change = dates[i]
        total += current * (change - cursor).days
        current = amounts[i]
        cursor = change
        i += 1
    return total + current * days_between(cursor, end)


def daily_average(records: Mapping[date, int], start: date, end: date) -> Fraction:
    """Exact daily average over [start, end] (0 for an empty range)."""
    days = days_between(start, end)
    return Fraction(balance_days(records, start, end), days) if days else Fraction(0)
