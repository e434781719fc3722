"""SQLite WAL checkpoints in a background thread, off the path of an acknowledged write.

In WAL mode a commit appends the changed pages to the write-ahead log and, at
`synchronous=FULL`, fsyncs it: from then on the write survives a power cut.
By default the connection that commits also *checkpoints* whenever the log
holds more than 1,000 pages — copies them into the database file and fsyncs
that too — before its commit returns. A night's balance feed touches one
index leaf per customer (stream ids are random), so its commit carries tens of
megabytes of pages, and the checkpoint doubled the time a feed waited for its
acknowledgement (measured: commit 98 ms with it, 31 ms without; the
checkpoint 55–80 ms on its own).

This process's connections therefore never checkpoint (`wal_autocheckpoint=0`:
the event store's on every write transaction, the views' when they connect),
and a thread of this module runs a PASSIVE checkpoint once enough has been
written: the same work, the same durability
(the log is fsynced at every commit, and SQLite replays it after a crash),
overlapped with whatever the process does next. PASSIVE never blocks readers
or writers; a checkpoint that readers cut short is finished by the next one.
A long catch-up of the views asks for one after each of its large commits
(projections/db.py).

A PASSIVE checkpoint alone does not keep the log small. SQLite rewinds the log
to its start only when a writer finds every frame copied and no reader in the
log; a checkpoint that runs beside writers is never complete, and the log
grows without end (measured: 173 MB after 50 nights of 3,000 rows, and a
bank-scale year's feed slowed by half in its last third — every page read
searches the log's index, one hash table per 4,096 frames). So once the log
holds RESTART_FRAMES or more, the thread follows with a RESTART checkpoint:
it waits briefly for the writer and readers, copies the few frames the
PASSIVE one could not, and lets the next writer begin the log afresh. A
writer that arrives meanwhile waits for it, as it would have waited for its
own checkpoint; this happens once per RESTART_FRAMES, not at every commit.
See ADR 0015.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from urllib.parse import quote

log = logging.getLogger(__name__)

# SQLite's own trigger is 1,000 pages of log; one event writes about one page of the
# table and one of the index, and a command's commit a handful of pages whatever its size.
EVENTS_PER_CHECKPOINT = 1_000
COMMITS_PER_CHECKPOINT = 250
# Log frames (pages, 4 KiB each) at which the thread also rewinds the log: 64 MiB.
RESTART_FRAMES = 16_384
# How long a RESTART may wait for the writer and readers before it gives up for this round.
RESTART_WAIT_MS = 2_000


class BackgroundCheckpoints:
    """One per database file and process (`for_file`): counts what its writers committed,
    checkpoints when it is enough."""

    @classmethod
    def for_file(cls, path: str) -> BackgroundCheckpoints | None:
        """The file's shared instance; None for an in-memory database (no log to check)."""
        if not path or ":memory:" in path or "mode=memory" in path:
            return None
        with _files_lock:
            found = _files.get(path)
            if found is None:
                found = _files[path] = cls(path)
            return found

    def __init__(self, path: str, restart_frames: int = RESTART_FRAMES) -> None:
        self.restart_frames = restart_frames
        self.uri = path if path.startswith("file:") else f"file:{quote(path)}?mode=rw"
        self._lock = threading.Lock()
        self._events = 0
        self._commits = 0
        self._wanted = False
        self._running: threading.Thread | None = None
        self.completed = 0  # checkpoints run (for tests and diagnostics)
        self.restarts = 0  # of them, the log rewound

    def written(self, events: int) -> None:
        """A write transaction of `events` events committed."""
        with self._lock:
            self._events += events
            self._commits += 1
            if self._events < EVENTS_PER_CHECKPOINT and self._commits < COMMITS_PER_CHECKPOINT:
                return
            self._events = self._commits = 0
            self._wanted = True
            if self._running is not None:
                return  # the running thread sees `_wanted` and goes round again
            self._running = thread = threading.Thread(
                target=self._run, name="rmbook-checkpoint", daemon=True)
        thread.start()

    def request(self) -> None:
        """Checkpoint now, whatever the count (a long catch-up's large commit)."""
        with self._lock:
            self._events = EVENTS_PER_CHECKPOINT
        self.written(0)

    def wait(self, timeout: float | None = None) -> None:
        """Until no checkpoint is running (tests; a clean shutdown)."""
        with self._lock:
            thread = self._running
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        rewound_at = -1
        try:
            while True:
                with self._lock:
                    if not self._wanted:
                        self._running = None
                        return
                    self._wanted = False
                if conn is None:
                    # mode=rw: never create a file (a store removed meanwhile stays removed)
                    conn = sqlite3.connect(self.uri, uri=True, timeout=30,
                                           isolation_level=None, check_same_thread=False)
                _, log_frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                # (A log just rewound still reports its old length until a writer comes.)
                if log_frames >= self.restart_frames and log_frames != rewound_at:
                    conn.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
                    busy, frames, _ = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                    conn.execute("PRAGMA busy_timeout=30000")
                    # Busy: a reader or writer outlasted the wait; the next round tries again.
                    if not busy:
                        rewound_at = frames
                        self.restarts += 1
                self.completed += 1
        except sqlite3.Error as e:
            # The next commit asks again; until then the log only grows, as it would
            # with readers holding it.
            log.warning("background WAL checkpoint failed: %s", e)
            with self._lock:
                self._running = None
        finally:
            if conn is not None:
                conn.close()


_files: dict[str, BackgroundCheckpoints] = {}
_files_lock = threading.Lock()
