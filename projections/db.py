"""The read side's own connection to the same database as the events.

Views live next to the events (same SQLite file or PostgreSQL database and
schema) so a view update and its tracked position commit in one transaction.
SQL is written once with `?` placeholders and adapted for psycopg.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from operator import itemgetter
from typing import Any

from application.checkpoints import BackgroundCheckpoints
from application.key_lists import chunks
from application.settings import Settings, postgres_connection
from projections.waiting import BUSY_WAIT_MS, WouldWait, must_not_wait

LOCK_TIMEOUT_SECONDS = 30  # how long a view writer waits for SQLite's write lock
COPY_FROM = 200  # rows: below this, PostgreSQL's executemany beats a COPY round trip


def _use_wal(conn: sqlite3.Connection, attempts: int = 50) -> None:
    """WAL mode (it persists in the file, so usually there is nothing to do). Switching
    takes an exclusive lock without waiting on the busy timeout, so threads opening a new
    file together could fail with "database is locked" (1 start in 10, measured): retry."""
    for attempt in range(attempts):
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or attempt == attempts - 1:
                raise
            time.sleep(0.01 * (attempt + 1))


# READ COMMITTED would give each statement of the transaction a snapshot of its own.
BEGIN_SNAPSHOT = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"


def _idle(conn: Any) -> bool:
    """Whether a PostgreSQL connection is outside any transaction (then a snapshot is ours
    to open and end; inside the caller's, it is the caller's)."""
    from psycopg.pq import TransactionStatus

    return bool(conn.info.transaction_status == TransactionStatus.IDLE)


def _end_failed(conn: Any) -> None:
    """Roll back a snapshot that a failure left open or aborted: else every later statement
    of this thread's connection fails (or runs read-only in the old snapshot). Quietly:
    the failure's own error is the one to report."""
    import psycopg
    from psycopg.pq import TransactionStatus

    if conn.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
        with suppress(psycopg.Error):
            conn.execute("ROLLBACK")


