"""Settings in one place, read from the environment (RMBOOK_*)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse
from zoneinfo import ZoneInfo

BANK_TIMEZONE = ZoneInfo("Asia/Shanghai")
DEFAULT_DATABASE_URL = "sqlite:///./rmbook.db"


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    # Business "today" override, for demos and tests that replay a fixed calendar.
    today: date | None = None
    # Aggregates a process keeps in memory (the library's repository cache): a command on
    # a customer outside it reads the customer's whole history. Sized for a bank's book.
    aggregate_cache_size: int = 50_000
    # Customers the balance feed keeps warm between imports (about 20 KB each per year
    # of daily balances); fewer than the customers a feed touches makes every import
    # re-read the rest from the store.
    feed_cache_size: int = 50_000
    extra_env: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def from_env(environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        today = env.get("RMBOOK_TODAY")
        try:
            return Settings(
                database_url=env.get("RMBOOK_DATABASE_URL", DEFAULT_DATABASE_URL),
                today=date.fromisoformat(today) if today else None,
                aggregate_cache_size=int(env.get("RMBOOK_AGGREGATE_CACHE_SIZE", "50000")),
                feed_cache_size=int(env.get("RMBOOK_FEED_CACHE_SIZE", "50000")),
            )
        except ValueError as e:
            raise SettingsError(f"bad RMBOOK_* setting: {e}") from e

    @property
    def backend(self) -> str:
        return "postgres" if self.database_url.startswith(("postgresql:", "postgres:")) else "sqlite"

    def _sqlite_path(self) -> str:
        """What follows `sqlite:///` ("" when the URL is not of that form)."""
        prefix = "sqlite:///"
        return self.database_url[len(prefix):] if self.database_url.startswith(prefix) else ""

    def sqlite_file(self) -> Path | None:
        """The SQLite store's file (None for PostgreSQL or an in-memory store)."""
        path = self._sqlite_path() if self.backend == "sqlite" else ""
        return None if not path or path == ":memory:" or path.startswith("file:") else Path(path)

    def eventsourcing_env(self) -> dict[str, str]:
        """The eventsourcing library's environment for this database URL."""
        env: dict[str, Any] = {
            "TRANSCODER_TOPIC": "application.transcoding:OrjsonTranscoder",
            "MAPPER_TOPIC": "application.transcoding:EventMapper",
            "AGGREGATE_CACHE_MAXSIZE": str(self.aggregate_cache_size),
            "AGGREGATE_CACHE_FASTFORWARD": "y",
        }
        url = urlparse(self.database_url)
        if url.scheme == "sqlite":
            path = self._sqlite_path()
            if not path:
                raise SettingsError("sqlite URL must be sqlite:///path/to/file.db")
            env.update(PERSISTENCE_MODULE="eventsourcing.sqlite", SQLITE_DBNAME=path,
                       SQLITE_LOCK_TIMEOUT="30",
                       APPLICATION_RECORDER_TOPIC="application.recorders:BulkSQLiteRecorder")
        elif url.scheme in ("postgresql", "postgres"):
            query = parse_qs(url.query)
            env.update(
                PERSISTENCE_MODULE="eventsourcing.postgres",
                POSTGRES_DBNAME=(url.path or "/postgres").lstrip("/") or "postgres",
                POSTGRES_HOST=url.hostname or "127.0.0.1",
                POSTGRES_PORT=str(url.port or 5432),
                POSTGRES_USER=unquote(url.username or "postgres"),
                POSTGRES_PASSWORD=unquote(url.password or ""),
                POSTGRES_POOL_SIZE="5",
                POSTGRES_MAX_OVERFLOW="10",
                POSTGRES_CONNECT_TIMEOUT="10",
                APPLICATION_RECORDER_TOPIC="application.recorders:BulkPostgresRecorder",
            )
            if "schema" in query:
                env["POSTGRES_SCHEMA"] = query["schema"][0]
        else:
            raise SettingsError(
                f"RMBOOK_DATABASE_URL must start with sqlite:/// or postgresql://, "
                f"got {self.database_url!r}")
        env.update(self.extra_env)
        return env


def postgres_connection(settings: Settings) -> Any:
    """A psycopg connection (autocommit) to the configured PostgreSQL database, with the
    configured schema first on the search path: the one way rmbook connects beside the
    event store's own pool (views, LISTEN, locks, benchmarks)."""
    import psycopg

    env = settings.eventsourcing_env()
    conn = psycopg.connect(dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"],
                           port=env["POSTGRES_PORT"], user=env["POSTGRES_USER"],
                           password=env.get("POSTGRES_PASSWORD") or None, autocommit=True,
                           connect_timeout=10)
    if env.get("POSTGRES_SCHEMA"):
        conn.execute(f'SET search_path TO "{env["POSTGRES_SCHEMA"]}"')
    return conn


class Clock:
    """Business today in the bank's time zone (Asia/Shanghai), unless pinned."""

    def __init__(self, today: date | None = None) -> None:
        self._pinned = today

    def today(self) -> date:
        return self._pinned or datetime.now(BANK_TIMEZONE).date()


_SCHEMA_LOCK = 0x726D626F6F6B  # "rmbook": the advisory lock taken around table creation


@contextmanager
def schema_lock(settings: Settings) -> Iterator[None]:
    """Processes that start together on a new PostgreSQL database create its tables one at
    a time: concurrent CREATE TABLE IF NOT EXISTS fails ("tuple concurrently updated")."""
    if settings.backend != "postgres":
        yield
        return
    with postgres_connection(settings) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK,))
