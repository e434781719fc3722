"""A rebuild's balances view on PostgreSQL is built without its key and keyed when the
copy is done (ADR 0031): the same book as a view keyed from the start, every handover's
base computed once the key is there, keyed early when a range corrects a day recorded
before it, and built again keyed should two rows share a day. (SQLite's views are keyed
from the start: nothing to test there.)"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from application.service import BookOfBusiness
from projections.book import BalancesRecordedTwice, BookProjection
from projections.rebuild import rebuild
from tests.integration.test_balances_copy import JAN1, JUL1
from tests.integration.test_balances_copy_in_parts import write_history_in_both_parts
from tests.projection_support import (
    active,
    assign,
    balance,
    built,
    dump,
    handover,
    onboard,
    projector,
    register,
)

pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("backend", [pytest.param("postgres",
                                                               marks=pytest.mark.postgres)])]


def write_history_without_late_corrections(app: BookOfBusiness) -> None:
    """Balances over several writes, a handover, and a balance backdated into its base
    window, recorded (a day with no balance yet): no range corrects a day recorded before
    it, so the view stays without its key until the copy is done."""
    for staff_no in ("M1", "M2"):
        register(app, staff_no)
    for no in ("C1", "C2"):
        onboard(app, no)
        assign(app, no, "M1")
    for day in range(0, 180, 7):
        for i, no in enumerate(("C1", "C2")):
            balance(app, no, JAN1 + timedelta(days=day), f"{100000 * (i + 1) + day}.00")
    handover(app, "C1", "M2", JUL1)
    for day in range(1, 30):
        balance(app, "C2", JUL1 + timedelta(days=day), "300000.00")
    balance(app, "C1", date(2026, 3, 2), "5000000.00")  # backdated into the base window
    balance(app, "C2", JUL1 + timedelta(days=40), "1.00")
    balance(app, "C2", JUL1 + timedelta(days=40), "2.00")  # corrected in the same range


def _copies_seen(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether the view had its key at each copy, in order."""
    seen: list[bool] = []
    original = BookProjection._copy_balances

    def spy(self: BookProjection, first: int, last: int, apart: Any = None) -> None:
        seen.append(self.balances_keyed())
        original(self, first, last, apart)

    monkeypatch.setattr(BookProjection, "_copy_balances", spy)
    return seen


def _handover_base(book: dict[str, list[Any]], customer_no: str) -> int:
    doc = next(row[3] for row in book["customers"] if row[0] == customer_no)
    base: int = next(t for t in doc["chain"] if t["mode"] == "handover")["base_balance_days"]
    return base


@pytest.mark.parametrize("in_parts", [False, True])
def test_a_rebuild_keys_its_balances_when_the_copy_is_done(
        app: BookOfBusiness, monkeypatch: pytest.MonkeyPatch, in_parts: bool) -> None:
    write_history_without_late_corrections(app)
    folded = built(app, copy_in_database=False)
    seen = _copies_seen(monkeypatch)
    with projector(app, batch_size=5, flush_events=20) as read_side:
        keyed = rebuild(read_side, apart=False, in_parts=in_parts, key_later=False)
        assert seen and all(seen)  # the comparison: keyed at every copy
        expected = dump(read_side, active(read_side))
        seen.clear()
        report = rebuild(read_side, apart=False, in_parts=in_parts)
        assert (keyed.status, report.status) == ("finished", "finished")
        assert report.diff == {"tiers": [], "attribution": []}
        assert len(seen) > 1 and not any(seen)  # every copy went into a view without a key
        serving = active(read_side)
        book = read_side.instance(serving)
        assert isinstance(book, BookProjection)
        assert read_side.db.has_primary_key(book.table("balances"))  # served keyed
        made = dump(read_side, serving)
    assert made == expected == folded
    # The backdated balance moved the base, computed once the key was there.
    assert _handover_base(made, "C1") > 0
    balances = {(row[0], row[1]): row[2] for row in made["balances"]}
    assert balances["C1", "2026-03-02"] == 500000000
    assert balances["C2", (JUL1 + timedelta(days=40)).isoformat()] == 200


@pytest.mark.parametrize("in_parts", [False, True])
def test_a_range_correcting_an_earlier_day_keys_the_view_then(
        app: BookOfBusiness, monkeypatch: pytest.MonkeyPatch, in_parts: bool) -> None:
    """A correction of a day recorded in an earlier range replaces a row, which takes the
    key: the copy of that range declines, the view is keyed, and the range is copied keyed."""
    write_history_in_both_parts(app)
    folded = built(app, copy_in_database=False)
    seen = _copies_seen(monkeypatch)
    with projector(app, batch_size=5, flush_events=20) as read_side:
        report = rebuild(read_side, apart=False, in_parts=in_parts)
        assert report.status == "finished"
        made = dump(read_side, active(read_side))
    assert not seen[0] and seen[-1]  # keyed on the way, not at the end
    assert made == folded
    balances = {(row[0], row[1]): row[2] for row in made["balances"]}
    assert balances["C2", (JAN1 + timedelta(days=7)).isoformat()] == 99900  # the correction


def test_balances_recorded_twice_build_the_book_again_keyed(
        app: BookOfBusiness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Should a view without its key come to hold two rows for a day (a store breaking the
    rule that BalanceRecorded is the first of its day, here a row slipped in), it cannot be
    keyed: the rebuild drops what it built and builds again keyed from the start."""
    write_history_without_late_corrections(app)
    folded = built(app, copy_in_database=False)
    original = BookProjection._copy_balances
    slipped: list[int] = []

    def with_a_day_held(self: BookProjection, first: int, last: int, apart: Any = None) -> None:
        if not slipped and not self.balances_keyed():  # C1's first day, before its copy
            self.db.execute(f"INSERT INTO {self.table('balances')} VALUES (?, ?, ?, ?)",
                            ("C1", JAN1.isoformat(), 1, 1))
            slipped.append(self.generation)
        original(self, first, last, apart)

    monkeypatch.setattr(BookProjection, "_copy_balances", with_a_day_held)
    refused: list[str] = []
    key = BookProjection._key

    def keyed(self: BookProjection) -> None:
        try:
            key(self)
        except BalancesRecordedTwice as e:
            refused.append(str(e))
            raise

    monkeypatch.setattr(BookProjection, "_key", keyed)
    with projector(app, batch_size=5, flush_events=20) as read_side:
        report = rebuild(read_side, apart=False, in_parts=False)
        assert report.status == "finished"
        assert slipped and len(refused) == 1  # the first build could not be keyed
        # Only what serves is left: the first build was dropped.
        assert sorted((g.name, g.status) for g in read_side.registry.all()) == [
            ("audit", "active"), ("book", "active")]
        made = dump(read_side, active(read_side))
    assert made == folded  # the row slipped in is gone; the event's value stands
    balances = {(row[0], row[1]): row[2] for row in made["balances"]}
    assert balances["C1", JAN1.isoformat()] == 10000000
