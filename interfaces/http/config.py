"""Settings of the HTTP layer, in one place (the store's own settings are application.Settings).

Read from the environment once, at start-up:

| variable | meaning | default |
|---|---|---|
| `RMBOOK_AUTH_FILE` | TOML file of principals (API.md, Auth) | required |
| `RMBOOK_PROJECT_IN_PROCESS` | `1`: project in this process; `0`: leave it to workers | SQLite 1, PG 0 |
| `RMBOOK_READS_CATCH_UP` | `1`: a lagging read catches projections up itself; `0`: workers only | `1` |
| `RMBOOK_MIN_POSITION_TIMEOUT` | seconds a read waits for `min_position`, then 503 | `5` |
| `RMBOOK_READY_MAX_LAG` | events projections may trail the store and still be ready | `0` |
| `RMBOOK_HTTP_THREADS` | threads running requests (each may hold a store and a view connection) | `16` |
| `RMBOOK_HTTP_ON_LOOP` | `1`: short reads and writes on the event loop; `0`: threads | SQLite 1, PG 0 |
| `RMBOOK_HTTP_READ_THREADS` | threads of the lane that runs reads of the views, when not on the loop | `2` |
| `RMBOOK_HTTP_WORKERS` | processes of `rmbook serve` (`--workers` wins) | SQLite 1, PG cores, at most 2 |
| `RMBOOK_HTTP_SPREAD_CONNECTIONS` | `1`: a process over its share of connections closes one | `1` |
| `RMBOOK_MAX_BODY_BYTES` | request body limit, except the balance feed | 1 MiB |
| `RMBOOK_MAX_IMPORT_BYTES` | request body limit of `POST /v1/balances/import` | 10 MiB |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024
MAX_DEFAULT_WORKERS = 2


class HttpSettingsError(ValueError):
    pass


@dataclass(frozen=True)
class HttpSettings:
    auth_file: Path | None = None
    # None: decided by the backend (see `projects_in_process`).
    project_in_process: bool | None = None
    min_position_timeout: float = 5.0
    ready_max_lag: int = 0
    # Requests run in a thread pool; each thread may hold a view connection and take one
    # from the store's pool, so this bounds the connections a process opens.
    threads: int = 16
    # None: decided by the backend (see `serves_on_loop`).
    on_loop: bool | None = None
    # Reads of the views queue for a lane this wide: more threads only fight over the GIL.
    read_threads: int = 2
    # None: decided by the backend and the cores (see `workers_for`).
    workers: int | None = None
    # Several processes keep their shares of the open connections even (ADR 0025).
    spread_connections: bool = True
    max_body_bytes: int = MIB
    max_import_bytes: int = 10 * MIB
    projection_poll: float = 0.2
    # A read that finds projections behind catches them up itself, so a slow or dead
    # worker never stalls reads; beside workers this is safe, because a batch is applied
    # only by whoever advances the tracked position first (the other rolls back).
    reads_catch_up: bool = True
    # How long a repeat waits for the first request with the same Idempotency-Key to finish.
    idempotency_wait: float = 5.0

    def __post_init__(self) -> None:
        if self.threads < 1 or self.read_threads < 1 or (self.workers is not None
                                                             and self.workers < 1):
            raise HttpSettingsError("RMBOOK_HTTP_THREADS, RMBOOK_HTTP_READ_THREADS and "
                                    "RMBOOK_HTTP_WORKERS must be at least 1")

    @staticmethod
    def from_env(environ: Mapping[str, str] | None = None) -> HttpSettings:
        env = os.environ if environ is None else environ
        in_process = env.get("RMBOOK_PROJECT_IN_PROCESS")
        on_loop = env.get("RMBOOK_HTTP_ON_LOOP")
        workers = env.get("RMBOOK_HTTP_WORKERS")
        try:
            return HttpSettings(
                auth_file=Path(env["RMBOOK_AUTH_FILE"]) if env.get("RMBOOK_AUTH_FILE") else None,
                project_in_process=None if in_process in (None, "") else _flag(in_process),
                min_position_timeout=float(env.get("RMBOOK_MIN_POSITION_TIMEOUT", "5")),
                ready_max_lag=int(env.get("RMBOOK_READY_MAX_LAG", "0")),
                threads=int(env.get("RMBOOK_HTTP_THREADS", "16")),
                on_loop=None if on_loop in (None, "") else _flag(on_loop),
                read_threads=int(env.get("RMBOOK_HTTP_READ_THREADS", "2")),
                workers=None if workers in (None, "") else int(workers),
                spread_connections=_flag(env.get("RMBOOK_HTTP_SPREAD_CONNECTIONS", "1")),
                max_body_bytes=int(env.get("RMBOOK_MAX_BODY_BYTES", str(MIB))),
                max_import_bytes=int(env.get("RMBOOK_MAX_IMPORT_BYTES", str(10 * MIB))),
                reads_catch_up=_flag(env.get("RMBOOK_READS_CATCH_UP", "1")),
            )
        except ValueError as e:
            raise HttpSettingsError(f"bad RMBOOK_* HTTP setting: {e}") from e

    def projects_in_process(self, backend: str) -> bool:
        """SQLite has one writer and no LISTEN/NOTIFY: the server projects itself. On
        PostgreSQL the production shape is separate `rmbook project --follow` workers."""
        if self.project_in_process is not None:
            return self.project_in_process
        return backend == "sqlite"

    def workers_for(self, backend: str, cores: int) -> int:
        """How many server processes `rmbook serve` starts (ADR 0023).

        One process answers at most one core's worth of requests: the GIL lets one thread
        run Python at a time, and a request of the mix spends most of its time there.
        - SQLite: one. Each process would project the store itself, and they would take
          turns at its one write lock.
        - PostgreSQL: one per core, at most `MAX_DEFAULT_WORKERS`. Several API processes
          against one database is the production shape: tracking, idempotency and
          rebuild reports are shared through the database. The cap keeps the default
          within PostgreSQL's default `max_connections` (100): a process may hold up to
          `connections_per_worker` (34 by default), and projection workers and the CLI
          need some too.
        """
        if self.workers is not None:
            return self.workers
        if backend != "postgres":
            return 1
        return max(1, min(cores, MAX_DEFAULT_WORKERS))

    def connections_per_worker(self, store_pool: int) -> int:
        """The most PostgreSQL connections one server process may open: a view connection
        per request thread, the lane and the event loop, plus the event store's pool."""
        return self.threads + self.read_threads + 1 + store_pool

    def serves_on_loop(self, backend: str) -> bool:
        """SQLite answers in process, in microseconds: short requests run on the event
        loop, with no thread hand-offs. A PostgreSQL round trip would hold the loop, so
        there they run in threads (ADR 0017)."""
        if self.on_loop is not None:
            return self.on_loop
        return backend == "sqlite"


def _flag(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected 1 or 0, got {text!r}")
