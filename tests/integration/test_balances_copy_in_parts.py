"""A rebuild's balances copied in two parts at once, each on its own connection (ADR 0022),
make the same book as the fold in Python and as the copy in one part. On SQLite the copy
stays whole. The parts are used only while a rebuild builds, and a failed part fails the
write and leaves nothing running behind it."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from application.service import BookOfBusiness
from projections import book as book_module
from projections.book import BookProjection
from projections.rebuild import rebuild
from projections.registry import Generation
from projections.runner import Projector
from tests.integration.test_balances_copy import built, write_history
from tests.projection_support import active, dump, projector

pytestmark = pytest.mark.integration


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
    write_history(app)
    folded = built(app, copy_in_database=False)
    whole = built(app, copy_in_database=True)
    started = _parts_counted(monkeypatch)
    in_parts = _built_in_parts(app)
    assert in_parts == folded == whole
    if app.settings.backend == "postgres":
        assert len(started) > 1  # several writes, each with a part apart
    else:
        assert started == []  # one writer: the copy stays whole


def test_a_rebuild_copies_in_parts_while_it_builds_and_not_after(
        app: BookOfBusiness, monkeypatch: pytest.MonkeyPatch) -> None:
    write_history(app)
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
