"""The views' connection reads the same rows, in the same Python types, on both backends."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from application.settings import Settings
from projections.db import ViewDatabase


@pytest.fixture
def db(database_url: str) -> Iterator[ViewDatabase]:
    views = ViewDatabase(Settings(database_url=database_url))
    views.execute(f"CREATE TABLE docs (no TEXT PRIMARY KEY, day TEXT NOT NULL, "
                  f"amount {views.bigint} NOT NULL, doc {views.blob} NOT NULL)")
    with views.transaction():
        views.executemany("INSERT INTO docs (no, day, amount, doc) VALUES (?, ?, ?, ?)",
                          [(f"C{i:05d}", f"2025-01-{1 + i % 28:02d}", i * 1_000_000_007,
                            b'{"no": %d, "bytes": "\x00\xff"}' % i) for i in range(1_200)])
    yield views
    views.close()


def test_keys_beyond_one_statements_share_are_all_read_with_the_params_after_them(
        db: ViewDatabase) -> None:
    # 1,100 keys: more than SQLite's chunk of 500, and some that no row has
    keys = [f"C{i:05d}" for i in range(0, 2_200, 2)]
    rows = db.fetch_in("SELECT no, day FROM docs WHERE no IN ({in}) AND day <= ? ORDER BY no",
                       keys, "2025-01-10")
    expected = [(f"C{i:05d}", f"2025-01-{1 + i % 28:02d}") for i in range(0, 1_200, 2)
                if 1 + i % 28 <= 10]
    assert sorted(tuple(r) for r in rows) == expected


def test_no_keys_read_nothing(db: ViewDatabase) -> None:
    assert db.fetch_in("SELECT no FROM docs WHERE no IN ({in})", []) == []


def test_a_statement_without_a_place_for_the_keys_is_refused(db: ViewDatabase) -> None:
    with pytest.raises(ValueError, match="IN"):
        db.fetch_in("SELECT no FROM docs WHERE no = ?", ["C00001"])


def test_documents_and_numbers_come_back_as_stored(db: ViewDatabase) -> None:
    # PostgreSQL's rows travel in binary: bytes stay bytes, big integers stay int
    no, day, amount, doc = db.fetchone("SELECT no, day, amount, doc FROM docs WHERE no = ?",
                                       ("C01199",))
    assert (no, day, amount) == ("C01199", "2025-01-24", 1199 * 1_000_000_007)
    assert bytes(doc) == b'{"no": 1199, "bytes": "\x00\xff"}'
    assert isinstance(doc, bytes)
    if db.backend == "postgres":
        from psycopg.pq import Format
        assert db.execute("SELECT doc FROM docs LIMIT 1").format == Format.BINARY
    assert db.fetchone("SELECT COUNT(*), MAX(day) FROM docs")[0:2] == (1_200, "2025-01-28")


def test_a_statement_meeting_a_key_held_is_undone_and_its_fallback_run_in_the_transaction(
        db: ViewDatabase) -> None:
    insert = "INSERT INTO docs (no, day, amount, doc) VALUES (?, ?, 1, ?), (?, ?, 1, ?) " \
             "RETURNING no"
    upsert = insert.replace("RETURNING", "ON CONFLICT (no) DO UPDATE SET amount = 2 RETURNING")
    with db.transaction():
        db.execute("UPDATE docs SET amount = 0 WHERE no = ?", ("C00000",))  # before: kept
        rows, fell_back = db.fetchall_or_else(
            insert, upsert, ("N00001", "2025-02-01", b"{}", "C00001", "2025-02-01", b"{}"))
        assert fell_back and sorted(r[0] for r in rows) == ["C00001", "N00001"]
        rows, fell_back = db.fetchall_or_else(
            insert, upsert, ("N00002", "2025-02-01", b"{}", "N00003", "2025-02-01", b"{}"))
        assert not fell_back and sorted(r[0] for r in rows) == ["N00002", "N00003"]
    amounts = dict(db.fetchall("SELECT no, amount FROM docs WHERE no IN "
                               "('C00000', 'C00001', 'N00001', 'N00002', 'N00003')"))
    # N00001, written before the failed insert met C00001, was undone: the upsert found no
    # such key (2 if it had). Everything else committed with the transaction.
    assert amounts == {"C00000": 0, "C00001": 2, "N00001": 1, "N00002": 1, "N00003": 1}


def test_a_statement_failing_otherwise_is_not_retried(db: ViewDatabase) -> None:
    with pytest.raises(Exception, match=r"(?i)null"), db.transaction():
        db.fetchall_or_else("INSERT INTO docs (no, day, amount, doc) VALUES ('X', NULL, 1, ?) "
                            "RETURNING no", "SELECT 1", (b"{}",))


def test_statements_read_together_see_one_snapshot_though_a_write_commits_between_them(
        db: ViewDatabase, database_url: str) -> None:
    # The first statement pauses; meanwhile another connection adds a row and commits.
    # The second statement must not see it: a customer's document and balances are read
    # as of one moment. (READ COMMITTED, or one transaction per statement, would.)
    if db.backend == "sqlite":
        db.connection().create_function("pg_sleep", 1, time.sleep)
    writer = ViewDatabase(Settings(database_url=database_url))
    connected = threading.Event()
    committed_at: list[float] = []

    def write_meanwhile() -> None:
        writer.connection()
        connected.set()
        time.sleep(0.1)
        with writer.transaction():
            writer.execute("INSERT INTO docs (no, day, amount, doc) VALUES (?, ?, 1, ?)",
                           ("N00001", "2025-02-01", b"{}"))
        committed_at.append(time.monotonic())

    thread = threading.Thread(target=write_meanwhile)
    thread.start()
    try:
        assert connected.wait(10)
        first, second, rows = db.fetch_together(
            ("SELECT COUNT(*), pg_sleep(0.6) FROM docs", ()),
            ("SELECT COUNT(*) FROM docs", ()),
            ("SELECT no, amount FROM docs WHERE no = ? OR no = ?", ("C00002", "N00001")))
        returned_at = time.monotonic()
    finally:
        thread.join()
        writer.close()
    # the write did commit while the statements were being read, or the test shows nothing
    assert committed_at and committed_at[0] < returned_at
    assert first[0][0] == second[0][0] == 1_200
    assert [tuple(r) for r in rows] == [("C00002", 2 * 1_000_000_007)]
    assert db.fetchone("SELECT COUNT(*) FROM docs")[0] == 1_201
    if db.backend == "sqlite":
        assert not db.connection().in_transaction  # the read transaction ended


def test_statements_read_together_inside_a_transaction_see_its_writes(db: ViewDatabase) -> None:
    with db.transaction():
        db.execute("UPDATE docs SET amount = 0 WHERE no = ?", ("C00003",))
        [[(amount,)], [(count,)]] = db.fetch_together(
            ("SELECT amount FROM docs WHERE no = ?", ("C00003",)),
            ("SELECT COUNT(*) FROM docs", ()))
        db.execute("UPDATE docs SET amount = 1 WHERE no = ?", ("C00004",))  # still open
    assert (amount, count) == (0, 1_200)
    assert db.fetchone("SELECT amount FROM docs WHERE no = ?", ("C00004",))[0] == 1


def test_a_statement_failing_among_those_read_together_leaves_the_connection_usable(
        db: ViewDatabase) -> None:
    with pytest.raises(Exception, match=r"(?i)no_such_table"):
        db.fetch_together(("SELECT COUNT(*) FROM docs", ()),
                          ("SELECT * FROM no_such_table", ()))
    # the read transaction it opened is ended, not left aborted (or open) on the connection
    assert db.fetchone("SELECT COUNT(*) FROM docs")[0] == 1_200
    with db.transaction():
        db.execute("UPDATE docs SET amount = 7 WHERE no = ?", ("C00005",))
    assert db.fetchone("SELECT amount FROM docs WHERE no = ?", ("C00005",))[0] == 7


def test_reads_in_a_snapshot_do_not_see_a_write_committed_meanwhile(
        db: ViewDatabase, database_url: str) -> None:
    writer = ViewDatabase(Settings(database_url=database_url))
    try:
        with db.snapshot():
            before = db.fetchone("SELECT COUNT(*) FROM docs")[0]
            with writer.transaction():
                writer.execute("INSERT INTO docs (no, day, amount, doc) VALUES (?, ?, 1, ?)",
                               ("N00001", "2025-02-01", b"{}"))
            during = db.fetchone("SELECT COUNT(*) FROM docs")[0]
            inside = db.fetch_together(("SELECT COUNT(*) FROM docs", ()))[0][0][0]
    finally:
        writer.close()
    assert before == during == inside == 1_200
    assert db.fetchone("SELECT COUNT(*) FROM docs")[0] == 1_201  # seen once it has ended


def test_a_snapshot_ended_by_an_error_leaves_the_connection_usable(db: ViewDatabase) -> None:
    with pytest.raises(Exception, match=r"(?i)no_such_table"), db.snapshot():
        db.fetchone("SELECT * FROM no_such_table")
    with db.transaction():
        db.execute("UPDATE docs SET amount = 8 WHERE no = ?", ("C00006",))
    assert db.fetchone("SELECT amount FROM docs WHERE no = ?", ("C00006",))[0] == 8
