"""Integrity of stored history against the audit hash chain [DOMAIN §9].

The events are tampered with directly in the database, the way someone with
write access to the store could — not through rmbook: on SQLite with `sqlite3`
on the file, on PostgreSQL with psycopg in the test's schema. `verify` must then
name exactly the first position where stored history no longer matches.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import date
from typing import Any

import pytest

from application.service import BookOfBusiness
from projections.audit import AuditProjection
from projections.integrity import Verification, verify
from projections.replay import audit_projection
from projections.runner import Projector
from tests.projection_support import (
    active,
    assign,
    balance,
    handover,
    onboard,
    open_account,
    postgres_schema,
    projector,
    register,
    visit,
)

pytestmark = pytest.mark.integration

JAN1 = date(2026, 1, 1)


def history(app: BookOfBusiness) -> dict[str, int]:
    """A small history; returns the positions of a few events by name."""
    register(app, "M1")
    register(app, "M2")
    onboard(app, "X")
    open_account(app, "X", "A1")
    assign(app, "X", "M1")
    first = balance(app, "X", JAN1, "1000000.00").position
    second = balance(app, "X", date(2026, 3, 1), "1200000.00").position
    handover(app, "X", "M2", date(2026, 7, 1))
    visit(app, "X", "M2", date(2026, 7, 2))
    last = balance(app, "X", date(2026, 7, 1), "1500000.00").position
    assert first is not None
    assert second is not None
    assert last is not None
    return {"first_balance": first, "second_balance": second, "last": last}


def check(read_side: Projector) -> Verification:
    audit = audit_projection(read_side)  # caught up
    return verify(audit)


def serving_audit(read_side: Projector) -> AuditProjection:
    """The serving audit generation, without catching up first."""
    audit = read_side.instance(active(read_side, "audit"))
    assert isinstance(audit, AuditProjection)
    return audit


def tamper(app: BookOfBusiness, database_url: str, backend: str, sql_sqlite: str,
           sql_postgres: str, params: Sequence[Any]) -> int:
    """Run one statement on the event table behind rmbook's back; returns rows changed."""
    table = app.recorder.events_table_name
    if backend == "sqlite":
        path = database_url[len("sqlite:///"):]
        with sqlite3.connect(path) as conn:
            changed = conn.execute(sql_sqlite.format(table=table), params).rowcount
        conn.close()
        return int(changed)
    import psycopg

    schema = postgres_schema(database_url)
    server = database_url.split("?", 1)[0]
    with psycopg.connect(server, autocommit=True) as conn:
        cursor = conn.execute(sql_postgres.format(table=f'"{schema}"."{table}"'), params)
        return int(cursor.rowcount)


def stored_state(app: BookOfBusiness, position: int) -> bytes:
    rows = app.recorder.select_notifications(position, 1)
    assert rows
    assert rows[0].id == position
    return bytes(rows[0].state)


def alter(app: BookOfBusiness, database_url: str, backend: str, position: int,
          state: bytes) -> None:
    changed = tamper(app, database_url, backend,
                     "UPDATE {table} SET state=? WHERE rowid=?",
                     "UPDATE {table} SET state=%s WHERE notification_id=%s", (state, position))
    assert changed == 1


def delete(app: BookOfBusiness, database_url: str, backend: str, position: int) -> None:
    changed = tamper(app, database_url, backend,
                     "DELETE FROM {table} WHERE rowid=?",
                     "DELETE FROM {table} WHERE notification_id=%s", (position,))
    assert changed == 1


def test_untouched_history_verifies(app: BookOfBusiness) -> None:
    history(app)
    with projector(app) as read_side:
        result = check(read_side)
    assert result.as_dict() == {"ok": True, "checked": app.max_position(),
                                "first_bad_position": None}


def test_an_altered_event_is_named_at_its_position(app: BookOfBusiness, database_url: str,
                                                   backend: str) -> None:
    positions = history(app)
    target = positions["first_balance"]
    with projector(app) as read_side:
        assert check(read_side).ok
        state = stored_state(app, target)
        assert b"100000000" in state  # 1,000,000.00 in fen
        alter(app, database_url, backend, target, state.replace(b"100000000", b"900000000"))
        assert stored_state(app, target) != state

        result = check(read_side)
        assert result.ok is False
        assert result.first_bad_position == target
        assert result.checked == target - 1  # everything before it is intact


def test_an_altered_last_event_is_named(app: BookOfBusiness, database_url: str,
                                        backend: str) -> None:
    last = history(app)["last"]
    with projector(app) as read_side:
        assert check(read_side).ok
        state = stored_state(app, last)
        assert b"150000000" in state  # 1,500,000.00 in fen
        alter(app, database_url, backend, last, state.replace(b"150000000", b"150000001"))
        result = check(read_side)
    assert (result.ok, result.first_bad_position) == (False, last)


def test_a_deleted_event_is_named_at_its_position(app: BookOfBusiness, database_url: str,
                                                  backend: str) -> None:
    """A row removed from the middle of history: the first position that no longer
    matches is the removed one (not the one after it)."""
    target = history(app)["second_balance"]
    with projector(app) as read_side:
        assert check(read_side).ok
        delete(app, database_url, backend, target)
        result = check(read_side)
    assert result.ok is False
    assert result.first_bad_position == target
    assert result.checked == target - 1


def test_a_deleted_last_event_is_named(app: BookOfBusiness, database_url: str,
                                       backend: str) -> None:
    last = history(app)["last"]
    with projector(app) as read_side:
        assert check(read_side).ok
        delete(app, database_url, backend, last)
        result = verify(serving_audit(read_side))
    assert (result.ok, result.first_bad_position) == (False, last)


def test_events_not_yet_hashed_are_not_a_failure(app: BookOfBusiness) -> None:
    """Verification covers what the audit projection has hashed; newer events wait."""
    history(app)
    with projector(app) as read_side:
        seen = check(read_side).checked
        register(app, "M3")  # not projected yet
        result = verify(serving_audit(read_side))
    assert result.as_dict() == {"ok": True, "checked": seen, "first_bad_position": None}
