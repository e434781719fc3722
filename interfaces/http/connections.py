"""Close the read side's per-thread connections when their thread ends.

`ViewDatabase` keeps one connection per thread and closes them all only at
shutdown. The server's thread pool (anyio) retires threads idle for 10 s and
starts new ones on the next burst, so each burst would leave its connections
open for good: on PostgreSQL, until `max_connections` runs out. Until
`ViewDatabase` prunes them itself (see the report), this wraps its
`connection()` so that whenever a thread opens a new connection, those of
finished threads are closed and forgotten.
"""

from __future__ import annotations

import threading
from typing import Any

from projections.db import ViewDatabase


def close_with_their_threads(db: ViewDatabase) -> None:
    owners: dict[threading.Thread, Any] = {}
    lock = threading.Lock()
    opened = db.connection

    def connection() -> Any:
        conn = opened()
        thread = threading.current_thread()
        if owners.get(thread) is not conn:  # a new connection: a good moment to prune
            with lock:
                owners[thread] = conn
                for gone in [t for t in owners if not t.is_alive()]:
                    _forget(db, owners.pop(gone))
        return conn

    db.connection = connection  # type: ignore[method-assign]


def _forget(db: ViewDatabase, conn: Any) -> None:
    try:
        conn.close()
    finally:
        # ViewDatabase.close() closes what this list holds; drop the closed one from it.
        with db._all_lock:
            if conn in db._all:
                db._all.remove(conn)
