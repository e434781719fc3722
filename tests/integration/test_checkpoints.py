"""SQLite WAL checkpoints run in the background, not in the writer's commit (ADR 0015)."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest

from application.checkpoints import EVENTS_PER_CHECKPOINT, BackgroundCheckpoints
from application.service import BookOfBusiness
from tests.projection_support import onboard

pytestmark = pytest.mark.integration


def wal_database(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, pad BLOB)")
    return conn


def test_pages_reach_the_database_file_only_through_the_background_checkpoint(
        tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    conn = wal_database(path)
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(n, os.urandom(200)) for n in range(5000)])
    conn.execute("COMMIT")
    before = path.stat().st_size
    checkpoints = BackgroundCheckpoints(str(path))
    checkpoints.written(EVENTS_PER_CHECKPOINT - 1)
    checkpoints.wait(10)
    assert (checkpoints.completed, path.stat().st_size) == (0, before)  # not enough yet
    checkpoints.written(1)
    checkpoints.wait(10)
    assert checkpoints.completed == 1
    assert path.stat().st_size > before + 5000 * 200  # the rows are in the file now
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 5000
    conn.close()


def test_a_removed_store_is_not_recreated(tmp_path: Path) -> None:
    checkpoints = BackgroundCheckpoints(str(tmp_path / "gone.db"))
    checkpoints.written(EVENTS_PER_CHECKPOINT)
    checkpoints.wait(10)
    assert checkpoints.completed == 0
    assert not (tmp_path / "gone.db").exists()


def test_the_event_store_never_checkpoints_in_its_commit(
        make_app: Callable[..., BookOfBusiness], backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("a SQLite matter: PostgreSQL has no WAL checkpoints in its commits")
    app = make_app()
    start = date(2020, 1, 1)
    onboard(app, "A", on=start)
    lines = ["customer_no,on,deposit,loan"] + [
        f"A,{start + timedelta(days=d)},{d}.00,0.00" for d in range(EVENTS_PER_CHECKPOINT)]
    report = app.import_balances("\n".join(lines) + "\n")
    assert report.recorded == EVENTS_PER_CHECKPOINT
    checkpoints = app.recorder.checkpoints
    checkpoints.wait(10)
    assert checkpoints.completed >= 1
    with app.recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone()[0] == 0
    assert len(app.customer("A").balances) == EVENTS_PER_CHECKPOINT


def test_the_log_is_rewound_while_writers_keep_writing(tmp_path: Path) -> None:
    """A PASSIVE checkpoint beside a busy writer never completes, and SQLite rewinds the
    log only when one has: without the RESTART the log grew with every night."""
    path = tmp_path / "store.db"
    conn = wal_database(path)
    checkpoints = BackgroundCheckpoints(str(path), restart_frames=400)
    written = 0
    for night in range(60):
        conn.execute("BEGIN")
        rows = [(night * 10_000 + n * 7919 % 10_000, os.urandom(300)) for n in range(300)]
        conn.executemany("INSERT INTO t VALUES (?, ?)", rows)
        conn.execute("COMMIT")
        written += len(rows)
        checkpoints.written(len(rows))
        for n in range(20):  # the day's commands, while the night's checkpoint runs
            conn.execute("INSERT INTO t VALUES (?, ?)", (-(night * 100 + n) - 1, b"c"))
        # The next night parsed and decided: a pause the RESTART's busy handler can find
        # on a loaded machine too (at 2 ms it missed them beside a parallel test run).
        time.sleep(0.02)
    checkpoints.wait(10)
    wal_pages = (path.with_name("store.db-wal").stat().st_size - 32) // (4096 + 24)
    assert checkpoints.restarts >= 1
    # The 60 nights wrote ~60 × 90 pages of rows alone; the log holds a few nights of them.
    assert wal_pages < 1_500, wal_pages  # ~500 with the RESTART, ~3,500 without (measured)
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == written + 60 * 20
    conn.close()
