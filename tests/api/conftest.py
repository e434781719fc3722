"""HTTP contract tests: the real app (FastAPI TestClient) over a real store, both backends.

`api` is a fresh store per test (the `database_url` fixture of tests/conftest.py,
SQLite and PostgreSQL); `shared_api` is one seeded store per module and backend,
for the many read-only or role checks that need no fresh state.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from application.settings import Settings
from interfaces.http.app import create_app
from interfaces.http.config import HttpSettings
from tests.conftest import POSTGRES_SKIP_REASON, TODAY, PostgresDatabase
from tests.projection_support import assign, balance, onboard, open_account, register

# Starlette 1.x would rather have httpx2 behind its TestClient; httpx is what we install.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
from fastapi.testclient import TestClient  # noqa: E402

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/api is an HTTP contract test (`-m api` selects them)."""
    for item in items:
        if _HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.api)

TOKENS = {
    "admin": "admin-token-0001",
    "branch_admin": "branch-admin-token-B1",
    "manager": "manager-token-M1",
    "auditor": "auditor-token-0001",
    "feed": "feed-token-0001",
    "branch_admin_b2": "branch-admin-token-B2",
    "feed_b1": "feed-token-B1",
    "manager_m2": "manager-token-M2",
}
NAMES = {"admin": "ops-admin", "branch_admin": "b1-admin", "manager": "mgr-m1",
         "auditor": "audit", "feed": "core-feed", "branch_admin_b2": "b2-admin",
         "feed_b1": "b1-feed", "manager_m2": "mgr-m2"}
HIRED = "2020-01-01"
JAN1 = "2026-01-01"


def auth_toml() -> str:
    auditor_digest = hashlib.sha256(TOKENS["auditor"].encode()).hexdigest()
    return f"""
[[principal]]
token = "{TOKENS['admin']}"
name = "ops-admin"
role = "admin"
branches = ["*"]

[[principal]]
token = "{TOKENS['branch_admin']}"
name = "b1-admin"
role = "branch_admin"
branches = ["B1"]

[[principal]]
token = "{TOKENS['branch_admin_b2']}"
name = "b2-admin"
role = "branch_admin"
branches = ["B2"]

[[principal]]
token = "{TOKENS['manager']}"
name = "mgr-m1"
role = "manager"
branches = ["B1"]
staff_no = "M1"

[[principal]]
token = "{TOKENS['manager_m2']}"
name = "mgr-m2"
role = "manager"
branches = ["B1"]
staff_no = "M2"

[[principal]]
token_sha256 = "{auditor_digest}"
name = "audit"
role = "auditor"
branches = ["*"]

[[principal]]
token = "{TOKENS['feed']}"
name = "core-feed"
role = "feed"
branches = ["*"]

[[principal]]
token = "{TOKENS['feed_b1']}"
name = "b1-feed"
role = "feed"
branches = ["B1"]
"""


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


@dataclass
class Api:
    """A TestClient with the role to act as: `api.post(path, json=…, as_="feed")`."""

    client: TestClient
    closed: bool = False

    def close(self) -> None:
        """Shut the app down (lifespan end), as a restart would."""
        if not self.closed:
            self.closed = True
            self.client.__exit__(None, None, None)

    def request(self, method: str, path: str, *, as_: str | None = "admin",
                headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        sent = dict(auth(as_)) if as_ else {}
        sent.update(headers or {})
        return self.client.request(method, path, headers=sent, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, json=json, **kwargs)

    def ok(self, method: str, path: str, json: Any = None, **kwargs: Any) -> Any:
        response = self.request(method, path, json=json, **kwargs)
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        return response


def seed(api: Api) -> None:
    """Two branches: M1, M2 (B1) and M9 (B2); C1 (B1, custody M1), C9 (B2, custody M9).

    Written through the app's own BookOfBusiness (the routes are tested on their own):
    one thread and connection instead of a dozen requests keeps the suite fast.
    """
    bank = api.client.app.state.runtime.bank  # type: ignore[attr-defined]
    for staff_no, branch in (("M1", "B1"), ("M2", "B1"), ("M9", "B2")):
        register(bank, staff_no, branch=branch, actor="ops-admin")
    for no, branch, staff_no in (("C1", "B1", "M1"), ("C9", "B2", "M9")):
        onboard(bank, no, branch=branch, actor="ops-admin")
        open_account(bank, no, f"A{no}", actor="ops-admin")
        assign(bank, no, staff_no, ratio="0.50", actor="ops-admin")
        balance(bank, no, date(2026, 1, 1), "1000000.00", actor="core-feed")


def http_settings(**overrides: Any) -> HttpSettings:
    defaults: dict[str, Any] = {"min_position_timeout": 0.5, "idempotency_wait": 0.1}
    defaults.update(overrides)
    return HttpSettings(**defaults)


@pytest.fixture
def auth_file(tmp_path: Path) -> Path:
    path = tmp_path / "auth.toml"
    path.write_text(auth_toml(), "utf-8")
    return path


def _clients(url: str, auth_path: Path, today: date) -> tuple[Callable[..., Api], list[Api]]:
    opened: list[Api] = []

    def make(**http: Any) -> Api:
        app = create_app(Settings(database_url=url, today=today), auth_path,
                         http=http_settings(**http))
        client = TestClient(app)
        client.__enter__()
        opened.append(Api(client))
        return opened[-1]

    return make, opened


@pytest.fixture
def make_api(database_url: str, auth_file: Path, today: date) -> Iterator[Callable[..., Api]]:
    """Start (another) app on this test's store; `make_api(**HttpSettings fields)`."""
    make, opened = _clients(database_url, auth_file, today)
    yield make
    for started in opened:
        started.close()


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()


@pytest.fixture
def seeded(api: Api) -> Api:
    seed(api)
    return api


@pytest.fixture(scope="module", params=[
    pytest.param("sqlite", marks=pytest.mark.integration),
    pytest.param("postgres", marks=[pytest.mark.integration, pytest.mark.postgres]),
])
def shared_api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[Api]:
    """One seeded store per module and backend (for checks that do not need a fresh one)."""
    folder = tmp_path_factory.mktemp("shared")
    if request.param == "sqlite":
        url = f"sqlite:///{folder}/rmbook.db"
    else:
        database: PostgresDatabase | None = request.getfixturevalue("postgres_database")
        if database is None:
            pytest.skip(POSTGRES_SKIP_REASON)
        url = f"{database.url()}?schema={database.create_schema()}"
    path = folder / "auth.toml"
    path.write_text(auth_toml(), "utf-8")
    make, opened = _clients(url, path, TODAY)
    api = make()
    seed(api)
    yield api
    for started in opened:
        started.close()
