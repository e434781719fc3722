"""Balance-days (积数) and the handover base window [DOMAIN §4.2, §5.1], against a
plain day-by-day reference written here."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from domain.rules.balance_days import balance_days, balance_on, daily_average
from domain.rules.base_window import (
    PREVIOUS_HALF_YEAR,
    YEAR_TO_DATE,
    base_window,
    handover_base,
)
from domain.rules.calendar import add_months, days_between, month_end

pytestmark = pytest.mark.property

DAY = timedelta(days=1)

# ---- the reference: one day at a time, no cleverness ---------------------------------


def ref_days(start: date, end: date) -> list[date]:
    out = []
    d = start
    while d <= end:
        out.append(d)
        d += DAY
    return out


def ref_balance(records: dict[date, int], on: date) -> int:
    """The latest record on or before `on`, else 0."""
    known = [d for d in records if d <= on]
    return records[max(known)] if known else 0


def ref_balance_days(records: dict[date, int], start: date, end: date) -> int:
    return sum(ref_balance(records, d) for d in ref_days(start, end))


def ref_six_months_back(on: date) -> date:
    """Step back one month at a time, then clamp the day to that month's length."""
    year, month = on.year, on.month
    for _ in range(6):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return date(year, month, min(on.day, calendar.monthrange(year, month)[1]))


def ref_window(effective_on: date, kind: str) -> tuple[date, date]:
    end = effective_on - DAY
    if kind == YEAR_TO_DATE and (effective_on.month, effective_on.day) != (1, 1):
        return date(effective_on.year, 1, 1), end
    return ref_six_months_back(effective_on), end


# ---- strategies ---------------------------------------------------------------------

dates = st.dates(min_value=date(1999, 1, 1), max_value=date(2101, 12, 31))
near = st.dates(min_value=date(2023, 6, 1), max_value=date(2027, 6, 30))
records = st.dictionaries(near, st.integers(min_value=0, max_value=10**13), max_size=12)
kinds = st.sampled_from([PREVIOUS_HALF_YEAR, YEAR_TO_DATE])


@st.composite
def ranges(draw) -> tuple[date, date]:
    start = draw(near)
    length = draw(st.integers(min_value=-3, max_value=400))
    return start, start + timedelta(days=length)


# ---- balance-days --------------------------------------------------------------------


@settings(max_examples=300)
@given(records, ranges())
def test_balance_days_equals_the_day_by_day_sum(recs, span):
    start, end = span
    assert balance_days(recs, start, end) == ref_balance_days(recs, start, end)


@given(records, near)
def test_balance_on_carries_forward(recs, on):
    dates_sorted = sorted(recs)
    assert balance_on(dates_sorted, [recs[d] for d in dates_sorted], on) == ref_balance(recs, on)


@given(records, ranges())
def test_daily_average_is_exact(recs, span):
    start, end = span
    days = len(ref_days(start, end))
    expected = Fraction(ref_balance_days(recs, start, end), days) if days else Fraction(0)
    assert daily_average(recs, start, end) == expected
    assert days_between(start, end) == days


@given(records, ranges(), st.integers(min_value=1, max_value=200))
def test_balance_days_is_additive_over_a_split(recs, span, cut):
    start, end = span
    middle = min(start + timedelta(days=cut), max(end + DAY, start))
    left = balance_days(recs, start, middle - DAY)
    right = balance_days(recs, middle, end)
    assert left + right == balance_days(recs, start, end)


def test_balance_days_examples():
    recs = {date(2026, 1, 10): 100, date(2026, 1, 20): 50}
    assert balance_days(recs, date(2026, 1, 1), date(2026, 1, 9)) == 0
    assert balance_days(recs, date(2026, 1, 1), date(2026, 1, 31)) == 10 * 100 + 12 * 50
    assert balance_days(recs, date(2026, 1, 15), date(2026, 1, 15)) == 100
    assert balance_days(recs, date(2026, 2, 1), date(2026, 1, 31)) == 0
    assert balance_days({}, date(2026, 1, 1), date(2026, 12, 31)) == 0
    assert daily_average(recs, date(2026, 1, 20), date(2026, 1, 19)) == 0


# ---- months and windows -----------------------------------------------------------------


@given(dates, st.integers(min_value=-30, max_value=30))
def test_add_months_same_day_clamped_to_month_end(on, months):
    moved = add_months(on, months)
    assert (moved.year * 12 + moved.month) - (on.year * 12 + on.month) == months
    assert moved.day == min(on.day, calendar.monthrange(moved.year, moved.month)[1])
    assert month_end(moved).month == moved.month
    assert month_end(moved) >= moved


