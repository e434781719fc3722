"""A read that must not wait (on the HTTP event loop, ADR 0017) catches the views up only
when that is short; otherwise it raises WouldWait and writes nothing, and the same read
where it may wait catches up and answers."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from application.service import BookOfBusiness
from projections import runner
from projections.replay import book_reader
from projections.waiting import WouldWait, without_waiting
from tests.projection_support import projector, register

pytestmark = pytest.mark.integration


def test_a_short_catch_up_is_done_even_by_a_read_that_must_not_wait(
        app: BookOfBusiness) -> None:
    register(app, "M1")
    with projector(app) as read_side:
        read_side.catch_up_all()
        register(app, "M2")  # one event behind: the moment after a write
        with without_waiting(), book_reader(read_side) as reader:
            assert sorted(m["staff_no"] for m in reader.managers()) == ["M1", "M2"]


def test_a_long_catch_up_is_left_to_a_read_that_may_wait(
        app: BookOfBusiness, monkeypatch: pytest.MonkeyPatch) -> None:
    register(app, "M1")
    with projector(app) as read_side:
        read_side.catch_up_all()
        register(app, "M2")
        register(app, "M3")
        monkeypatch.setattr(runner, "SHORT_LAG_EVENTS", 1)  # two events count as long here
        behind = read_side.registry.active("book")
        with pytest.raises(WouldWait), without_waiting(), book_reader(read_side):
            pass
        assert read_side.registry.active("book") == behind  # nothing was written

        with book_reader(read_side) as reader:  # allowed to wait: catches up, then answers
            assert sorted(m["staff_no"] for m in reader.managers()) == ["M1", "M2", "M3"]


def test_a_read_that_must_not_wait_gives_up_on_a_projector_lock_held_elsewhere(
        app: BookOfBusiness) -> None:
    register(app, "M1")
    with projector(app) as read_side:
        held, release = threading.Event(), threading.Event()

        def follower() -> None:  # a long catch-up, as the follower or a rebuild holds it
            with read_side.lock:
                held.set()
                release.wait(10)

        other = threading.Thread(target=follower)
        other.start()
        held.wait(10)
        try:
            with pytest.raises(WouldWait), without_waiting():
                read_side.serving("book")
        finally:
            release.set()
            other.join()
        assert read_side.serving("book").position == app.max_position()


def test_a_read_that_must_not_wait_gives_up_on_sqlite_write_lock_held_elsewhere(
        app: BookOfBusiness) -> None:
    if app.settings.backend != "sqlite":
        pytest.skip("SQLite's one writer: PostgreSQL writers do not lock the database")
    register(app, "M1")
    with projector(app) as read_side:
        writer = sqlite3.connect(app.settings.sqlite_file() or "", isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")  # another process writing the store
        try:
            with pytest.raises(WouldWait), without_waiting():
                read_side.serving("book")
        finally:
            writer.execute("ROLLBACK")
            writer.close()
        assert read_side.serving("book").position == app.max_position()
