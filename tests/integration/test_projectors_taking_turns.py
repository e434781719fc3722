"""Two processes projecting one generation in turns — the server and `rmbook project`, two
workers, a CLI command catching the views up — each folding onto what the other wrote.

A process holds documents in memory between its catch-ups (the book's customers and
managers, its customers with a handover, the audit's last hash). Should another process
have written the generation since, that memory is older than the views: a process folds
onto it only where it last left the generation, and reads the views anew otherwise.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from application.service import BookOfBusiness
from projections.book import BookProjection
from tests.projection_support import (
    active,
    assign,
    balance,
    built,
    dump,
    grant,
    handover,
    onboard,
    projector,
    register,
)

pytestmark = pytest.mark.integration

JAN1 = date(2026, 1, 1)
JUL1 = date(2026, 7, 1)


def test_a_document_another_process_changed_is_not_written_back_without_its_change(
        app: BookOfBusiness) -> None:
    for staff_no in ("M1", "M2"):
        register(app, staff_no)
    onboard(app, "C1")
    assign(app, "C1", "M1")
    with projector(app) as first, projector(app) as second:
        (book,) = first.ensure(("book",))
        first.catch_up(book)
        assert first.instance(book).customer("C1")["chain"][-1]["mode"] == "initial"
        handover(app, "C1", "M2", JUL1)
        second.catch_up(active(second))  # the handover, folded and written elsewhere
        grant(app, "C1", JUL1 + timedelta(days=1))  # then C1's document changes here
        first.catch_up(active(first))
        chain = first.instance(active(first)).customer("C1")["chain"]
        views = dump(first, active(first))
    assert [term["mode"] for term in chain] == ["initial", "handover"]
    assert views == built(app, copy_in_database=False)


def test_a_long_catch_up_moves_the_base_of_a_handover_another_process_folded(
        app: BookOfBusiness) -> None:
    """The copy marks bases for the customers with a handover this process knows of: one
    folded elsewhere since its last write must be among them."""
    for staff_no in ("M1", "M2"):
        register(app, staff_no)
    onboard(app, "C1")
    assign(app, "C1", "M1")
    for day in range(0, 120, 7):
        balance(app, "C1", JAN1 + timedelta(days=day), "1000.00")
    with projector(app, batch_size=5, flush_events=20) as first, \
            projector(app, batch_size=5, flush_events=20) as second:
        (book,) = first.ensure(("book",))
        first.catch_up(book)  # a long catch-up: the customers with a handover known here
        onboard(app, "C3")
        assign(app, "C3", "M1")
        for day in range(0, 120, 7):
            balance(app, "C3", JAN1 + timedelta(days=day), "1000.00")
        handover(app, "C3", "M2", JUL1)
        second.catch_up(active(second))
        before = second.instance(active(second)).customer("C3")["chain"][1]
        for day in range(1, 30):  # a long catch-up again: the copy runs
            balance(app, "C1", JUL1 + timedelta(days=day), "2000.00")
        balance(app, "C3", date(2026, 3, 2), "5000000.00")  # backdated into C3's window
        copies: list[list[int]] = []
        projection = first.instance(active(first))
        assert isinstance(projection, BookProjection)
        original = projection.flush

        def counted() -> None:
            copies.append(list(projection.copied))  # the balances' range it copies
            original()

        projection.flush = counted  # type: ignore[method-assign]
        first.catch_up(active(first))
        views = dump(first, active(first))
    assert any(copies)  # the copy ran in that catch-up, not the fold
    customers = {row[0]: row[3] for row in views["customers"]}
    assert customers["C3"]["chain"][1]["base_balance_days"] > before["base_balance_days"]
    assert views == built(app, copy_in_database=False)
