"""A fresh, empty store for one benchmark run: a temporary SQLite file or a new database."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

from application.settings import Settings

PG_SERVER = os.environ.get("RMBOOK_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
# Set to keep the loaded store after the run (to profile or rebuild it again by hand).
KEEP = os.environ.get("RMBOOK_BENCH_KEEP", "") not in ("", "0")


@contextmanager
def fresh_store(backend: str, keep: bool = False) -> Iterator[Settings]:
    """SQLite: a file in a temporary folder. PostgreSQL: a new database, dropped after
    unless `keep`. Only the loaded store is kept (`keep=KEEP`): a baseline's database
    kept too would be written back to disk during the later phases (1.2 GB for the plain
    Application's at bank scale), and a kept run would not measure as one that is not."""
    if backend == "sqlite" and keep:
        folder = tempfile.mkdtemp(prefix="rmbook-bench-")
        print(f"RMBOOK_BENCH_KEEP: the store stays at {folder}/bench.db", flush=True)
        yield Settings(database_url=f"sqlite:///{folder}/bench.db")
        return
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="rmbook-bench-") as folder:
            yield Settings(database_url=f"sqlite:///{folder}/bench.db")
        return
    import psycopg

    name = f"rmbook_bench_{os.getpid()}_{int(time.time() * 1000)}"
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    if keep:
        print(f"RMBOOK_BENCH_KEEP: the store stays in database {name}", flush=True)
        yield Settings(database_url=f"{PG_SERVER}/{name}")
        return
    try:
        yield Settings(database_url=f"{PG_SERVER}/{name}")
    finally:
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
