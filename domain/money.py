"""Money and ratios as exact integers.

Money is CNY in fen (1/100 yuan), an `int` everywhere inside rmbook; ratios
are ten-thousandths (`int`, 6000 == 0.60), since the spec allows at most four
decimals. Decimal strings exist only at the edges (API, files, CLI).
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

from domain.errors import InvalidInput

RATIO_ONE = 10_000
_AMOUNT = re.compile(r"^-?\d{1,15}(\.\d{1,2})?$")
_RATIO = re.compile(r"^\d(\.\d{1,4})?$")


def parse_amount(text: str | int | Decimal, *, field: str = "amount") -> int:
    """'1234.56' → 123456 fen. At most two decimals; no exponent, no separators."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text * 100
    raw = str(text).strip()
    if not _AMOUNT.match(raw):
        raise InvalidInput(
            f"{field} must be a decimal amount with at most two decimals, got {raw!r}",
            field=field,
        )
    # Integer arithmetic on the validated digits: exact, and much faster than Decimal.
    negative = raw.startswith("-")
    whole, _, cents = raw.lstrip("-").partition(".")
    fen = int(whole) * 100 + int(cents.ljust(2, "0"))
    return -fen if negative else fen


def format_fen(fen: int) -> str:
    """123456 → '1234.56' (always two decimals)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def round_fen(value: Fraction) -> int:
    """Exact fen value → whole fen, half-even (presentation only)."""
    floor = value.numerator // value.denominator
    remainder = value - floor
    if remainder > Fraction(1, 2) or (remainder == Fraction(1, 2) and floor % 2 == 1):
        return floor + 1
    return floor


def format_exact_fen(value: Fraction) -> str:
    """An exact amount in fen, shown to the fen (half-even)."""
    return format_fen(round_fen(value))


def parse_ratio(text: str | Decimal | float, *, field: str = "ratio") -> int:
    """'0.60' → 6000. A decimal in [0, 1] with at most four decimals."""
    raw = str(text).strip()
    if not _RATIO.match(raw):
        raise InvalidInput(
            f"{field} must be a decimal in [0, 1] with at most four decimals, got {raw!r}",
            field=field,
        )
    value = int((Decimal(raw) * RATIO_ONE).to_integral_exact())
    if value > RATIO_ONE:
        raise InvalidInput(f"{field} must be at most 1, got {raw}", field=field)
    return value


def format_ratio(ratio: int) -> str:
    """6000 → '0.60'; 1234 → '0.1234' (at least two decimals, no trailing noise)."""
    text = f"{Decimal(ratio) / RATIO_ONE:.4f}".rstrip("0")
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"


def ratio_fraction(ratio: int) -> Fraction:
    return Fraction(ratio, RATIO_ONE)
