"""Presentation rounding of exact shares to whole fen that still add up (DOMAIN §5.4).

The total is rounded half-even; each share is rounded half-even; if the
rounded shares then miss the rounded total by k fen, the k shares whose
rounding moved them furthest in the other direction get one fen back
(largest remainder), ties broken by party name so the result is
deterministic. Every rounded share stays within one fen of its exact value,
and a non-negative share never becomes negative.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from domain.money import round_fen


@dataclass(frozen=True)
class RoundedShares:
    total: int  # fen
    shares: dict[str, int]  # party → fen; Σ == total


def round_shares(shares: Mapping[str, Fraction | int],
                 total: Fraction | int | None = None) -> RoundedShares:
    """Exact shares (fen) → whole fen summing exactly to the half-even rounded total."""
    exact = {p: Fraction(v) for p, v in shares.items()}
    whole = sum(exact.values(), Fraction(0))
    if total is not None and Fraction(total) != whole:
        raise ValueError(f"shares sum to {whole}, not to the total {total}")
    rounded_total = round_fen(whole)
    rounded = {p: round_fen(v) for p, v in exact.items()}
    missing = rounded_total - sum(rounded.values())
    if missing:
        step = 1 if missing > 0 else -1
        # Remainder = exact − rounded: the most positive were rounded down furthest.
        order = sorted(exact, key=lambda p: (-step * (exact[p] - rounded[p]), p))
        for party in order[:abs(missing)]:
            rounded[party] += step
    return RoundedShares(rounded_total, rounded)


def round_daily_averages(shares: Mapping[str, Fraction | int], total: Fraction | int,
                         days: int) -> RoundedShares:
    """Balance-days (fen·days) over `days` days → daily averages in whole fen that add up."""
    if days <= 0:
        return RoundedShares(0, dict.fromkeys(shares, 0))
    return round_shares({p: Fraction(v) / days for p, v in shares.items()},
                        Fraction(total) / days)
