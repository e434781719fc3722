"""Shared fixtures: business today, and the `app` fixture over both backends.

`app` is parametrized over SQLite (a fresh file per test) and PostgreSQL (one
database per test session, a fresh schema per test). When PostgreSQL is not
reachable the Postgres half is skipped, and the terminal summary says so in a
plain line, so `make test` never passes quietly on half the backends.

`RMBOOK_TEST_POSTGRES_URL` overrides the server (default
postgresql://postgres@127.0.0.1:5432/postgres, trust auth).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlparse, urlunparse

import pytest

from application.service import BookOfBusiness
from application.settings import Settings

TODAY = date(2026, 11, 1)

POSTGRES_SERVER_URL = os.environ.get(
    "RMBOOK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
_server = urlparse(POSTGRES_SERVER_URL)
POSTGRES_SKIP_REASON = (
    f"PostgreSQL not reachable at {_server.hostname or '127.0.0.1'}:{_server.port or 5432}"
    " — Postgres half skipped"
)


@dataclass(frozen=True)
class PostgresDatabase:
    server_url: str  # the maintenance connection (database `postgres` by default)
    name: str  # the session's own database

    def url(self, dbname: str | None = None) -> str:
        server = urlparse(self.server_url)
        return urlunparse(server._replace(path=f"/{dbname or self.name}", query=""))

    def create_schema(self) -> str:
        import psycopg

        schema = f"t_{secrets.token_hex(6)}"
        with psycopg.connect(self.url(), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        return schema


@pytest.fixture
def today() -> date:
    """Business today, pinned so no test depends on the real date."""
    return TODAY


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[PostgresDatabase | None]:
    """One fresh database for the whole session, dropped at the end; None if unreachable."""
    try:
        import psycopg

        admin = psycopg.connect(POSTGRES_SERVER_URL, autocommit=True, connect_timeout=3)
    except Exception:  # any failure to connect means "not reachable"
        yield None
        return
    name = f"rmbook_test_{os.getpid()}_{secrets.token_hex(4)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PostgresDatabase(POSTGRES_SERVER_URL, name)
    finally:
        with psycopg.connect(POSTGRES_SERVER_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(
    params=[
        pytest.param("sqlite", marks=pytest.mark.integration),
        pytest.param("postgres", marks=[pytest.mark.integration, pytest.mark.postgres]),
    ]
)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path, request: pytest.FixtureRequest) -> str:
    """A fresh, empty store for this test on the chosen backend."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/rmbook.db"
    database: PostgresDatabase | None = request.getfixturevalue("postgres_database")
    if database is None:
        pytest.skip(POSTGRES_SKIP_REASON)
    schema = database.create_schema()
    return f"{database.url()}?schema={schema}"


@pytest.fixture
def make_app(database_url: str, today: date) -> Iterator[Callable[..., BookOfBusiness]]:
    """Open (another) BookOfBusiness on this test's store; all are closed afterwards."""
    opened: list[BookOfBusiness] = []

    def make(*, on: date | None = None) -> BookOfBusiness:
        app = BookOfBusiness(Settings(database_url=database_url, today=on or today))
        opened.append(app)
        return app

    yield make
    for app in opened:
        app.close()


@pytest.fixture
def app(make_app: Callable[..., BookOfBusiness]) -> BookOfBusiness:
    return make_app()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config) -> Iterator[None]:
    """Say plainly when the Postgres half of the suite did not run (after the short summary)."""
    result = yield
    skipped = 0
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = getattr(report, "longrepr", None)
        text = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
        if POSTGRES_SKIP_REASON in text:
            skipped += 1
    if skipped:
        terminalreporter.write_line(
            f"NOTE: {POSTGRES_SKIP_REASON} ({skipped} tests did not run on PostgreSQL)."
        )
    return result
