"""Attribution (业绩认领): how a customer's business is split between parties [S0 §12].

DOMAIN §5. The custody chain of a customer is a sequence of `Term`s. A first
assignment (`initial`) or a full transfer (整体移交, `full`) to custodian C
with claim ratio c credits C with c of the business and the branch with the
rest [S0 §12(1),(2),(4)]. A handover (他人移交, `handover`) [S0 §12(3)] keeps
the stock — the daily-average base B_k — with whatever split was in force,
and shares only the increment above it:

    S_0(b) = {C: c·b, branch: (1−c)·b}
    S_k(b) = S_{k−1}(min(b, B_k)) + {I: r·max(0, b−B_k), O: (1−r)·max(0, b−B_k)}

A full transfer resets the chain. Equal party names merge (M1 → M2 → M1).

`split` is the rule written exactly as above (the reference); `PiecewiseSplit`
is the same function precomputed as a continuous piecewise-linear map in
scaled integers, which is what the balance-day ledger (`rules.ledger`)
evaluates once per segment. Parties with a zero share are omitted from results.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from math import lcm
from typing import Protocol

from domain.money import RATIO_ONE, ratio_fraction

INITIAL = "initial"
FULL = "full"
HANDOVER = "handover"
MODES = (INITIAL, FULL, HANDOVER)
RESETS = (INITIAL, FULL)


@dataclass(frozen=True)
class Term:
    """One link of the custody chain, in force from `effective_on`.

    `initial` / `full`: `custodian` takes `claim_ratio`, the branch the rest.
    `handover`: `custodian` is the incoming custodian I, `outgoing` is O;
    `deposit_ratio` is I's share of the deposit increment above `base` (the
    daily-average deposit over the base window, exact, in fen) and
    `non_deposit_ratio` I's share of non-deposit business. Ratios are
    ten-thousandths.
    """

    effective_on: date
    mode: str
    custodian: str
    claim_ratio: int | None = None
    outgoing: str | None = None
    deposit_ratio: int | None = None
    non_deposit_ratio: int | None = None
    base: Fraction | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.mode in RESETS:
            _check_ratio("claim_ratio", self.claim_ratio)
        else:
            _check_ratio("deposit_ratio", self.deposit_ratio)
            _check_ratio("non_deposit_ratio", self.non_deposit_ratio)
            if self.outgoing is None:
                raise ValueError("a handover names its outgoing custodian")
            if self.base is None or self.base < 0:
                raise ValueError(f"a handover needs a base ≥ 0, got {self.base!r}")

    @property
    def resets(self) -> bool:
        """A first assignment or full transfer starts a new chain."""
        return self.mode in RESETS


def _check_ratio(name: str, value: int | None) -> None:
    if value is None or not 0 <= value <= RATIO_ONE:
        raise ValueError(f"{name} must be in [0, {RATIO_ONE}], got {value!r}")


def initial_term(effective_on: date, custodian: str, claim_ratio: int) -> Term:
    """First assignment [S0 §12(1),(2),(4)]."""
    return Term(effective_on, INITIAL, custodian, claim_ratio=claim_ratio)


def full_term(effective_on: date, custodian: str, claim_ratio: int) -> Term:
    """整体移交: the incoming custodian takes the whole customer; the chain resets."""
    return Term(effective_on, FULL, custodian, claim_ratio=claim_ratio)


def handover_term(effective_on: date, outgoing: str, incoming: str, deposit_ratio: int,
                  non_deposit_ratio: int, base: Fraction | int) -> Term:
    """他人移交 [S0 §12(3)]: stock `base` stays with the split in force, increment shared."""
    return Term(effective_on, HANDOVER, incoming, outgoing=outgoing,
                deposit_ratio=deposit_ratio, non_deposit_ratio=non_deposit_ratio,
                base=Fraction(base))


class CustodyLike(Protocol):
    """The fields of `domain.assignment.CustodyTerm` that attribution needs."""

    @property
    def effective_on(self) -> date: ...
    @property
    def mode(self) -> str: ...
    @property
    def custodian(self) -> str: ...
    @property
    def claim_ratio(self) -> int | None: ...
    @property
    def outgoing(self) -> str | None: ...
    @property
    def deposit_ratio(self) -> int | None: ...
    @property
    def non_deposit_ratio(self) -> int | None: ...


def chain_from_custody(terms: Iterable[CustodyLike],
                       base_of: Callable[[date], Fraction]) -> list[Term]:
    """Custody terms → attribution chain, each handover's base from `base_of(effective_on)`.

    DOMAIN §4.2: the base follows the balances *as currently known*, so the
    caller passes e.g. `lambda on: handover_base(deposits, on, kind).daily_average`
    rather than the value frozen in the event.
    """
    return [
        Term(t.effective_on, t.mode, t.custodian, claim_ratio=t.claim_ratio,
             outgoing=t.outgoing, deposit_ratio=t.deposit_ratio,
             non_deposit_ratio=t.non_deposit_ratio,
             base=base_of(t.effective_on) if t.mode == HANDOVER else None)
        for t in terms
    ]


def check_chain(chain: Sequence[Term]) -> None:
    """A chain starts with a reset and never goes back in time."""
    if chain and not chain[0].resets:
        raise ValueError("a custody chain starts with a first assignment or full transfer")
    for before, after in itertools.pairwise(chain):
        if after.effective_on < before.effective_on:
            raise ValueError(f"custody terms out of order: {after.effective_on} after "
                             f"{before.effective_on}")


def since_last_reset(chain: Sequence[Term]) -> Sequence[Term]:
    """The tail of `chain` from its last first-assignment / full transfer."""
    for i in range(len(chain) - 1, -1, -1):
        if chain[i].resets:
            return chain[i:]
    raise ValueError("a custody chain starts with a first assignment or full transfer")


def chain_in_force(chain: Sequence[Term], on: date,
                   ended_on: date | None = None) -> Sequence[Term]:
    """The terms since the last reset up to the one in force on `on`; empty outside custody.

    Several terms on one date: the last recorded is in force, but earlier
    handovers of that date still count in the chain (their base still holds).
    """
    if ended_on is not None and on >= ended_on:
        return ()
    known = [t for t in chain if t.effective_on <= on]
    return since_last_reset(known) if known else ()


def term_in_force(chain: Sequence[Term], on: date, ended_on: date | None = None) -> Term | None:
    """The custody term in force on `on`; None before custody began or from its end."""
    terms = chain_in_force(chain, on, ended_on)
    return terms[-1] if terms else None


def _add(shares: dict[str, Fraction], party: str, amount: Fraction) -> None:
    if amount:
        shares[party] = shares.get(party, Fraction(0)) + amount


def split(b: int | Fraction, chain: Sequence[Term], branch: str) -> dict[str, Fraction]:
    """S_d(b) of DOMAIN §5.2, literally, for the chain since its last reset.

    Exact; a reference for `PiecewiseSplit` and the day-by-day definition.
    """
    chain = since_last_reset(chain)
    shares: dict[str, Fraction] = {}
    value = Fraction(b)
    # Walk from the latest handover down: each keeps the increment above its
    # base and passes the stock (min(b, B_k)) to the split before it.
    for term in reversed(chain[1:]):
        assert term.base is not None
        assert term.outgoing is not None
        assert term.deposit_ratio is not None
        increment = max(Fraction(0), value - term.base)
        r = ratio_fraction(term.deposit_ratio)
        _add(shares, term.custodian, r * increment)
        _add(shares, term.outgoing, (1 - r) * increment)
        value = min(value, term.base)
    first = chain[0]
    assert first.claim_ratio is not None
    c = ratio_fraction(first.claim_ratio)
    _add(shares, first.custodian, c * value)
    _add(shares, branch, (1 - c) * value)
    return shares


def split_non_deposit(amount: int | Fraction, term: Term, branch: str) -> dict[str, Fraction]:
    """DOMAIN §5.5: non-deposit business on a day under `term`.

    First assignment / full transfer → {C: c·a, branch: (1−c)·a}; under a
    handover all business is increment [S0 §12(3)] → {I: r_n·a, O: (1−r_n)·a}.
    """
    shares: dict[str, Fraction] = {}
    a = Fraction(amount)
    if term.resets:
        assert term.claim_ratio is not None
        c = ratio_fraction(term.claim_ratio)
        _add(shares, term.custodian, c * a)
        _add(shares, branch, (1 - c) * a)
    else:
        assert term.non_deposit_ratio is not None
        assert term.outgoing is not None
        r = ratio_fraction(term.non_deposit_ratio)
        _add(shares, term.custodian, r * a)
        _add(shares, term.outgoing, (1 - r) * a)
    return shares


@dataclass(frozen=True)
class NonDepositAttribution:
    total: int  # fen of business on days under custody
    shares: Mapping[str, Fraction]  # party → fen


def attribute_non_deposit(items: Iterable[tuple[date, int]], chain: Sequence[Term],
                          branch: str, ended_on: date | None = None) -> NonDepositAttribution:
    """Σ of `split_non_deposit` over dated amounts; business outside custody is not credited."""
    check_chain(chain)
    total = 0
    shares: dict[str, Fraction] = {}
    for on, amount in items:
        term = term_in_force(chain, on, ended_on)
        if term is None:
            continue
        total += amount
        for party, share in split_non_deposit(amount, term, branch).items():
            _add(shares, party, share)
    return NonDepositAttribution(total, shares)


# ---- the split as a precomputed piecewise-linear map -------------------------


@dataclass(frozen=True)
class PiecewiseSplit:
    """S(b) for one term, as pieces between the live handover bases, in scaled integers.

    With L the lcm of the chain's base denominators and D = RATIO_ONE·L, a
    party's share·D is an integer for integer b, so summing over segments is
    integer arithmetic. A handover whose base is ≥ a later base can never
    receive anything again (min(b, later base) ≤ its base), so only a strictly
    increasing stack of bases remains: `knots` = those bases·L. On piece i
    (knots[i−1] < b·L ≤ knots[i]) shares·D = values[i] + slopes[i]·(b·L − origin).
    """

    parties: tuple[str, ...]
    scale: int  # L
    knots: tuple[int, ...]
    values: tuple[tuple[int, ...], ...]  # shares·D at each piece's origin
    slopes: tuple[tuple[int, ...], ...]  # ten-thousandths per unit of b

    @property
    def denominator(self) -> int:
        return RATIO_ONE * self.scale

    def piece(self, b: int) -> int:
        """The index of the piece holding balance `b` (fen)."""
        return bisect_left(self.knots, b * self.scale)

    def affine(self, piece: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(C, M) with shares·D = C + M·(b·L) on `piece`: shares are affine in b there."""
        origin = self.knots[piece - 1] if piece else 0
        values, slopes = self.values[piece], self.slopes[piece]
        return tuple(v - s * origin for v, s in zip(values, slopes, strict=True)), slopes

    def scaled(self, b: int) -> tuple[int, ...]:
        """Each party's share·D at balance `b` (fen); sums to b·D."""
        x = b * self.scale
        i = bisect_left(self.knots, x)
        origin = self.knots[i - 1] if i else 0
        return tuple(v + s * (x - origin) for v, s in zip(self.values[i], self.slopes[i],
                                                           strict=True))

    def at(self, b: int) -> dict[str, Fraction]:
        d = self.denominator
        return {p: Fraction(v, d) for p, v in zip(self.parties, self.scaled(b), strict=True) if v}


