"""A customer manager's tier over time [S0 §8], from custody and credit facts.

The count on a day is the number of credit customers in the manager's
custody that day; the tier is read off the rulebook in force that day.
Computed by a sweep over interval boundaries, never day by day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from domain.rulebook import RulebookHistory
from domain.values import Role

# [from, until (exclusive) or None, tier, credit_customers, rulebook_version]
TierSegment = list[Any]


def credit_custody_intervals(book: Iterable[list[Any]],
                             credit_of: Callable[[str], list[list[Any]]]
                             ) -> list[tuple[str, str | None]]:
    """Intervals (ISO from, ISO until-exclusive) when a credit customer was held."""
    intervals: list[tuple[str, str | None]] = []
    for customer_no, since, until in book:
        for granted, closed, _limit in credit_of(customer_no):
            start = max(since, granted)
            ends = [x for x in (until, closed) if x is not None]
            end = min(ends) if ends else None
            if end is None or start < end:
                intervals.append((start, end))
    return intervals


def tier_history(role: str, hired_on: str, intervals: list[tuple[str, str | None]],
                 history: RulebookHistory) -> list[TierSegment]:
    if role != Role.CUSTOMER_MANAGER.value:
        return []  # tiers grade small-business customer managers only [S0 §8]
    delta: dict[str, int] = defaultdict(int)
    for start, end in intervals:
        delta[max(start, hired_on)] += 1
        if end is not None:
            delta[max(end, hired_on)] -= 1
    breaks = set(delta) | {hired_on}
    breaks |= {r.effective_from.isoformat() for r in history.versions
               if r.effective_from.isoformat() > hired_on}
    segments: list[TierSegment] = []
    count = 0
    ordered = sorted(breaks)
    for day in ordered:
        count += delta.get(day, 0)
        rulebook = history.effective_on(date.fromisoformat(day))
        tier = rulebook.tier_for(count).tier
        if segments and segments[-1][2:] == [tier, count, rulebook.version]:
            continue
        if segments:
            segments[-1][1] = day
        segments.append([day, None, tier, count, rulebook.version])
    return segments


def segment_on(segments: list[TierSegment], on: str) -> TierSegment | None:
    found = None
    for segment in segments:
        if segment[0] <= on:
            found = segment
        else:
            break
    return found
