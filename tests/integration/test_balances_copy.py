"""Balances copied by the database in a long catch-up equal balances folded in Python
(ADR 0016) — on SQLite and on PostgreSQL.

The history has what the copy must get right: corrections of a day in the same
write as the day itself (the latest wins), a handover whose base window, writes
later, receives a backdated balance and a correction (the base must move), and balances
spread over several writes of a long catch-up — also when the book's read skips them
(ADR 0018: the book alone).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from application.service import BookOfBusiness
from domain.customer import Customer
from projections.balances_copy import COPIED_TOPICS, shape_checked, values_by_shape
from projections.book import BookProjection
from projections.db import ViewDatabase
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
    visit,
)

pytestmark = pytest.mark.integration

JAN1 = date(2026, 1, 1)
JUL1 = date(2026, 7, 1)
RECORDED = Customer.BalanceRecorded.TOPIC


def write_history(app: BookOfBusiness) -> None:
    for staff_no in ("M1", "M2"):
        register(app, staff_no)
    for no in ("C1", "C2", "C3"):
        onboard(app, no)
        assign(app, no, "M1")
    for day in range(0, 180, 7):
        on = JAN1 + timedelta(days=day)
        for i, no in enumerate(("C1", "C2", "C3")):
            balance(app, no, on, f"{100000 * (i + 1) + day}.00")
        # Other events between: a read that skips the balances (ADR 0018) still spans
        # several writes.
        visit(app, "C1", "M1", on)
    balance(app, "C2", JAN1 + timedelta(days=7), "999.00")  # a correction, months later
    handover(app, "C1", "M2", JUL1)
    for day in range(1, 16):  # more than a write's worth of events after the handover
        for no in ("C2", "C3"):
            balance(app, no, JUL1 + timedelta(days=day), "300000.00")
        visit(app, "C1", "M2", JUL1 + timedelta(days=day))  # read by the book: it writes
    # In one write with the backdated balance below, a later day outside the base window:
    # the base moves for the earliest day written for a customer, not the latest.
    balance(app, "C1", JUL1 + timedelta(days=20), "100.00")
    balance(app, "C1", date(2026, 3, 2), "5000000.00")  # backdated into the base window
    balance(app, "C1", JAN1 + timedelta(days=14), "7.00")  # a correction inside it
    balance(app, "C3", JUL1, "1.00")
    balance(app, "C3", JUL1, "2.00")  # corrected right away: same write as the day


def test_copied_balances_equal_folded_balances(app: BookOfBusiness,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    write_history(app)
    copies: list[tuple[int, int]] = []
    fallbacks: list[int] = []
    original = BookProjection._copy_balances

    def spy(self: BookProjection, first: int, last: int, apart: Any = None) -> None:
        copies.append((first, last))
        original(self, first, last, apart)
        fallbacks.append(self.copies_upserted)

    monkeypatch.setattr(BookProjection, "_copy_balances", spy)
    dumps: dict[bool, dict[str, list[Any]]] = {}
    for copy_in_database in (False, True):
        dumps[copy_in_database] = built(app, copy_in_database=copy_in_database)
        assert bool(copies) == copy_in_database  # the path under test ran, or did not
    assert len(copies) > 1  # several writes, each copying its own range
    assert fallbacks[-1] == 0  # recorded days inserted, corrected ones upserted (ADR 0020)
    assert dumps[True] == dumps[False]
    customers = {row[0]: row[3] for row in dumps[True]["customers"]}
    base = customers["C1"]["chain"][1]
    assert base["mode"] == "handover" and base["base_balance_days"] > 0
    balances = {(row[0], row[1]): row[2] for row in dumps[True]["balances"]}
    assert balances["C2", (JAN1 + timedelta(days=7)).isoformat()] == 99900
    assert balances["C3", JUL1.isoformat()] == 200
    assert balances["C1", "2026-03-02"] == 500000000


def test_copy_into_a_view_made_before_its_text_was_compared_bytewise(
        app: BookOfBusiness, monkeypatch: pytest.MonkeyPatch) -> None:
    """A generation made before the views' text was compared byte by byte (`db.text`) keeps
    the database's collation in its columns; the copy still writes into it the same rows as
    into a view made now."""
    write_history(app)
    made_now = built(app, copy_in_database=True)
    monkeypatch.setattr(ViewDatabase, "text", property(lambda self: "TEXT"))
    made_before = built(app, copy_in_database=True)
    assert made_before == made_now
    assert len(made_before["balances"]) > 50  # the copy wrote them


def test_a_copy_meeting_a_day_the_view_holds_upserts_every_day(
        app: BookOfBusiness, monkeypatch: pytest.MonkeyPatch) -> None:
    """A day recorded in the copied range is new to the view (ADR 0020). Should the view
    hold it all the same, the copy is undone and run again as an upsert of every day:
    the same views as the fold's, nothing lost or doubled."""
    write_history(app)
    original = BookProjection._copy_balances
    upserted: list[int] = []

    def with_a_day_held(self: BookProjection, first: int, last: int, apart: Any = None) -> None:
        if not upserted:  # the first copy: C1's first day is recorded in its range
            self.db.execute(f"INSERT INTO {self.table('balances')} VALUES (?, ?, ?, ?)",
                            ("C1", JAN1.isoformat(), 1, 1))
        original(self, first, last, apart)
        upserted.append(self.copies_upserted)

    folded = built(app, copy_in_database=False)
    monkeypatch.setattr(BookProjection, "_copy_balances", with_a_day_held)
    copied = built(app, copy_in_database=True)
    assert copied == folded
    balances = {(row[0], row[1]): row[2] for row in copied["balances"]}
    assert balances["C1", JAN1.isoformat()] == 10000000  # the event's, not the row held
    if app.settings.backend == "postgres":  # SQLite's copy always upserts
        assert upserted[0] == 1 and upserted[-1] == 1  # that copy alone fell back