def chain_parties(chain: Sequence[Term], branch: str) -> tuple[str, ...]:
    """Every party the chain can credit, sorted (the branch included)."""
    names = {branch}
    for t in chain:
        names.add(t.custodian)
        if t.outgoing is not None:
            names.add(t.outgoing)
    return tuple(sorted(names))


def chain_scale(chain: Sequence[Term]) -> int:
    """L: the lcm of the handover bases' denominators (1 without handovers)."""
    return lcm(1, *(t.base.denominator for t in chain if t.base is not None))


def piecewise_splits(chain: Sequence[Term], branch: str) -> list[PiecewiseSplit]:
    """The split in force from each term of `chain` on, sharing parties and scale."""
    check_chain(chain)
    parties = chain_parties(chain, branch)
    index = {p: i for i, p in enumerate(parties)}
    scale = chain_scale(chain)
    zero = (0,) * len(parties)

    def vector(weights: Iterable[tuple[str, int]]) -> tuple[int, ...]:
        v = list(zero)
        for party, w in weights:
            v[index[party]] += w
        return tuple(v)

    result: list[PiecewiseSplit] = []
    reset = zero
    stack: list[tuple[int, tuple[int, ...], tuple[int, ...]]] = []  # (knot, slope, value)
    for term in chain:
        if term.resets:
            assert term.claim_ratio is not None
            reset = vector([(term.custodian, term.claim_ratio),
                            (branch, RATIO_ONE - term.claim_ratio)])
            stack = []
        else:
            assert term.base is not None
            assert term.outgoing is not None
            assert term.deposit_ratio is not None
            knot = int(term.base * scale)
            while stack and stack[-1][0] >= knot:
                stack.pop()  # dead: the new, lower base caps what reaches it
            if stack:
                top_knot, top_slope, top_value = stack[-1]
                value = tuple(v + s * (knot - top_knot)
                              for v, s in zip(top_value, top_slope, strict=True))
            else:
                value = tuple(s * knot for s in reset)
            slope = vector([(term.custodian, term.deposit_ratio),
                            (term.outgoing, RATIO_ONE - term.deposit_ratio)])
            stack.append((knot, slope, value))
        result.append(PiecewiseSplit(
            parties=parties, scale=scale,
            knots=tuple(k for k, _, _ in stack),
            values=(zero, *(v for _, _, v in stack)),
            slopes=(reset, *(s for _, s, _ in stack)),
        ))
    return result
