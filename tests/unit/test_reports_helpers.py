"""Small pure helpers of the §7–8 reports: rates, rulebook versions, covering ranges."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest

from domain.rulebook import RulebookHistory, parse_rulebook
from projections.reports.targets import covering_range
from projections.reports.visits import format_rate, rulebook_versions
from tests.support import RULEBOOK, default_document

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("rate", "text"), [
    (Fraction(2, 3), "0.6667"),
    (Fraction(7, 10), "0.7000"),
    (Fraction(1), "1.0000"),
    (Fraction(3, 2), "1.5000"),
    (Fraction(1, 80_000), "0.0000"),  # 0.0000125 rounds down
    (Fraction(3, 20_000), "0.0002"),  # 0.00015: half to even
    (Fraction(5, 20_000), "0.0002"),  # 0.00025: half to even
])
def test_rates_have_four_decimals_rounded_half_even(rate: Fraction, text: str) -> None:
    assert format_rate(rate) == text


def test_no_rate_stays_none() -> None:
    assert format_rate(None) is None


def test_rulebook_versions_in_force_over_a_range() -> None:
    later = parse_rulebook({**default_document(), "version": "2026.2",
                            "effective_from": "2026-07-01"})
    history = RulebookHistory.of([RULEBOOK, later])
    assert rulebook_versions(history, date(2026, 1, 1), date(2026, 6, 30)) == ["2024.1"]
    assert rulebook_versions(history, date(2026, 1, 1), date(2026, 7, 1)) == ["2024.1", "2026.2"]
    assert rulebook_versions(history, date(2026, 7, 1), date(2026, 12, 31)) == ["2026.2"]


def test_covering_range_takes_whole_weeks_and_months() -> None:
    # 2026-03-01 is a Sunday (ISO week 9 starts Monday 23 February); 31 March is a Tuesday.
    assert covering_range(date(2026, 3, 1), date(2026, 3, 31)) == (date(2026, 2, 23),
                                                                  date(2026, 4, 5))
    assert covering_range(date(2026, 3, 10), date(2026, 3, 12)) == (date(2026, 3, 1),
                                                                   date(2026, 3, 31))
