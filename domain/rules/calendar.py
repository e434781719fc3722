"""Calendar arithmetic the policy relies on: months back, periods, day counts."""

from __future__ import annotations

import calendar
from datetime import date, timedelta


def add_months(on: date, months: int) -> date:
    """Same day of month `months` away, clamped to month end (31 Aug − 6 → 28/29 Feb)."""
    index = on.year * 12 + (on.month - 1) + months
    year, month0 = divmod(index, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(on.day, last))


def days_between(start: date, end: date) -> int:
    """Calendar days in the closed range [start, end]; 0 when empty."""
    return max(0, (end - start).days + 1)


def month_end(on: date) -> date:
    return date(on.year, on.month, calendar.monthrange(on.year, on.month)[1])


def previous_day(on: date) -> date:
    return on - timedelta(days=1)
