"""A customer's attributed balance-days (积数) by party, per segment, with prefix sums.

DOMAIN §5.1–5.4. Between change points — a new balance record, a new custody
term — both the balance b and the split S are constant: a segment. On one
piece of one term's split, every party's share is affine in b
(`PiecewiseSplit.affine`), so a party's balance-days over many segments of
the same (term, piece) need only two sums: days and balance-days. The ledger
keeps those as prefix sums per (term, piece) group; building is
O(#change points + #terms) and a date range costs O(#groups · log #segments),
whatever its length. Nothing is ever computed day by day.

Everything is exact: shares are integers scaled by D = RATIO_ONE·L
(see `PiecewiseSplit`) and returned as `Fraction`s of fen·days, which sum to
the customer's balance-days exactly. Custody ends at closure (`ended_on`):
from that date nothing is attributed; before the first term neither.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction

from domain.rules.attribution import PiecewiseSplit, Term, chain_parties, piecewise_splits

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Attribution:
    """Balance-days over [start, end]: the customer's total and each party's share."""

    start: date
    end: date
    days: int  # calendar days in [start, end]: the divisor of daily averages (§5.3)
    custody_days: int  # of which under custody
    total: int  # fen·days on days under custody
    shares: Mapping[str, Fraction]  # party → fen·days; zero shares omitted; Σ == total

    @property
    def daily_average(self) -> Fraction:
        return Fraction(self.total, self.days) if self.days else Fraction(0)

    def daily_averages(self) -> dict[str, Fraction]:
        if not self.days:
            return {p: Fraction(0) for p in self.shares}
        return {p: s / self.days for p, s in self.shares.items()}


@dataclass
class _Group:
    """Segments on one piece of one term's split: shares·D = constant + slope·(b·L)."""

    constant: tuple[int, ...]
    slope: tuple[int, ...]
    segments: list[int] = field(default_factory=list)  # ledger segment indices, ascending
    days: list[int] = field(default_factory=lambda: [0])  # prefix sums over `segments`
    balance_days: list[int] = field(default_factory=lambda: [0])


def _days(start: date, end: date) -> int:
    return (end - start).days + 1


