"""A rebuild with the audit built in a process of its own (ADR 0018) makes the same
views as one in a single process, on SQLite and on PostgreSQL; the book's read that
skips the balances makes the same book as the reads that do not; a long catch-up that
finds SQLite's write lock busy goes on folding and loses nothing."""

from __future__ import annotations

from typing import Any

import pytest

from application.service import BookOfBusiness
from application.settings import Settings
from projections import audit_apart
from projections import db as view_db
from projections.audit_apart import APART_EVENTS, AuditApart, AuditBuildFailed, worth_apart
from projections.integrity import verify
from projections.rebuild import rebuild
from projections.runner import Projector
from projections.waiting import WouldWait, must_not_wait
from tests.integration.test_balances_copy import write_history
from tests.projection_support import active, dump, projector

pytestmark = pytest.mark.integration


def _views(read_side: Projector) -> dict[str, Any]:
    return {name: dump(read_side, active(read_side, name)) for name in ("book", "audit")}


def test_audit_apart_builds_what_one_process_builds(app: BookOfBusiness) -> None:
    write_history(app)
    with projector(app, batch_size=5, flush_events=20) as read_side:
        alone = rebuild(read_side, apart=False)
        together = _views(read_side)
        beside = rebuild(read_side, apart=True)
        assert (alone.status, beside.status) == ("finished", "finished")
        assert beside.done == app.max_position()
        assert beside.diff == {"tiers": [], "attribution": []}
        assert beside.generations["audit"][1] != alone.generations["audit"][1]  # a new one
        assert _views(read_side) == together
        audit = read_side.instance(active(read_side, "audit"))
        found = verify(audit)  # type: ignore[arg-type]
        assert found.ok and found.checked == app.max_position()


def _fresh(app: BookOfBusiness, names: list[str], copy: bool = True,
           read: list[int] | None = None) -> list[dict[str, Any]]:
    """New generations of `names` built together from position zero: their views (and, into
    `read`, how many events the catch-up read)."""
    with projector(app, batch_size=5, flush_events=20) as read_side:
        read_side.copy_in_database = copy
        fresh = [read_side.registry.create(n, "fresh", adopt_until=None) for n in names]
        for generation in fresh:
            read_side.instance(generation).create_tables()
        events = read_side.catch_up(fresh)
        if read is not None:
            read.append(events)
        views = [dump(read_side, generation) for generation in fresh]
        for generation in fresh:
            read_side.drop(generation)
    return views


def test_the_books_skipping_read_makes_the_same_book(app: BookOfBusiness) -> None:
    """The book alone skips the balances' rows (ADR 0018); with the audit it reads them
    undecoded (ADR 0016); the slow path folds them. Three paths, one book."""
    write_history(app)
    slow = _fresh(app, ["book"], copy=False)[0]
    assert _fresh(app, ["book", "audit"])[0] == slow
    assert _fresh(app, ["book"])[0] == slow


def test_a_busy_write_lock_defers_the_write_and_loses_nothing(
        app: BookOfBusiness, monkeypatch: pytest.MonkeyPatch) -> None:
    write_history(app)
    expected = _fresh(app, ["book", "audit"])
    refused = 0
    begin = view_db.ViewDatabase._begin_immediate

    def busy_every_other_time(conn: Any) -> None:
        nonlocal refused
        if must_not_wait() and refused % 2 == 0:  # as if another writer held the lock
            refused += 1
            raise WouldWait("the store is being written (test)")
        refused += must_not_wait()
        begin(conn)

    monkeypatch.setattr(view_db.ViewDatabase, "_begin_immediate",
                        staticmethod(busy_every_other_time))
    read: list[int] = []
    assert _fresh(app, ["book", "audit"], read=read) == expected
    assert read == [app.max_position()]  # each event read once: nothing folded was dropped
    if app.settings.backend == "sqlite":  # PostgreSQL has no store-wide write lock
        assert refused >= 2


def test_a_failing_audit_process_says_why(app: BookOfBusiness) -> None:
    apart = AuditApart(app.settings, 987654, app.max_position(), batch_size=5, flush_events=20)
    try:
        with pytest.raises(AuditBuildFailed, match="no audit generation 987654") as failed:
            apart.wait()
        assert "Traceback" in str(failed.value)  # where, not only what
    finally:
        apart.close()


def test_check_raises_once_the_audit_process_has_failed(app: BookOfBusiness) -> None:
    apart = AuditApart(app.settings, 987654, app.max_position(), batch_size=5, flush_events=20)
    try:
        apart._process.join(30)  # the child fails at its start
        with pytest.raises(AuditBuildFailed, match="no audit generation 987654"):
            apart.check()  # as the book's build calls it between batches
    finally:
        apart.close()


def test_only_a_long_rebuild_of_a_shared_store_goes_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_apart, "cores", lambda: 2)  # whatever this machine has
    on_file = Settings(database_url="sqlite:///bank.db")
    assert worth_apart(on_file, APART_EVENTS)
    assert not worth_apart(on_file, APART_EVENTS - 1)  # spawning would cost more
    assert not worth_apart(Settings(database_url="sqlite:///:memory:"), APART_EVENTS)
    assert worth_apart(Settings(database_url="postgresql://db/bank"), APART_EVENTS)
    monkeypatch.setattr(audit_apart, "cores", lambda: 1)
    assert not worth_apart(on_file, APART_EVENTS)  # no second core to run on
