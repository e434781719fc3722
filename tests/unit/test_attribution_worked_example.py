"""Attribution [DOMAIN §5, S0 §12]: the spec's worked example and a chain worked by hand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from fractions import Fraction

import pytest

from domain.assignment import CustodyTerm
from domain.rules.attribution import (
    Term,
    chain_from_custody,
    chain_in_force,
    full_term,
    handover_term,
    initial_term,
    split,
    split_non_deposit,
    term_in_force,
)
from domain.rules.base_window import handover_base
from domain.rules.ledger import CustomerLedger, attribute
from domain.rules.rounding import round_daily_averages

pytestmark = pytest.mark.unit

BRANCH = "branch:B1"
YUAN = 100  # fen


def test_domain_worked_example_july_2026() -> None:
    """DOMAIN §5: natural customer X, M1 at 0.50 from 2026-01-01, 1,000,000.00 from then.

    Handover to M2 on 2026-07-01 at 0.60, base (previous half-year) 1,000,000.00;
    balance 1,500,000.00 from 2026-07-01. July: total 1,500,000.00; M2 300,000.00;
    M1 500,000.00 + 200,000.00 = 700,000.00; branch 500,000.00.
    """
    records = {date(2026, 1, 1): 1_000_000 * YUAN, date(2026, 7, 1): 1_500_000 * YUAN}
    base = handover_base(records, date(2026, 7, 1)).daily_average
    assert base == 1_000_000 * YUAN
    chain = [
        initial_term(date(2026, 1, 1), "M1", 5000),
        handover_term(date(2026, 7, 1), "M1", "M2", 6000, 8000, base),
    ]

    july = attribute(records, chain, BRANCH, date(2026, 7, 1), date(2026, 7, 31))

    assert july.days == 31
    assert july.daily_average == 1_500_000 * YUAN
    assert july.daily_averages() == {
        "M2": 300_000 * YUAN,
        "M1": 700_000 * YUAN,
        BRANCH: 500_000 * YUAN,
    }
    assert july.total == 1_500_000 * YUAN * 31
    assert sum(july.shares.values()) == july.total


def test_worked_example_first_half_is_all_initial_split() -> None:
    records = {date(2026, 1, 1): 1_000_000 * YUAN, date(2026, 7, 1): 1_500_000 * YUAN}
    chain = [
        initial_term(date(2026, 1, 1), "M1", 5000),
        handover_term(date(2026, 7, 1), "M1", "M2", 6000, 8000, 1_000_000 * YUAN),
    ]
    june = attribute(records, chain, BRANCH, date(2026, 6, 1), date(2026, 6, 30))
    assert june.daily_averages() == {"M1": 500_000 * YUAN, BRANCH: 500_000 * YUAN}


def _three_handovers() -> list[Term]:
    return [
        initial_term(date(2026, 1, 1), "M1", 5000),
        handover_term(date(2026, 4, 1), "M1", "M2", 6000, 8000, 1_000_000 * YUAN),
        handover_term(date(2026, 7, 1), "M2", "M3", 7000, 8000, 1_500_000 * YUAN),
        handover_term(date(2026, 9, 1), "M3", "M1", 8000, 9000, 1_200_000 * YUAN),
    ]


def test_three_handover_chain_by_hand() -> None:
    """M1 (0.50) → M2 (B1 = 1.0M, r 0.60) → M3 (B2 = 1.5M, r 0.70) → M1 (B3 = 1.2M, r 0.80).

    At b = 2,000,000:
      S3(2.0M) = S2(min(2.0M, 1.2M) = 1.2M) + {M1: 0.8·0.8M = 640,000, M3: 0.2·0.8M = 160,000}
      S2(1.2M) = S1(min(1.2M, 1.5M) = 1.2M) + {M3: 0.7·max(0, 1.2M−1.5M) = 0, M2: 0}
      S1(1.2M) = S0(min(1.2M, 1.0M) = 1.0M) + {M2: 0.6·0.2M = 120,000, M1: 0.4·0.2M = 80,000}
      S0(1.0M) = {M1: 500,000, branch: 500,000}
      → M1 500,000 + 80,000 + 640,000 = 1,220,000; M2 120,000; M3 160,000; branch 500,000
        (Σ = 2,000,000). B3 < B2, so the second handover can never receive anything again.
    At b = 1,400,000:
      S3(1.4M) = S2(1.2M) + {M1: 0.8·0.2M = 160,000, M3: 0.2·0.2M = 40,000}
      → M1 500,000 + 80,000 + 160,000 = 740,000; M2 120,000; M3 40,000; branch 500,000.
    September 2026 (30 days), 2,000,000 on the 1st–10th, 1,400,000 on the 11th–30th:
      M1 (1,220,000·10 + 740,000·20) / 30 = 27,000,000 / 30 = 900,000
      M2 120,000;  M3 (160,000·10 + 40,000·20) / 30 = 80,000;  branch 500,000
      total (2,000,000·10 + 1,400,000·20) / 30 = 1,600,000 = 900 + 120 + 80 + 500 thousand.
    """
    chain = _three_handovers()
    assert split(2_000_000 * YUAN, chain, BRANCH) == {
        "M1": 1_220_000 * YUAN, "M2": 120_000 * YUAN, "M3": 160_000 * YUAN,
        BRANCH: 500_000 * YUAN,
    }
    assert split(1_400_000 * YUAN, chain, BRANCH) == {
        "M1": 740_000 * YUAN, "M2": 120_000 * YUAN, "M3": 40_000 * YUAN,
        BRANCH: 500_000 * YUAN,
    }
    records = {date(2026, 1, 1): 900_000 * YUAN, date(2026, 9, 1): 2_000_000 * YUAN,
               date(2026, 9, 11): 1_400_000 * YUAN}
    september = attribute(records, chain, BRANCH, date(2026, 9, 1), date(2026, 9, 30))
    assert september.daily_average == 1_600_000 * YUAN
    assert september.daily_averages() == {
        "M1": 900_000 * YUAN, "M2": 120_000 * YUAN, "M3": 80_000 * YUAN,
        BRANCH: 500_000 * YUAN,
    }


def test_full_transfer_resets_the_chain() -> None:
    chain = [*_three_handovers(), full_term(date(2026, 10, 1), "M4", 8000)]
    assert split(2_000_000 * YUAN, chain, BRANCH) == {
        "M4": 1_600_000 * YUAN, BRANCH: 400_000 * YUAN,
    }
    assert chain_in_force(chain, date(2026, 9, 30))[0].custodian == "M1"
    assert term_in_force(chain, date(2026, 10, 1)) == chain[-1]


def test_balance_below_the_base_stays_with_the_stock() -> None:
    chain = _three_handovers()[:2]
    assert split(800_000 * YUAN, chain, BRANCH) == {"M1": 400_000 * YUAN,
                                                    BRANCH: 400_000 * YUAN}


def test_nothing_is_attributed_before_custody_or_from_closure() -> None:
    records = {date(2025, 12, 1): 100 * YUAN}
    chain = [initial_term(date(2026, 1, 1), "M1", 10_000)]
    result = attribute(records, chain, BRANCH, date(2025, 12, 1), date(2026, 1, 31),
                       ended_on=date(2026, 1, 11))
    assert result.days == 62
    assert result.custody_days == 10
    assert result.total == 100 * YUAN * 10
    assert result.shares == {"M1": 100 * YUAN * 10}  # the branch's zero share is omitted
    ledger = CustomerLedger(records, chain, BRANCH, ended_on=date(2026, 1, 11))
    assert ledger.attribute(date(2026, 1, 11), date(2026, 12, 31)).total == 0


def test_fractional_base_is_kept_exact_and_rounded_only_when_shown() -> None:
    """Base 1,000,000.00 for 2 days and 1,000,000.01 for 1: 100,000,000⅓ fen."""
    records = {date(2026, 6, 28): 100_000_000, date(2026, 6, 30): 100_000_001,
               date(2026, 7, 1): 100_000_101}
    base = Fraction(100_000_000 * 2 + 100_000_001, 3)
    chain = [initial_term(date(2026, 6, 28), "M1", 5000),
             handover_term(date(2026, 7, 1), "M1", "M2", 6000, 8000, base)]
    july_1 = attribute(records, chain, BRANCH, date(2026, 7, 1), date(2026, 7, 1))
    increment = 100_000_101 - base
    assert july_1.shares == {
        "M1": base / 2 + increment * Fraction(4, 10),
        BRANCH: base / 2,
        "M2": increment * Fraction(6, 10),
    }
    shown = round_daily_averages(july_1.shares, july_1.total, july_1.days)
    assert shown.total == 100_000_101
    assert sum(shown.shares.values()) == shown.total


def test_non_deposit_business_split() -> None:
    """DOMAIN §5.5: initial → c / 1−c with the branch; after a handover r_n / 1−r_n."""
    chain = _three_handovers()
    assert split_non_deposit(10_000 * YUAN, chain[0], BRANCH) == {
        "M1": 5_000 * YUAN, BRANCH: 5_000 * YUAN}
    assert split_non_deposit(10_000 * YUAN, chain[1], BRANCH) == {
        "M2": 8_000 * YUAN, "M1": 2_000 * YUAN}


def test_chain_from_custody_recomputes_bases_from_current_balances() -> None:
    terms = [
        CustodyTerm(effective_on=date(2026, 1, 1), mode="initial", custodian="M1",
                    claim_ratio=5000),
        CustodyTerm(effective_on=date(2026, 7, 1), mode="handover", custodian="M2",
                    outgoing="M1", deposit_ratio=6000, non_deposit_ratio=8000,
                    base_balance_days=1, base_days=1),  # stale value from the event
    ]
    records = {date(2026, 1, 1): 1_000_000 * YUAN}
    chain = chain_from_custody(
        terms, lambda on: handover_base(records, on).daily_average)
    assert chain[1].base == 1_000_000 * YUAN
    assert chain[1].outgoing == "M1"
    assert chain[0].base is None


@pytest.mark.parametrize(
    ("make", "message"),
    [(lambda: Term(date(2026, 1, 1), "swap", "M1", claim_ratio=1), "mode"),
     (lambda: initial_term(date(2026, 1, 1), "M1", 10_001), "claim_ratio"),
     (lambda: Term(date(2026, 1, 1), "handover", "M2", outgoing="M1", deposit_ratio=6000,
                   non_deposit_ratio=8000), "base"),
     (lambda: handover_term(date(2026, 1, 1), "M1", "M2", 6000, 8000, -1), "base")],
)
def test_malformed_terms_are_bugs(make: Callable[[], Term], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_a_chain_starts_with_a_reset_and_runs_forward() -> None:
    handover = handover_term(date(2026, 7, 1), "M1", "M2", 6000, 8000, 0)
    with pytest.raises(ValueError, match="starts with"):
        CustomerLedger({}, [handover], BRANCH)
    with pytest.raises(ValueError, match="out of order"):
        CustomerLedger({}, [initial_term(date(2026, 8, 1), "M1", 5000), handover], BRANCH)
