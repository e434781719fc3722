"""Manager tiers (分级管理) [S0 §8]: A–E by the number of credit customers in custody.

DOMAIN §6. On date D a `customer_manager`'s tier is the first (highest) tier
of the rulebook in force on D whose `more_than` the count of credit
customers in their custody on D exceeds (A > 40, B > 30, C > 20, D > 10,
else E in the 2024 rulebook). Each tier carries its management focus [S0 §9].
Which customers count (credit customers in custody on D) is the caller's to
determine; these functions turn counts into tiers.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from domain.rulebook import Rulebook, RulebookHistory, TierRule

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class TierSpan:
    """A tier held over the closed range [start, end]; `end` None while still held."""

    tier: str
    start: date
    end: date | None


def tier_on(rulebook: Rulebook, credit_customers: int) -> TierRule:
    """[S0 §8] the tier (with its focus [S0 §9]) for a count of credit customers."""
    if credit_customers < 0:
        raise ValueError(f"a count of customers is never negative, got {credit_customers}")
    return rulebook.tier_for(credit_customers)


def count_on(counts_by_change_date: Mapping[date, int], on: date) -> int:
    """The count in force on `on`: the latest change on or before it; 0 before any."""
    known = [d for d in counts_by_change_date if d <= on]
    return counts_by_change_date[max(known)] if known else 0


def _rulebook_on(rules: Rulebook | RulebookHistory, on: date) -> Rulebook:
    return rules.effective_on(on) if isinstance(rules, RulebookHistory) else rules


@dataclass(frozen=True)
class TierSegment:
    """From `start` until the next segment: the tier, the count behind it, and the
    rulebook version it was judged under (each figure names its rulebook)."""

    start: date
    tier: str
    credit_customers: int
    rulebook_version: str


def credit_counts(intervals: Iterable[tuple[date, date | None]], since: date) -> dict[date, int]:
    """Credit customers in custody, as counts by change date from `since` on.

    Each interval is [start, end) of one credit customer held (end None: still held);
    days before `since` (e.g. before the manager was hired) count from `since`.
    """
    delta: dict[date, int] = defaultdict(int)
    delta[since] += 0
    for start, end in intervals:
        delta[max(start, since)] += 1
        if end is not None:
            delta[max(end, since)] -= 1
    counts: dict[date, int] = {}
    running = 0
    for day in sorted(delta):
        running += delta[day]
        counts[day] = running
    return counts


def tier_segments(counts_by_change_date: Mapping[date, int],
                  rules: Rulebook | RulebookHistory) -> list[TierSegment]:
    """The one sweep behind every tier figure: a segment starts wherever the count, the
    rulebook in force or the tier changes (only count changes and rulebook dates are
    visited, never every day)."""
    if not counts_by_change_date:
        return []
    changes = sorted(counts_by_change_date)
    start = changes[0]
    points = set(changes)
    if isinstance(rules, RulebookHistory):
        points |= {r.effective_from for r in rules.versions if r.effective_from > start}
    segments: list[TierSegment] = []
    for point in sorted(points):
        count = counts_by_change_date[changes[bisect_right(changes, point) - 1]]
        rulebook = _rulebook_on(rules, point)
        segment = TierSegment(point, tier_on(rulebook, count).tier, count, rulebook.version)
        if segments and (segments[-1].tier, segments[-1].credit_customers,
                         segments[-1].rulebook_version) == (segment.tier, count,
                                                            segment.rulebook_version):
            continue
        segments.append(segment)
    return segments


def tier_history(counts_by_change_date: Mapping[date, int],
                 rules: Rulebook | RulebookHistory,
                 until: date | None = None) -> list[TierSpan]:
    """Tier spans from the first count change on, equal consecutive tiers merged.

    With a `RulebookHistory` each date is judged by the version effective on
    it, so a rule change can move a tier without any count changing. `until`
    closes the last span; without it the last span is open (`end` None).
    """
    spans: list[TierSpan] = []
    for segment in tier_segments(counts_by_change_date, rules):
        if until is not None and segment.start > until:
            break
        if spans and spans[-1].tier == segment.tier:
            continue
        if spans:
            spans[-1] = TierSpan(spans[-1].tier, spans[-1].start, segment.start - _DAY)
        spans.append(TierSpan(segment.tier, segment.start, None))
    if spans and until is not None:
        spans[-1] = TierSpan(spans[-1].tier, spans[-1].start, until)
    return spans