@pytest.mark.parametrize(
    ("effective_on", "start"),
    [
        (date(2026, 8, 31), date(2026, 2, 28)),  # non-leap February
        (date(2024, 8, 31), date(2024, 2, 29)),  # leap February
        (date(2024, 8, 30), date(2024, 2, 29)),
        (date(2024, 8, 29), date(2024, 2, 29)),
        (date(2024, 8, 28), date(2024, 2, 28)),
        (date(2100, 8, 31), date(2100, 2, 28)),  # century, not a leap year
        (date(2000, 8, 31), date(2000, 2, 29)),  # 400-year leap year
        (date(2026, 12, 31), date(2026, 6, 30)),
        (date(2026, 5, 31), date(2025, 11, 30)),
        (date(2026, 3, 31), date(2025, 9, 30)),
        (date(2026, 1, 1), date(2025, 7, 1)),
        (date(2026, 7, 1), date(2026, 1, 1)),
    ],
)
def test_previous_half_year_clamps_to_month_end(effective_on, start):
    assert base_window(effective_on) == (start, effective_on - DAY)
    assert base_window(effective_on, PREVIOUS_HALF_YEAR) == (start, effective_on - DAY)


@pytest.mark.parametrize(
    ("effective_on", "window"),
    [
        (date(2027, 1, 1), (date(2026, 7, 1), date(2026, 12, 31))),  # falls back
        (date(2024, 1, 1), (date(2023, 7, 1), date(2023, 12, 31))),
        (date(2027, 1, 2), (date(2027, 1, 1), date(2027, 1, 1))),
        (date(2026, 9, 15), (date(2026, 1, 1), date(2026, 9, 14))),
        (date(2026, 12, 31), (date(2026, 1, 1), date(2026, 12, 30))),
        (date(2024, 3, 1), (date(2024, 1, 1), date(2024, 2, 29))),
    ],
)
def test_year_to_date_window_and_its_1_january_fallback(effective_on, window):
    assert base_window(effective_on, YEAR_TO_DATE) == window


def test_unknown_window_kind_is_an_error():
    with pytest.raises(ValueError, match="unknown base window"):
        base_window(date(2026, 7, 1), "fortnight")


@given(dates, kinds)
@example(date(2026, 8, 31), PREVIOUS_HALF_YEAR)
@example(date(2024, 8, 31), PREVIOUS_HALF_YEAR)
@example(date(2027, 1, 1), YEAR_TO_DATE)
def test_window_matches_the_reference(effective_on, kind):
    start, end = base_window(effective_on, kind)
    assert (start, end) == ref_window(effective_on, kind)
    assert start <= end < effective_on
    assert end == effective_on - DAY
    if kind == PREVIOUS_HALF_YEAR or (effective_on.month, effective_on.day) == (1, 1):
        assert 181 <= days_between(start, end) <= 184
    else:
        assert start == date(effective_on.year, 1, 1)
        assert days_between(start, end) == effective_on.timetuple().tm_yday - 1


@settings(max_examples=200)
@given(records, near, kinds)
def test_handover_base_matches_the_reference(recs, effective_on, kind):
    base = handover_base(recs, effective_on, kind)
    start, end = ref_window(effective_on, kind)
    days = ref_days(start, end)
    assert (base.start, base.end, base.days) == (start, end, len(days))
    assert base.balance_days == sum(ref_balance(recs, d) for d in days)
    assert base.daily_average == Fraction(base.balance_days, len(days))
    # records on or after effective_on never move the base
    later = {d: v for d, v in recs.items() if d < effective_on}
    assert handover_base(later, effective_on, kind) == base


def test_worked_example_of_the_spec():
    # DOMAIN §5: 1,000,000.00 from 2026-01-01, handover 2026-07-01 → base 1,000,000.00
    base = handover_base({date(2026, 1, 1): 1_000_000_00}, date(2026, 7, 1))
    assert base.daily_average == 1_000_000_00
    assert (base.start, base.end, base.days) == (date(2026, 1, 1), date(2026, 6, 30), 181)
    # a balance recorded on the effective date itself does not count
    moved = handover_base({date(2026, 1, 1): 1_000_000_00, date(2026, 7, 1): 1_500_000_00},
                          date(2026, 7, 1))
    assert moved == base
    # exact, not rounded: one extra fen on one day of 181
    odd = handover_base({date(2026, 1, 1): 1_000_000_00, date(2026, 6, 30): 1_000_000_01},
                        date(2026, 7, 1))
    assert odd.daily_average == Fraction(181 * 1_000_000_00 + 1, 181)
