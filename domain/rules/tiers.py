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
from collections.abc import Mapping
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


def tier_history(counts_by_change_date: Mapping[date, int],
                 rules: Rulebook | RulebookHistory,
                 until: date | None = None) -> list[TierSpan]:
    """Tier spans from the first count change on, equal consecutive tiers merged.

    With a `RulebookHistory` each date is judged by the version effective on
    it, so a rule change can move a tier without any count changing. `until`
    closes the last span; without it the last span is open (`end` None).
    """
    if not counts_by_change_date:
        return []
    changes = sorted(counts_by_change_date)
    start = changes[0]
    points = set(changes)
    if isinstance(rules, RulebookHistory):
        points |= {r.effective_from for r in rules.versions if r.effective_from > start}
    ordered = sorted(p for p in points if until is None or p <= until)

    spans: list[TierSpan] = []
    for point in ordered:
        count = counts_by_change_date[changes[bisect_right(changes, point) - 1]]
        tier = tier_on(_rulebook_on(rules, point), count).tier
        if spans and spans[-1].tier == tier:
            continue
        if spans:
            spans[-1] = TierSpan(spans[-1].tier, spans[-1].start, point - _DAY)
        spans.append(TierSpan(tier, point, None))
    if spans and until is not None:
        spans[-1] = TierSpan(spans[-1].tier, spans[-1].start, until)
    return spans