def test_a_worker_resuming_far_behind_moves_a_base_it_did_not_fold(app: BookOfBusiness) -> None:
    """The customers with a handover are kept in memory as the book folds handovers; a
    process starting afresh reads them from the view. Its copy of a balance backdated into
    a base window that another process folded must still move that base."""
    for staff_no in ("M1", "M2"):
        register(app, staff_no)
    for no in ("C1", "C2"):
        onboard(app, no)
        assign(app, no, "M1")
    for day in range(0, 120, 7):
        for no in ("C1", "C2"):
            balance(app, no, JAN1 + timedelta(days=day), "1000.00")
    handover(app, "C1", "M2", JUL1)
    with projector(app, batch_size=5, flush_events=20) as first:
        (book,) = first.ensure(("book",))
        first.catch_up(book)
        before = first.instance(book).customer("C1")["chain"][1]["base_balance_days"]
    for day in range(1, 30):  # a long catch-up for the next process: the copy runs
        balance(app, "C2", JUL1 + timedelta(days=day), "2000.00")
    balance(app, "C1", date(2026, 3, 2), "5000000.00")  # backdated into the base window
    with projector(app, batch_size=5, flush_events=20) as resumed:
        copies: list[int] = []
        book = active(resumed)
        projection = resumed.instance(book)
        assert isinstance(projection, BookProjection)
        original = projection._copy_balances

        def counted(first: int, last: int, apart: Any = None) -> None:
            copies.append(first)
            original(first, last, apart)

        projection._copy_balances = counted  # type: ignore[method-assign]
        resumed.catch_up(book)
        assert copies  # the copy ran, not the fold
        after = projection.customer("C1")["chain"][1]["base_balance_days"]
        copied = dump(resumed, book)
    assert after > before
    assert copied == built(app, copy_in_database=False)


_BALANCE_TOPICS = ", ".join(f"'{topic}'" for topic in sorted(COPIED_TOPICS))


def _read_both_ways(app: BookOfBusiness) -> list[tuple[Any, ...]]:
    """Each stored balance as (recorded?, of the codec's shape?, values read by shape,
    values parsed as jsonb), in position order."""
    with projector(app) as read_side:
        events = read_side.bank.events_table
        stored = (f"SELECT notification_id AS p, '' AS stream_id, topic = '{RECORDED}' AS recorded, "
                  f"convert_from(state, 'UTF8') AS t FROM {events} WHERE topic IN ({_BALANCE_TOPICS})")
        return read_side.db.fetchall(
            "SELECT v.recorded, c.fits, v.day, v.deposit, v.loan, j->'on'->>'_data_', "
            "(j->>'deposit_fen')::bigint, (j->>'loan_fen')::bigint "
            f"FROM ({values_by_shape(stored)}) AS v JOIN ({shape_checked(stored)}) AS c "
            f"ON c.p = v.p JOIN (SELECT p, t::jsonb AS j FROM ({stored}) AS s) AS r "
            "ON r.p = v.p ORDER BY v.p")


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_balances_as_the_codec_stores_them_are_read_by_their_shape(app: BookOfBusiness) -> None:
    """PostgreSQL reads a balance's values where the codec's shape puts them, not parsing
    the text (`values_by_shape`): every balance recorded is of that shape, and the values
    read are the parsed ones. Fails if the codec's keys move, which would quietly send every
    row down the slower parse."""
    write_history(app)
    rows = _read_both_ways(app)
    recorded = [row for row in rows if row[0]]
    assert len(recorded) > 100
    assert all(row[1] for row in recorded)
    assert all(row[2:5] == row[5:8] for row in rows)
    assert any(not row[0] for row in rows)  # corrections too: their keys differ, parsed


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_balances_stored_in_another_shape_are_parsed(app: BookOfBusiness) -> None:
    """Text the shape does not fit (here every balance re-serialised by PostgreSQL: keys in
    another order, spaces after the colons) is parsed: the copy writes the views the fold
    writes. Fails if the parse behind the shape is missing or reads the wrong field."""
    write_history(app)
    folded = built(app, copy_in_database=False)
    with projector(app) as read_side, read_side.db.transaction():
        read_side.db.execute(
            f"UPDATE {read_side.bank.events_table} SET state = "
            f"convert_to((convert_from(state, 'UTF8')::jsonb)::text, 'UTF8') "
            f"WHERE topic IN ({_BALANCE_TOPICS})")
    rows = _read_both_ways(app)
    assert rows and not any(row[1] for row in rows)  # no row of the codec's shape is left
    assert built(app, copy_in_database=True) == folded
