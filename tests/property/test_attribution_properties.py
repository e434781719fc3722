"""Attribution properties [DOMAIN §5]: conservation, monotonicity, segments == days.

The reference here is written from the spec text, day by day, independently
of `domain.rules`: the carried-forward balance, the term in force, and the
recursion S_k(b) = S_{k−1}(min(b, B_k)) + {I: r·(b−B_k)⁺, O: (1−r)·(b−B_k)⁺}.
"""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.money import RATIO_ONE, round_fen
from domain.rules.attribution import Term, piecewise_splits, split
from domain.rules.ledger import CustomerLedger, attribute
from domain.rules.rounding import round_daily_averages, round_shares

pytestmark = pytest.mark.property

BRANCH = "branch:B1"
PEOPLE = ("M1", "M2", "M3")
DAY0 = date(2026, 1, 1)
SPAN = 120  # days covered by generated histories
FAST = settings(max_examples=100, deadline=None)

ratios = st.integers(0, RATIO_ONE)
# A few fixed values make equal bases, balances equal to a base and repeated
# balances likely, not just possible.
COMMON = (0, 1, 100_000, 250_000)
bases = st.one_of(st.sampled_from([Fraction(v) for v in COMMON]),
                  st.builds(Fraction, st.integers(0, 5_000_000), st.integers(1, 184)))
balances = st.one_of(st.sampled_from(COMMON), st.integers(0, 5_000_000))


@st.composite
def chains(draw: st.DrawFn, max_terms: int = 7) -> list[Term]:
    """A valid chain: a first assignment, then full transfers and handovers in date order."""
    offsets = sorted(draw(st.lists(st.integers(0, SPAN), min_size=1, max_size=max_terms)))
    custodian = draw(st.sampled_from(PEOPLE))
    chain = [Term(DAY0 + timedelta(days=offsets[0]), "initial", custodian,
                  claim_ratio=draw(ratios))]
    for offset in offsets[1:]:
        incoming = draw(st.sampled_from([p for p in PEOPLE if p != custodian]))
        on = DAY0 + timedelta(days=offset)
        if draw(st.integers(0, 3)) == 0:
            chain.append(Term(on, "full", incoming, claim_ratio=draw(ratios)))
        else:
            chain.append(Term(on, "handover", incoming, outgoing=custodian,
                              deposit_ratio=draw(ratios), non_deposit_ratio=draw(ratios),
                              base=draw(bases)))
        custodian = incoming
    return chain


records_strategy = st.dictionaries(
    st.integers(-10, SPAN + 10).map(lambda n: DAY0 + timedelta(days=n)), balances, max_size=25)


def reference_split(b: Fraction, chain: list[Term]) -> dict[str, Fraction]:
    """DOMAIN §5.2, recursively, with no shortcut."""
    last = chain[-1]
    if last.mode in ("initial", "full"):
        c = Fraction(last.claim_ratio or 0, RATIO_ONE)
        return _merge({last.custodian: c * b}, {BRANCH: (1 - c) * b})
    assert last.base is not None
    assert last.outgoing is not None
    r = Fraction(last.deposit_ratio or 0, RATIO_ONE)
    increment = max(Fraction(0), b - last.base)
    return _merge(reference_split(min(b, last.base), chain[:-1]),
                  {last.custodian: r * increment}, {last.outgoing: (1 - r) * increment})


def _merge(*parts: dict[str, Fraction]) -> dict[str, Fraction]:
    out: dict[str, Fraction] = {}
    for part in parts:
        for party, value in part.items():
            out[party] = out.get(party, Fraction(0)) + value
    return out


def _nonzero(shares: dict[str, Fraction]) -> dict[str, Fraction]:
    return {p: v for p, v in shares.items() if v}


def reference_attribution(records: dict[date, int], chain: list[Term], start: date,
                          end: date, ended_on: date | None) -> tuple[int, dict[str, Fraction]]:
    """Σ_d S_d(b(d)) one day at a time."""
    total = 0
    shares: dict[str, Fraction] = {}
    day = start
    while day <= end:
        known = [t for t in chain if t.effective_on <= day]
        if known and (ended_on is None or day < ended_on):
            past = [d for d in records if d <= day]
            b = records[max(past)] if past else 0
            since = max(i for i, t in enumerate(known) if t.mode in ("initial", "full"))
            total += b
            shares = _merge(shares, reference_split(Fraction(b), known[since:]))
        day += timedelta(days=1)
    return total, _nonzero(shares)


