"""A customer manager's tier over time [S0 §8], from custody and credit facts.

The count on a day is the number of credit customers in the manager's
custody that day; the tier is read off the rulebook in force that day. The
rule itself is `domain.rules.tiers`; this module turns the book projection's
documents into its inputs and its result into the stored form.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from domain.rulebook import RulebookHistory
from domain.rules.tiers import credit_counts, tier_segments
from domain.values import Role

# Stored: [from, until (exclusive) or None, tier, credit_customers, rulebook_version]
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
    """The stored form of `domain.rules.tiers.tier_segments`: ISO dates, end exclusive."""
    if role != Role.CUSTOMER_MANAGER.value:
        return []  # tiers grade small-business customer managers only [S0 §8]
    counts = credit_counts(
        ((date.fromisoformat(start), date.fromisoformat(end) if end else None)
         for start, end in intervals),
        since=date.fromisoformat(hired_on))
    segments = tier_segments(counts, history)
    return [[s.start.isoformat(), nxt.start.isoformat() if nxt else None, s.tier,
             s.credit_customers, s.rulebook_version]
            for s, nxt in zip(segments, [*segments[1:], None], strict=True)]


def segment_on(segments: list[TierSegment], on: str) -> TierSegment | None:
    found = None
    for segment in segments:
        if segment[0] <= on:
            found = segment
        else:
            break
    return found
