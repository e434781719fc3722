"""Tier history [S0 §8, DOMAIN §6]: spans merge equal tiers and follow rulebook versions."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from domain.rulebook import RulebookHistory, TierRule
from domain.rules.tiers import TierSpan, count_on, tier_history
from tests.support import RULEBOOK

pytestmark = pytest.mark.unit


def test_equal_consecutive_tiers_merge() -> None:
    counts = {date(2026, 1, 1): 5, date(2026, 2, 1): 9, date(2026, 3, 1): 12,
              date(2026, 4, 1): 20, date(2026, 5, 1): 10}
    assert tier_history(counts, RULEBOOK) == [
        TierSpan("E", date(2026, 1, 1), date(2026, 2, 28)),
        TierSpan("D", date(2026, 3, 1), date(2026, 4, 30)),
        TierSpan("E", date(2026, 5, 1), None),
    ]


def test_until_closes_the_last_span_and_drops_later_changes() -> None:
    counts = {date(2026, 1, 1): 41, date(2026, 7, 1): 0}
    assert tier_history(counts, RULEBOOK, until=date(2026, 6, 30)) == [
        TierSpan("A", date(2026, 1, 1), date(2026, 6, 30)),
    ]


def test_no_counts_no_history() -> None:
    assert tier_history({}, RULEBOOK) == []


def test_a_rule_change_moves_the_tier_without_a_count_change() -> None:
    stricter = dataclasses.replace(
        RULEBOOK, version="2026.2", effective_from=date(2026, 7, 1),
        tiers=(TierRule("A", 60, "a"), TierRule("B", 40, "b"), TierRule("C", 30, "c"),
               TierRule("D", 15, "d"), TierRule("E", -1, "e")))
    history = RulebookHistory.of([RULEBOOK, stricter])
    assert tier_history({date(2026, 1, 1): 42}, history) == [
        TierSpan("A", date(2026, 1, 1), date(2026, 6, 30)),
        TierSpan("B", date(2026, 7, 1), None),
    ]


def test_count_on_carries_forward() -> None:
    counts = {date(2026, 3, 1): 7}
    assert count_on(counts, date(2026, 2, 28)) == 0
    assert count_on(counts, date(2026, 12, 1)) == 7