dates_in_span = st.integers(-5, SPAN + 5).map(lambda n: DAY0 + timedelta(days=n))


@FAST
@given(chain=chains(), b=balances)
def test_split_conserves_the_balance_exactly(chain: list[Term], b: int) -> None:
    assert sum(split(b, chain, BRANCH).values()) == b


@FAST
@given(chain=chains(), b=st.builds(Fraction, balances, st.integers(1, 50)))
def test_split_matches_the_recursive_definition(chain: list[Term], b: Fraction) -> None:
    since = max(i for i, t in enumerate(chain) if t.mode in ("initial", "full"))
    assert split(b, chain, BRANCH) == _nonzero(reference_split(b, chain[since:]))


@FAST
@given(chain=chains(), b=balances)
def test_piecewise_split_equals_split(chain: list[Term], b: int) -> None:
    for k, fn in enumerate(piecewise_splits(chain, BRANCH)):
        assert fn.at(b) == split(b, chain[:k + 1], BRANCH)
        assert sum(fn.scaled(b)) == b * fn.denominator


@FAST
@given(chain=chains(), b1=balances, b2=balances)
def test_each_share_is_monotone_in_the_balance(chain: list[Term], b1: int, b2: int) -> None:
    low, high = sorted((b1, b2))
    lower, higher = split(low, chain, BRANCH), split(high, chain, BRANCH)
    for party in set(lower) | set(higher):
        assert lower.get(party, 0) <= higher.get(party, 0)


@FAST
@given(chain=chains(max_terms=40), b=balances)
def test_a_chain_of_any_length_conserves(chain: list[Term], b: int) -> None:
    shares = split(b, chain, BRANCH)
    assert sum(shares.values()) == b
    assert all(v >= 0 for v in shares.values())


@settings(max_examples=80, deadline=None)
@given(chain=chains(), records=records_strategy, a=dates_in_span, z=dates_in_span,
       ended=st.none() | dates_in_span)
def test_segments_equal_day_by_day(chain: list[Term], records: dict[date, int], a: date,
                                   z: date, ended: date | None) -> None:
    start, end = min(a, z), max(a, z)
    result = attribute(records, chain, BRANCH, start, end, ended_on=ended)
    total, shares = reference_attribution(records, chain, start, end, ended)
    assert result.total == total
    assert dict(result.shares) == shares
    assert sum(result.shares.values()) == result.total


@settings(max_examples=50, deadline=None)
@given(chain=chains(), records=records_strategy, ended=st.none() | dates_in_span,
       ranges=st.lists(st.tuples(dates_in_span, dates_in_span), min_size=1, max_size=8))
def test_prefix_range_queries_equal_direct_computation(
        chain: list[Term], records: dict[date, int], ended: date | None,
        ranges: list[tuple[date, date]]) -> None:
    ledger = CustomerLedger(records, chain, BRANCH, ended_on=ended)
    for a, z in ranges:
        start, end = min(a, z), max(a, z)
        assert ledger.attribute(start, end) == attribute(records, chain, BRANCH, start, end,
                                                         ended_on=ended)
    start, end = min(ranges[0]), max(ranges[0])
    total, shares = reference_attribution(records, chain, start, end, ended)
    assert ledger.attribute(start, end).total == total
    assert dict(ledger.attribute(start, end).shares) == shares


@FAST
@given(chain=chains(), records=records_strategy, a=dates_in_span, z=dates_in_span)
def test_rounded_shares_sum_to_the_rounded_total(chain: list[Term], records: dict[date, int],
                                                 a: date, z: date) -> None:
    start, end = min(a, z), max(a, z)
    result = attribute(records, chain, BRANCH, start, end)
    for shown, exact_total, exact in (
        (round_shares(result.shares, result.total), Fraction(result.total), result.shares),
        (round_daily_averages(result.shares, result.total, result.days),
         result.daily_average, result.daily_averages()),
    ):
        assert shown.total == round_fen(exact_total)
        assert sum(shown.shares.values()) == shown.total
        for party, value in exact.items():
            assert abs(shown.shares[party] - value) < 1
            assert shown.shares[party] >= 0
