"""A rebuild's balances copied in two parts at once, each on its own connection (ADR 0022),
make the same book as the fold in Python and as the copy in one part. On SQLite the copy
stays whole. The parts are used only while a rebuild builds, and a failed part fails the
write and leaves nothing running behind it."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from typing import Any

import pytest

from application.service import BookOfBusiness
from domain.identity import customer_id
from projections import book as book_module
from projections.book import BookProjection
from projections.rebuild import rebuild
from projections.registry import Generation
from projections.runner import Projector
from tests.integration.test_balances_copy import JAN1, JUL1, write_history
from tests.projection_support import (
    active,
    assign,
    balance,
    built,
    dump,
    handover,
    onboard,
    projector,
)

pytestmark = pytest.mark.integration


def _part(customer_no: str) -> int:
    """Which of the two parts copies this customer's balances (`balances_copy`)."""
    return customer_id(customer_no).bytes[15] % 2


def write_history_in_both_parts(app: BookOfBusiness) -> list[str]:
    """`write_history`, whose customers all fall in one part, and as much again for two
    customers of the other part: a handover among them, its base window given a backdated
    balance later, so the bases are recomputed from rows both parts wrote."""
    write_history(app)
    first = {_part(no) for no in ("C1", "C2", "C3")}
    others = [no for no in (f"P{i}" for i in range(100)) if {_part(no)} != first][:2]
    assert len(others) == 2 and len(first) == 1
    for no in others:
        onboard(app, no)
        assign(app, no, "M1")
    for day in range(0, 180, 7):
        for i, no in enumerate(others):
            balance(app, no, JAN1 + timedelta(days=day), f"{400000 * (i + 1) + day}.00")
    handover(app, others[0], "M2", JUL1)
    for day in range(1, 16):
        balance(app, others[1], JUL1 + timedelta(days=day), "300000.00")
    balance(app, others[0], date(2026, 3, 3), "6000000.00")  # backdated into the base window
    balance(app, others[1], JAN1 + timedelta(days=7), "1.00")  # a correction, months later
    return others


def _parts_counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    started: list[int] = []
    original = book_module._PartApart.__init__

    def counted(self: Any, *args: Any, **kwargs: Any) -> None:
        started.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(book_module._PartApart, "__init__", counted)
    return started


def _building_in_parts(read_side: Projector) -> Generation:
    """A new, empty book generation whose copy runs in two parts, as a rebuild sets it."""
    fresh = read_side.registry.create("book", "building", adopt_until=None)
    book = read_side.instance(fresh)
    assert isinstance(book, BookProjection)
    book.create_tables()
    book.copy_in_parts = True
    return fresh


def _built_in_parts(app: BookOfBusiness) -> dict[str, list[Any]]:
    """A fresh book built in writes of 20 events with its copy in two parts."""
    with projector(app, batch_size=5, flush_events=20) as read_side:
        fresh = _building_in_parts(read_side)
        read_side.catch_up(fresh)
        tables = dump(read_side, fresh)
        # Each part's helper closed its connection as it ended: none is left open.
        assert all(thread.is_alive() for thread in read_side.db._owners)
        read_side.drop(fresh)
    return tables


def test_a_copy_in_two_parts_makes_the_book_the_fold_makes(
        app: BookOfBusiness, monkeypatch: pytest.MonkeyPatch) -> None:
    others = write_history_in_both_parts(app)
    folded = built(app, copy_in_database=False)
    whole = built(app, copy_in_database=True)
    started = _parts_counted(monkeypatch)
    in_parts = _built_in_parts(app)
    assert in_parts == folded == whole
    copied = {row[0] for row in in_parts["balances"]}
    assert {_part(no) for no in copied} == {0, 1}  # each part had customers to copy
    # A handover in each part, its base read back from the rows that part copied.
    handed_over = {row[0]: [t for t in row[3]["chain"] if t["mode"] == "handover"]
                   for row in in_parts["customers"]}
    for no in ("C1", others[0]):
        assert handed_over[no] and handed_over[no][0]["base_balance_days"] > 0
    assert {_part("C1"), _part(others[0])} == {0, 1}
    if app.settings.backend == "postgres":
        assert len(started) > 1  # several writes, each with a part apart
    else:
        assert started == []  # one writer: the copy stays whole


def test_a_rebuild_copies_in_parts_while_it_builds_and_not_after(
        app: BookOfBusiness, monkeypatch: pytest.MonkeyPatch) -> None:
    write_history_in_both_parts(app)
    started = _parts_counted(monkeypatch)
    with projector(app, batch_size=5, flush_events=20) as read_side:
        whole = rebuild(read_side, apart=False, in_parts=False)
        assert started == []
        expected = dump(read_side, active(read_side, "book"))
        report = rebuild(read_side, apart=False, in_parts=True)
        assert (whole.status, report.status) == ("finished", "finished")
        assert report.diff == {"tiers": [], "attribution": []}
        serving = active(read_side, "book")
        assert dump(read_side, serving) == expected
        assert bool(started) == (app.settings.backend == "postgres")
        # Served now, and written by workers too: its copy is whole again.
        book = read_side.instance(serving)
        assert isinstance(book, BookProjection) and not book.copy_in_parts


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_failed_part_fails_the_write_and_leaves_nothing_running(
        app: BookOfBusiness, monkeypatch: pytest.MonkeyPatch) -> None:
    """(PostgreSQL alone: SQLite's copy is never in parts.)"""
    write_history(app)
    original = BookProjection._copy_statements

    def broken_second_part(self: BookProjection,
                           part: tuple[int, int] | None = None) -> tuple[str, str]:
        if part == (1, 2):
            return ("SELECT * FROM no_such_table WHERE ? < ?", "SELECT ?, ?")
        return original(self, part)

    monkeypatch.setattr(BookProjection, "_copy_statements", broken_second_part)
    with projector(app, batch_size=5, flush_events=20) as read_side:
        fresh = _building_in_parts(read_side)
        with pytest.raises(Exception, match="no_such_table"):
            read_side.catch_up(fresh)
        found = read_side.registry.get("book", fresh.generation)
        # The failed write was rolled back: the generation stops short of the head.
        assert found is not None and found.position < app.max_position()
        assert not [t for t in threading.enumerate() if t.name.startswith("rmbook-copy-part")]
        read_side.drop(fresh)
