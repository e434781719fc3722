"""Money in fen and ratios in ten-thousandths [DOMAIN §1]."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidInput
from domain.money import (
    RATIO_ONE,
    format_exact_fen,
    format_fen,
    format_ratio,
    parse_amount,
    parse_ratio,
    ratio_fraction,
    round_fen,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("0", 0),
        ("0.00", 0),
        ("1", 100),
        ("1.5", 150),
        ("1234.56", 123456),
        ("1500000.00", 150000000),
        ("999999999999999.99", 99999999999999999),
        (" 12.30 ", 1230),
        ("-3.01", -301),
        (Decimal("7.25"), 725),
        (5, 500),  # an int is whole yuan
    ],
)
def test_parse_amount_to_fen(text, fen):
    assert parse_amount(text) == fen


@pytest.mark.parametrize(
    "text",
    ["", "1.234", "1e3", "1,000.00", "abc", ".5", "1.", "+1.00", "1000000000000000.00", "NaN",
     "1 000", True],
)
def test_parse_amount_refuses_malformed(text):
    with pytest.raises(InvalidInput) as info:
        parse_amount(text, field="deposit")
    assert info.value.code == "validation_error"
    assert info.value.field == "deposit"
    assert "deposit" in str(info.value)


@pytest.mark.parametrize(
    ("fen", "text"),
    [(0, "0.00"), (5, "0.05"), (100, "1.00"), (123456, "1234.56"), (-301, "-3.01"),
     (-5, "-0.05")],
)
def test_format_fen(fen, text):
    assert format_fen(fen) == text


@given(st.integers(min_value=-(10**17) + 1, max_value=10**17 - 1))
def test_amount_round_trip(fen):
    assert parse_amount(format_fen(fen)) == fen


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        (Fraction(1, 2), 0),  # half to even
        (Fraction(3, 2), 2),
        (Fraction(5, 2), 2),
        (Fraction(-1, 2), 0),
        (Fraction(-3, 2), -2),
        (Fraction(1, 3), 0),
        (Fraction(2, 3), 1),
        (Fraction(-2, 3), -1),
        (Fraction(10**9 + 1, 2), 500000000),
        (Fraction(7), 7),
    ],
)
def test_round_fen_is_half_even(value, rounded):
    assert round_fen(value) == rounded


@given(st.fractions(max_denominator=10_000).filter(lambda f: abs(f) < 10**12))
def test_round_fen_matches_decimal_half_even(value):
    expected = (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        Decimal(1), rounding=ROUND_HALF_EVEN)
    # Decimal division is exact enough at this size for every tie (denominator 2).
    assert round_fen(value) == int(expected)
    assert abs(round_fen(value) - value) <= Fraction(1, 2)


def test_format_exact_fen_rounds_for_presentation_only():
    assert format_exact_fen(Fraction(100000001, 3)) == "333333.34"
    assert format_exact_fen(Fraction(25, 2)) == "0.12"
    assert format_exact_fen(Fraction(35, 2)) == "0.18"


@pytest.mark.parametrize(
    ("text", "ratio"),
    [("0", 0), ("0.5", 5000), ("0.60", 6000), ("0.1234", 1234), ("1", RATIO_ONE),
     ("1.0000", RATIO_ONE), (Decimal("0.8"), 8000), (0.6, 6000)],
)
def test_parse_ratio(text, ratio):
    assert parse_ratio(text) == ratio


@pytest.mark.parametrize(
    "text", ["1.0001", "1.5", "2", "-0.1", "0.12345", "abc", "", ".5", "10"],
)
def test_parse_ratio_refuses_out_of_range_or_malformed(text):
    with pytest.raises(InvalidInput) as info:
        parse_ratio(text, field="claim_ratio")
    assert info.value.code == "validation_error"
    assert info.value.field == "claim_ratio"


@pytest.mark.parametrize(
    ("ratio", "text"),
    [(0, "0.00"), (5000, "0.50"), (6000, "0.60"), (1234, "0.1234"), (1230, "0.123"),
     (RATIO_ONE, "1.00"), (1, "0.0001")],
)
def test_format_ratio(ratio, text):
    assert format_ratio(ratio) == text


@given(st.integers(min_value=0, max_value=RATIO_ONE))
def test_ratio_round_trip(ratio):
    assert parse_ratio(format_ratio(ratio)) == ratio
    assert ratio_fraction(ratio) == Fraction(ratio, RATIO_ONE)