class CustomerLedger:
    """Segments of constant (balance, term) over the custody span, and their prefix sums.

    `window` limits the segments built to a date range (one-off queries);
    without it the whole custody span is covered, open-ended if custody has
    not ended (balances carry forward).
    """

    def __init__(self, records: Mapping[date, int], chain: Sequence[Term], branch: str,
                 ended_on: date | None = None,
                 window: tuple[date, date] | None = None) -> None:
        splits = piecewise_splits(chain, branch)
        self.parties: tuple[str, ...] = chain_parties(chain, branch)
        self.scale = splits[0].scale if splits else 1
        self.denominator = splits[0].denominator if splits else 1
        self._starts: list[date] = []
        self._ends: list[date] = []
        self._balances: list[int] = []
        self._group_of: list[int] = []  # segment → group
        self._groups: list[_Group] = []
        self._prefix_total: list[int] = [0]
        if not chain:
            return
        first = chain[0].effective_on
        last = ended_on - _DAY if ended_on is not None else date.max
        if window is not None:
            first, last = max(first, window[0]), min(last, window[1])
        if last < first:
            return
        self._segment(records, chain, splits, first, last)
        self._sum_prefixes()

    def _segment(self, records: Mapping[date, int], chain: Sequence[Term],
                 splits: list[PiecewiseSplit], first: date, last: date) -> None:
        # The last term recorded on a date is the one in force from that date.
        term_dates: list[date] = []
        term_splits: list[PiecewiseSplit] = []
        for term, fn in zip(chain, splits, strict=True):
            if term_dates and term_dates[-1] == term.effective_on:
                term_splits[-1] = fn
            else:
                term_dates.append(term.effective_on)
                term_splits.append(fn)
        dates = sorted(records)
        groups: dict[tuple[int, int], int] = {}

        def open_segment(on: date, balance: int, k: int) -> None:
            fn = term_splits[k]
            key = (k, fn.piece(balance))
            if key not in groups:
                groups[key] = len(self._groups)
                self._groups.append(_Group(*fn.affine(key[1])))
            if self._starts:
                self._ends.append(on - _DAY)
            self._starts.append(on)
            self._balances.append(balance)
            self._group_of.append(groups[key])

        r = bisect_right(dates, first)
        t = bisect_right(term_dates, first)
        balance, k = (records[dates[r - 1]] if r else 0), t - 1
        open_segment(first, balance, k)
        # Merge the two sorted streams of change points up to `last`.
        n_dates, n_terms = len(dates), len(term_dates)
        while r < n_dates or t < n_terms:
            record_first = t == n_terms or (r < n_dates and dates[r] < term_dates[t])
            on = dates[r] if record_first else term_dates[t]
            if on > last:
                break
            changed = False
            if r < n_dates and dates[r] == on:
                changed |= records[on] != balance  # a repeated balance extends the segment
                balance, r = records[on], r + 1
            if t < n_terms and term_dates[t] == on:
                changed, k, t = True, t, t + 1
            if changed:
                open_segment(on, balance, k)
        self._ends.append(last)

    def _sum_prefixes(self) -> None:
        # Every segment but the last, which may be open-ended and is only ever
        # read partially.
        for s in range(len(self._starts) - 1):
            n = _days(self._starts[s], self._ends[s])
            bd = self._balances[s] * n
            self._prefix_total.append(self._prefix_total[-1] + bd)
            group = self._groups[self._group_of[s]]
            group.segments.append(s)
            group.days.append(group.days[-1] + n)
            group.balance_days.append(group.balance_days[-1] + bd)

    @property
    def segments(self) -> int:
        return len(self._starts)

    def attribute(self, start: date, end: date) -> Attribution:
        """Balance-days over [start, end] (inclusive), in O(#groups · log #segments)."""
        days = max(0, _days(start, end))
        empty = Attribution(start, end, days, 0, 0, {})
        if not self._starts or days == 0:
            return empty
        lo, hi = max(start, self._starts[0]), min(end, self._ends[-1])
        if hi < lo:
            return empty
        i = bisect_right(self._starts, lo) - 1
        j = bisect_right(self._starts, hi) - 1
        scaled = [0] * len(self.parties)
        if i == j:
            total = self._add_segment(scaled, i, _days(lo, hi))
        else:
            total = self._add_segment(scaled, i, _days(lo, self._ends[i]))
            total += self._add_segment(scaled, j, _days(self._starts[j], hi))
            total += self._prefix_total[j] - self._prefix_total[i + 1]
            for group in self._groups:
                a = bisect_left(group.segments, i + 1)
                b = bisect_left(group.segments, j)
                if b > a:
                    self._add(scaled, group, group.days[b] - group.days[a],
                              group.balance_days[b] - group.balance_days[a])
        d = self.denominator
        shares = {p: Fraction(v, d) for p, v in zip(self.parties, scaled, strict=True) if v}
        return Attribution(start, end, days, _days(lo, hi), total, shares)

    def _add_segment(self, scaled: list[int], s: int, n: int) -> int:
        bd = self._balances[s] * n
        self._add(scaled, self._groups[self._group_of[s]], n, bd)
        return bd

    def _add(self, scaled: list[int], group: _Group, days: int, balance_days: int) -> None:
        # Σ over the group's days of (C + M·b·L) = C·days + M·L·balance-days.
        x = balance_days * self.scale
        for p, (c, m) in enumerate(zip(group.constant, group.slope, strict=True)):
            scaled[p] += c * days + m * x


def attribute(records: Mapping[date, int], chain: Sequence[Term], branch: str, start: date,
              end: date, ended_on: date | None = None) -> Attribution:
    """One customer's attribution over [start, end], building only the segments inside it."""
    ledger = CustomerLedger(records, chain, branch, ended_on, window=(start, end))
    return ledger.attribute(start, end)
