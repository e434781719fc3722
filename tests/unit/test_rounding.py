"""Presentation rounding [DOMAIN §5.4]: half-even, largest remainder, deterministic."""

from __future__ import annotations

from fractions import Fraction

import pytest

from domain.rules.rounding import RoundedShares, round_daily_averages, round_shares

pytestmark = pytest.mark.unit


def test_exact_fen_are_left_alone() -> None:
    assert round_shares({"a": 100, "b": 250}) == RoundedShares(350, {"a": 100, "b": 250})


def test_each_share_and_the_total_round_half_even() -> None:
    shares = {"a": Fraction(5, 2), "b": Fraction(7, 2), "c": Fraction(1)}  # 2.5, 3.5, 1 → 7
    assert round_shares(shares) == RoundedShares(7, {"a": 2, "b": 4, "c": 1})


def test_thirds_give_the_missing_fen_by_name() -> None:
    """100 fen in thirds: each 33⅓ rounds to 33, one fen is missing; all remainders tie."""
    third = Fraction(100, 3)
    assert round_shares({"m2": third, "branch:B1": third, "m1": third}).shares == {
        "branch:B1": 34, "m1": 33, "m2": 33}


def test_largest_remainder_gets_the_fen() -> None:
    shares = {"a": Fraction(101, 10), "b": Fraction(204, 10), "c": Fraction(695, 10)}
    # 10.1 + 20.4 + 69.5 = 100; rounded 10 + 20 + 70 = 100: nothing to do.
    assert round_shares(shares).shares == {"a": 10, "b": 20, "c": 70}
    shares = {"a": Fraction(104, 10), "b": Fraction(204, 10), "c": Fraction(692, 10)}
    # 10.4 + 20.4 + 69.2 = 100; rounded 10 + 20 + 69 = 99: a and b tie at .4 → a.
    assert round_shares(shares).shares == {"a": 11, "b": 20, "c": 69}


def test_under_rounding_gives_a_fen_to_the_most_rounded_down() -> None:
    shares = {"a": Fraction(5, 2), "b": Fraction(13, 2), "c": Fraction(3, 5)}
    # 2.5 → 2, 6.5 → 6, 0.6 → 1 make 9, but the total 9.6 → 10: one fen up, to the
    # largest remainder — a's and b's 0.5 tie, so a.
    assert round_shares(shares) == RoundedShares(10, {"a": 3, "b": 6, "c": 1})


def test_over_rounding_takes_a_fen_back_from_the_most_rounded_up() -> None:
    shares = {"c": Fraction(3, 5), "b": Fraction(3, 5), "a": Fraction(3, 5)}
    # 0.6 → 1 three times makes 3, but the total 1.8 → 2: one fen back; all tie → a.
    assert round_shares(shares) == RoundedShares(2, {"a": 0, "b": 1, "c": 1})


def test_a_total_that_is_not_the_sum_is_refused() -> None:
    with pytest.raises(ValueError, match="sum"):
        round_shares({"a": 1}, total=2)


def test_daily_averages() -> None:
    shown = round_daily_averages({"a": 100, "b": 200}, 300, 7)  # 14.29 + 28.57 = 42.86
    assert shown == RoundedShares(43, {"a": 14, "b": 29})
    assert round_daily_averages({"a": 0}, 0, 0) == RoundedShares(0, {"a": 0})
