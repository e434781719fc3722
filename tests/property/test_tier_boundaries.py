"""Manager tiers [S0 §8, DOMAIN §6]: the boundaries of the table and monotonicity."""

from __future__ import annotations

from datetime import date
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.rules.tiers import tier_history, tier_on
from tests.support import RULEBOOK

pytestmark = pytest.mark.property

RANK = {rule.tier: i for i, rule in enumerate(RULEBOOK.tiers)}  # 0 is the highest tier


@pytest.mark.parametrize(
    ("credit_customers", "tier"),
    [(0, "E"), (10, "E"), (11, "D"), (20, "D"), (21, "C"), (30, "C"), (31, "B"),
     (40, "B"), (41, "A"), (500, "A")],
)
def test_tier_table_boundaries(credit_customers: int, tier: str) -> None:
    assert tier_on(RULEBOOK, credit_customers).tier == tier


def test_every_tier_carries_its_focus() -> None:
    assert all(tier_on(RULEBOOK, n).focus for n in (0, 15, 25, 35, 45))


def test_a_negative_count_is_a_bug() -> None:
    with pytest.raises(ValueError, match="negative"):
        tier_on(RULEBOOK, -1)


@settings(max_examples=200, deadline=None)
@given(a=st.integers(0, 200), b=st.integers(0, 200))
def test_more_credit_customers_never_lower_the_tier(a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert RANK[tier_on(RULEBOOK, high).tier] <= RANK[tier_on(RULEBOOK, low).tier]


@settings(max_examples=100, deadline=None)
@given(counts=st.dictionaries(st.dates(date(2026, 1, 1), date(2026, 12, 31)),
                              st.integers(0, 60), min_size=1, max_size=20))
def test_history_spans_tile_and_agree_with_the_count_on_each_day(
        counts: dict[date, int]) -> None:
    spans = tier_history(counts, RULEBOOK, until=date(2026, 12, 31))
    assert spans[0].start == min(counts)
    for before, after in pairwise(spans):
        assert before.end is not None
        assert (after.start - before.end).days == 1
        assert before.tier != after.tier
    for on, n in counts.items():
        held = next(s for s in spans if s.start <= on and (s.end is None or on <= s.end))
        assert held.tier == tier_on(RULEBOOK, n).tier