class ViewDatabase:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.backend = settings.backend
        env = settings.eventsourcing_env()
        self._env = env
        # One connection per thread: API handlers run in a thread pool, and neither
        # sqlite3 nor psycopg connections may be used by two threads at once.
        self._local = threading.local()
        self._all: list[Any] = []
        self._owners: dict[threading.Thread, Any] = {}
        self._all_lock = threading.Lock()
        self.schema = env.get("POSTGRES_SCHEMA") or "public"
        self._checkpoints = BackgroundCheckpoints.for_file(env.get("SQLITE_DBNAME", "")) \
            if self.backend == "sqlite" else None

    # ---- connection ----------------------------------------------------------

    def connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(conn, "closed", False):
            conn = self._local.conn = self._connect()
            with self._all_lock:
                self._all.append(conn)
                self._owners[threading.current_thread()] = conn
                # Thread pools retire idle threads; close what finished threads left open,
                # or a long-running server leaks a connection per retired thread.
                for gone in [t for t in self._owners if not t.is_alive()]:
                    self._discard(gone)
        return conn

    def _discard(self, thread: threading.Thread) -> None:
        """Close `thread`'s connection and forget it (the caller holds `_all_lock`)."""
        conn = self._owners.pop(thread, None)
        if conn is None:
            return
        if conn in self._all:
            self._all.remove(conn)
        conn.close()

    def _connect(self) -> Any:
        env = self._env
        if self.backend == "sqlite":
            conn: Any = sqlite3.connect(env["SQLITE_DBNAME"], timeout=LOCK_TIMEOUT_SECONDS,
                                        isolation_level=None, check_same_thread=False)
            _use_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            if self._checkpoints is not None:  # checkpoints run in the background (ADR 0015)
                conn.execute("PRAGMA wal_autocheckpoint=0")
            return conn
        return postgres_connection(self.settings)

    def release(self) -> None:
        """Close the calling thread's connection (a helper thread about to end), rather
        than leave it open until another thread connects."""
        with self._all_lock:
            self._discard(threading.current_thread())
        self._local.conn = None

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
            self._owners.clear()
        self._local = threading.local()

    def _sql(self, statement: str) -> str:
        return statement if self.backend == "sqlite" else statement.replace("?", "%s")

    # ---- statements ------------------------------------------------------------

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Any:
        if self.backend == "sqlite":
            return self.connection().execute(statement, params)
        # Rows in binary: in text, a BYTEA document travels hex-encoded at twice its size
        # and is decoded back in Python (a manager's book of 120 customers: 1.4 → 0.9 ms).
        return self.connection().cursor(binary=True).execute(self._sql(statement), params)

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        conn = self.connection()
        if self.backend == "sqlite":
            conn.executemany(statement, rows)
        else:
            with conn.cursor() as cur:
                cur.executemany(self._sql(statement), rows)

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], *,
                    key: Sequence[str] = (), update: Sequence[str] = ()) -> None:
        """Write many rows set-wise. With `key`, a row whose key exists is skipped or, for
        the `update` columns, overwritten. Rows of one batch must have distinct keys, or
        equal rows for a key: sorted by key, which of two differing rows comes first is
        not defined.

        Rows go in key order. A long catch-up's batch arrives in event order (a day of
        balances across every customer); written in that order every insert touches a
        different leaf of the key's B-tree, and on PostgreSQL a customer's year of
        balances is spread over ~150 heap pages instead of ~15. Measured on 3 million
        balances in batches of 200,000: loaded in 8.0 s instead of 11.1 (SQLite), and a
        customer's year read in 0.4 ms instead of 1.0 (PostgreSQL; docs/performance.md).

        SQLite: one `executemany`. PostgreSQL: a large batch is copied (binary COPY) into
        a temporary table and merged with one INSERT … SELECT — a round trip per batch
        instead of one per row; a small one goes by `executemany`."""
        if not rows:
            return
        names = ", ".join(columns)
        conflict = order = ""
        if key:
            action = ("DO UPDATE SET " + ", ".join(f"{c}=excluded.{c}" for c in update)
                      if update else "DO NOTHING")
            conflict = f" ON CONFLICT ({', '.join(key)}) {action}"
            order = f" ORDER BY {', '.join(key)}"
        if self.backend == "sqlite" or len(rows) < COPY_FROM:
            if key:  # by the key alone: other columns may hold values that do not compare
                rows = sorted(rows, key=itemgetter(*(columns.index(k) for k in key)))
            marks = ", ".join("?" * len(columns))
            self.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks}){conflict}", rows)
            return
        conn = self.connection()
        staging = f"staging_{table}"
        if staging not in self._staged(conn):
            conn.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} "
                         f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
            self._staged(conn).add(staging)
        with conn.transaction(), conn.cursor() as cur:
            with cur.copy(f"COPY {staging} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            # sorted by PostgreSQL, on its own core
            cur.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {staging}"
                        f"{order}{conflict}")
            cur.execute(f"DELETE FROM {staging}")

    def _staged(self, conn: Any) -> set[str]:
        found: set[str] | None = getattr(conn, "rmbook_staged", None)
        if found is None:
            found = set()
            conn.rmbook_staged = found
        return found

    def fetchall(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        return list(self.execute(statement, params).fetchall())

    def fetchone(self, statement: str, params: Sequence[Any] = ()) -> Any:
        return self.execute(statement, params).fetchone()

    def fetch_together(self, *queries: tuple[str, Sequence[Any]]) -> list[list[Any]]:
        """The rows of each statement, all read in one snapshot. PostgreSQL: sent in one
        pipeline, one round trip instead of one each (a customer's year of attribution on
        the small store: 0.74 → 0.57 ms; ADR 0029), inside a REPEATABLE READ transaction, since
        READ COMMITTED would give each statement its own snapshot. SQLite: a read
        transaction. Inside a caller's open transaction they run in it, at its isolation:
        on PostgreSQL (READ COMMITTED) that is not one snapshot (ADR 0029)."""
        if self.backend == "sqlite":
            with self.snapshot():
                return [self.fetchall(s, p) for s, p in queries]
        conn = self.connection()
        opened = _idle(conn)
        cursors = []
        try:
            with conn.pipeline():  # one round trip: BEGIN, the statements, COMMIT
                if opened:
                    conn.execute(BEGIN_SNAPSHOT)
                for statement, params in queries:
                    cursor = conn.cursor(binary=True)
                    cursor.execute(self._sql(statement), params)
                    cursors.append(cursor)
                if opened:
                    conn.execute("COMMIT")
        except BaseException:
            if opened:  # a failed statement skipped the COMMIT
                _end_failed(conn)
            raise
        return [list(cursor.fetchall()) for cursor in cursors]

    def fetch_in(self, statement: str, keys: Sequence[Any], *params: Any) -> list[Any]:
        """Rows of `statement` for many keys: its `IN ({in})` stands for the key list,
        bound before `params`. SQLite: the placeholders of up to `CHUNK` keys at a time
        (application/key_lists.py). PostgreSQL: one `= ANY(?)` over an array, a statement of one
        shape however many keys, so it is parsed and planned once, not once per length."""
        if "IN ({in})" not in statement:
            raise ValueError(f"no 'IN ({{in}})' for the keys in: {statement}")
        if not keys:
            return []
        if self.backend != "sqlite":
            return self.fetchall(statement.replace("IN ({in})", "= ANY(?)"),
                                 [list(keys), *params])
        rows: list[Any] = []
        for chunk in chunks(keys):
            rows += self.fetchall(statement.replace("{in}", ",".join("?" * len(chunk))),
                                  [*chunk, *params])
        return rows

    def fetchall_or_else(self, statement: str, fallback: str,
                         params: Sequence[Any] = ()) -> tuple[list[Any], bool]:
        """`statement`'s rows; should it meet a key already present, its writes are undone
        and `fallback`'s rows returned instead, with True. Inside a transaction: a failed
        statement would end it on PostgreSQL, so it runs in a savepoint there."""
        if self.backend == "sqlite":
            try:
                # SQLite undoes a failed statement alone and the transaction goes on.
                return self.fetchall(statement, params), False
            except sqlite3.IntegrityError as e:
                if "UNIQUE" not in str(e):
                    raise
                return self.fetchall(fallback, params), True
        import psycopg.errors

        try:
            with self.connection().transaction():  # a savepoint: inside the caller's
                return self.fetchall(statement, params), False
        except psycopg.errors.UniqueViolation:
            return self.fetchall(fallback, params), True

    def has_primary_key(self, table: str) -> bool:
        """Whether `table` has its primary key (SQLite: always; its views are made with it)."""
        if self.backend == "sqlite":
            return True
        row = self.fetchone("SELECT EXISTS (SELECT 1 FROM pg_index WHERE "
                            "indrelid = to_regclass(?) AND indisprimary)", (table,))
        return bool(row[0])

    def add_primary_key(self, table: str, columns: Sequence[str]) -> bool:
        """PostgreSQL: give `table` its primary key on `columns`, the index built in one
        sort; False, and nothing changed, if two rows share a key. Inside the caller's
        transaction, in a savepoint."""
        import psycopg.errors

        try:
            with self.connection().transaction():
                self.execute(f"ALTER TABLE {table} ADD PRIMARY KEY ({', '.join(columns)})")
            return True
        except psycopg.errors.UniqueViolation:
            return False

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see the views as of one moment: a report over many customers never
        pairs a document from before a catch-up's commit with balances from after it.
        PostgreSQL: a REPEATABLE READ READ ONLY transaction; SQLite: a read transaction
        (under WAL it blocks no writer). Inside a caller's open transaction: that one, at
        its isolation (ADR 0029)."""
        conn = self.connection()
        if self.backend == "sqlite":
            if conn.in_transaction:
                yield
                return
            conn.execute("BEGIN")
            try:
                yield
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")
            return
        if not _idle(conn):
            yield
            return
        conn.execute(BEGIN_SNAPSHOT)
        try:
            yield
        except BaseException:
            _end_failed(conn)
            raise
        conn.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction: views and tracking position commit together or not at all."""
        conn = self.connection()
        if self.backend == "sqlite":
            self._begin_immediate(conn)
            try:
                yield
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            try:
                conn.execute("COMMIT")
            except BaseException:
                # A failed COMMIT (disk full, I/O error) may leave the transaction open, and
                # this thread's connection would refuse every later BEGIN: end it here.
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            if self._checkpoints is not None:
                if getattr(self._local, "large", False):
                    self._checkpoints.request()  # a long catch-up's commit: thousands of pages
                else:
                    self._checkpoints.written(0)
        else:
            with conn.transaction():
                yield

    @staticmethod
    def _begin_immediate(conn: Any) -> None:
        """Take SQLite's write lock; a reader that must not wait gives up after moments."""
        if not must_not_wait():
            conn.execute("BEGIN IMMEDIATE")
            return
        conn.execute(f"PRAGMA busy_timeout={BUSY_WAIT_MS}")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            raise WouldWait(f"the store is being written ({e})") from e
        finally:
            conn.execute(f"PRAGMA busy_timeout={LOCK_TIMEOUT_SECONDS * 1000}")  # as connected

    @contextmanager
    def large_page_cache(self, mib: int) -> Iterator[None]:
        """SQLite: this thread's connection keeps up to `mib` MiB of pages while inside (a
        long catch-up writing all over large B-trees), then goes back to its default, which
        frees them; each of its large commits asks for a background WAL checkpoint
        (application/checkpoints.py). PostgreSQL caches on the server: nothing to do."""
        if self.backend != "sqlite":
            yield
            return
        conn = self.connection()
        previous = int(conn.execute("PRAGMA cache_size").fetchone()[0])
        conn.execute(f"PRAGMA cache_size=-{mib * 1024}")
        self._local.large = True
        try:
            yield
        finally:
            conn.execute(f"PRAGMA cache_size={previous}")
            self._local.large = False

    def table_exists(self, name: str) -> bool:
        if self.backend == "sqlite":
            row = self.fetchone("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                                (name,))
        else:
            row = self.fetchone("SELECT 1 FROM information_schema.tables WHERE table_schema=? "
                                "AND table_name=?", (self.schema, name))
        return row is not None

    @property
    def blob(self) -> str:
        return "BLOB" if self.backend == "sqlite" else "BYTEA"

    @property
    def text(self) -> str:
        """Text compared byte by byte on both backends: SQLite's BINARY, PostgreSQL's "C".
        The views' text is identifiers and ISO dates, which sort the same either way; a
        locale's collation (even C.UTF-8 before PostgreSQL 17) is called per comparison
        and has no abbreviated sort keys. Measured on 3 million balances: sorted in 1.8 s
        instead of 2.8, upserted with the key's B-tree in 11.0–11.3 s instead of 13.0
        (docs/performance.md)."""
        return "TEXT" if self.backend == "sqlite" else 'TEXT COLLATE "C"'

    @property
    def clustered(self) -> str:
        """Table option: rows stored in primary-key order (SQLite; PostgreSQL has no such)."""
        return " WITHOUT ROWID" if self.backend == "sqlite" else ""

    @property
    def bigint(self) -> str:
        return "INTEGER" if self.backend == "sqlite" else "BIGINT"
