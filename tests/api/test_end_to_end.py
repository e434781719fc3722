"""One day at the bank, end to end: the real server and a projection worker on PostgreSQL.

Separate processes, as in production: `rmbook serve --workers 2` (uvicorn) and one
`rmbook project --follow`, on a fresh database, with principals written by
`rmbook auth init`. Everything goes over real HTTP (httpx), under each role's own token.

Business today is pinned to 2026-11-01 (RMBOOK_TODAY). The book, worked by hand:

  customer  custody                                  credit   balances (imported CSV)
  C0001     M0001 (natural, 0.60) from 2026-01-01    yes      3 000 000.00 from 2026-01-01
  C0002     M0001 (natural, 0.60) from 2026-01-01    yes        800 000.00 from 2026-01-01
  C0003     M0001 (natural, 0.60) from 2026-01-01;   no       1 200 000.00 from 2026-01-01,
            handed over to M0002 on 2026-07-01                1 500 000.00 from 2026-07-01
            (deposit 0.60, non-deposit 0.80)

Handover of C0003 [DOMAIN §5]: the stock is the daily average over the previous half
year, 1 200 000.00; it stays M0001's (0.60) and the branch's (0.40). The July increment,
300 000.00, is shared 0.60 to M0002, 0.40 to M0001. So July's daily averages are
M0001 720 000 + 120 000 = 840 000.00, M0002 180 000.00, branch:B01 480 000.00.

Tiers [S0 §8] count credit customers in custody: M0001 has 2, M0002 none; both are E
under 2024.1. Rulebook 2026.1 (from 2026-06-01) moves tier D's boundary from "more
than 10" to "more than 1": M0001 becomes D from 2026-06-01, and the diff says exactly that.
"""

from __future__ import annotations

import copy
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import httpx
import pytest

from tests.conftest import POSTGRES_SERVER_URL, POSTGRES_SKIP_REASON
from tests.support import default_document

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

RMBOOK = Path(sys.executable).with_name("rmbook")
TODAY = "2026-11-01"
HTTP_TIMEOUT = 10.0  # every request; the whole test stays well under a minute
START_TIMEOUT = 20.0
REBUILD_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0


# ---- the database, the processes ----------------------------------------------------------


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new, empty database on the test server (dropped afterwards); skip if unreachable."""
    try:
        import psycopg

        admin = psycopg.connect(POSTGRES_SERVER_URL, autocommit=True, connect_timeout=3)
    except Exception:  # any failure to connect means "not reachable"
        pytest.skip(POSTGRES_SKIP_REASON)
    name = f"rmbook_e2e_{os.getpid()}_{secrets.token_hex(4)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunparse(urlparse(POSTGRES_SERVER_URL)._replace(path=f"/{name}", query=""))
    finally:
        with psycopg.connect(POSTGRES_SERVER_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Processes:
    """The processes this test started; each is stopped SIGTERM first, SIGKILL after a wait."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = env
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{name}.log").open("wb")
        # Its own session (process group), so a kill after the timeout reaches its children.
        process = subprocess.Popen([str(RMBOOK), *args], cwd=self.folder, env=self.env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.started.append((name, process))
        return process

    def logs(self) -> str:
        """The end of each process's output, without the access log's one line per request."""
        tails = []
        for name, _ in self.started:
            text = (self.folder / f"{name}.log").read_text("utf-8", errors="replace")
            lines = [line for line in text.splitlines() if '"event":"http_request"' not in line]
            tails.append(f"---- rmbook {name} (last lines) ----\n" + "\n".join(lines[-40:]))
        return "\n".join(tails)

    def stop_all(self) -> None:
        for _, process in reversed(self.started):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for _, process in reversed(self.started):
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:  # its own session: uvicorn's workers go too
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(STOP_TIMEOUT)


def principals(path: Path) -> dict[str, str]:
    """Role → token, from the file `rmbook auth init` wrote (tokens in clear, not --hashed)."""
    entries = tomllib.loads(path.read_text("utf-8"))["principal"]
    return {entry["role"]: entry["token"] for entry in entries}


def wait_until_serving(client: httpx.Client, processes: Processes,
                       server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        assert server.poll() is None, "rmbook serve exited\n" + processes.logs()
        with suppress(httpx.TransportError):
            if client.get("/v1/health").status_code == 200:
                return
        assert time.monotonic() < deadline, "no /v1/health in time\n" + processes.logs()
        time.sleep(0.2)


# ---- HTTP, as a role ---------------------------------------------------------------------------


class Bank:
    """The API over real HTTP; `as_` names the role whose token is sent."""

    def __init__(self, client: httpx.Client, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens
        self.last_position = 0

    def call(self, method: str, path: str, *, as_: str, expect: int | None = None,
             **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[as_]}", **kwargs.pop("headers", {})}
        response = self.client.request(method, path, headers=headers, **kwargs)
        if expect is not None:
            assert response.status_code == expect, (method, path, response.status_code,
                                                    response.text)
        if method == "POST" and response.status_code < 300 and "X-Event-Position" in \
                response.headers:
            self.last_position = max(self.last_position, int(response.headers["X-Event-Position"]))
        return response

    def post(self, path: str, body: Any, *, as_: str, expect: int = 200,
             **kwargs: Any) -> Any:
        return self.call("POST", path, as_=as_, expect=expect, json=body, **kwargs).json()

    def get(self, path: str, *, as_: str = "admin", **params: Any) -> Any:
        return self.call("GET", path, as_=as_, expect=200, params=params).json()


def rulebook_moving_tier_d(version: str, effective_from: str, more_than: int) -> dict[str, Any]:
    document = copy.deepcopy(default_document())
    document.update(version=version, effective_from=effective_from)
    next(t for t in document["tiers"] if t["tier"] == "D")["more_than"] = more_than
    return {"version": version, "effective_from": effective_from, "document": document,
            "reason": "tier D from 2 credit customers"}


def eventually_ready(bank: Bank) -> dict[str, Any]:
    """/v1/ready: the worker's projections have caught up with the store (no token needed)."""
    deadline = time.monotonic() + REBUILD_TIMEOUT
    while True:
        response = bank.client.get("/v1/ready")
        if response.status_code == 200:
            return dict(response.json())
        assert time.monotonic() < deadline, f"never ready: {response.text}"
        time.sleep(0.2)


def finished_rebuild(bank: Bank, rebuild_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + REBUILD_TIMEOUT
    while True:
        report: dict[str, Any] = bank.get(f"/v1/projections/rebuilds/{rebuild_id}",
                                          as_="auditor")
        if report["status"] != "running":
            return report
        assert time.monotonic() < deadline, f"rebuild still running: {report}"
        time.sleep(0.2)


# ---- the day -------------------------------------------------------------------------------------


def test_a_day_at_the_bank_over_http(tmp_path: Path) -> None:
    assert RMBOOK.exists(), f"{RMBOOK} missing: pip install -e '.[dev]'"
    with fresh_database() as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RMBOOK_")}
        env.update(RMBOOK_DATABASE_URL=url, RMBOOK_AUTH_FILE=str(tmp_path / "auth.toml"),
                   RMBOOK_TODAY=TODAY)
        subprocess.run([str(RMBOOK), "auth", "init", "--path", env["RMBOOK_AUTH_FILE"],
                        "--branch", "B01", "--staff-no", "M0001"], cwd=tmp_path, env=env,
                       check=True, capture_output=True, timeout=30)
        tokens = principals(tmp_path / "auth.toml")
        port = free_port()
        processes = Processes(tmp_path, env)
        try:
            server = processes.start("serve", "serve", "--host", "127.0.0.1",
                                     "--port", str(port), "--workers", "2")
            processes.start("project", "project", "--follow", "--poll", "0.2")
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=HTTP_TIMEOUT) as client:
                wait_until_serving(client, processes, server)
                try:
                    a_day(Bank(client, tokens))
                except (AssertionError, httpx.HTTPError) as e:  # say what the servers said
                    raise AssertionError(f"{e!r}\n{processes.logs()}") from e
        finally:
            processes.stop_all()


def a_day(bank: Bank) -> None:
    def branch_admin(path: str, body: dict[str, Any], expect: int = 200) -> Any:
        return bank.post(path, body, as_="branch_admin", expect=expect)

    # Morning: the branch admin registers two managers and onboards three customers.
    for staff_no, name in (("M0001", "王芳"), ("M0002", "李雷")):
        manager = branch_admin("/v1/managers", {
            "staff_no": staff_no, "name": name, "branch": "B01", "role": "customer_manager",
            "grade": "manager", "band": 2, "hired_on": "2020-03-01"}, expect=201)
        assert (manager["staff_no"], manager["branch"]) == (staff_no, "B01")
    for no in ("C0001", "C0002", "C0003"):
        customer = branch_admin("/v1/customers", {
            "customer_no": no, "name": f"{no} 机械有限公司", "segment": "corporate",
            "branch": "B01", "origin": "natural", "onboarded_on": "2026-01-01"}, expect=201)
        assert customer["customer_no"] == no and customer["custodian"] is None
        branch_admin(f"/v1/customers/{no}/accounts", {
            "account_no": f"6010{no[1:]}", "type": "basic", "currency": "CNY",
            "opened_on": "2026-01-01"}, expect=201)
        custody = branch_admin(f"/v1/customers/{no}/assignment", {
            "staff_no": "M0001", "effective_on": "2026-01-01", "basis": "natural",
            "claim_ratio": "0.60"}, expect=201)
        assert (custody["custodian"], custody["mode"]) == ("M0001", "initial")
    for no in ("C0001", "C0002"):
        credit = branch_admin(f"/v1/customers/{no}/credit",
                              {"limit": "5000000.00", "granted_on": "2026-01-01"})
        assert credit["credit_customer"] is True

    # The core-banking feed sends its balance file (CSV), once, and again after a timeout.
    feed_file = ("customer_no,on,deposit,loan\n"
                 "C0001,2026-01-01,3000000.00,0.00\n"
                 "C0002,2026-01-01,800000.00,500000.00\n"
                 "C0003,2026-01-01,1200000.00,0.00\n"
                 "C0003,2026-07-01,1500000.00,0.00\n")
    sent = {"content": feed_file, "headers": {"Content-Type": "text/csv",
                                              "Idempotency-Key": "feed-2026-11-01-eod"}}
    first = bank.call("POST", "/v1/balances/import", as_="feed", expect=200, **sent)
    report = first.json()
    assert (report["rows"], report["recorded"], report["invalid"]) == (4, 4, [])
    repeat = bank.call("POST", "/v1/balances/import", as_="feed", expect=200, **sent)
    assert repeat.json() == report  # the first answer, nothing written twice
    assert repeat.headers["X-Event-Position"] == first.headers["X-Event-Position"]
    assert bank.get("/v1/projections", as_="auditor")["head"] == report["position"]
    reused = bank.call("POST", "/v1/balances/import", as_="feed", content=feed_file + "C0001,"
                       "2026-02-01,1.00,0.00\n", headers=sent["headers"])
    assert reused.status_code == 409 and reused.json()["code"] == "idempotency_key_reused"

    # Midday: C0003 is handed over to M0002 from July; M0001 keeps the stock.
    handover = branch_admin("/v1/customers/C0003/reassignment", {
        "to_staff_no": "M0002", "effective_on": "2026-07-01", "mode": "handover",
        "deposit_ratio": "0.60", "non_deposit_ratio": "0.80", "reason": "rebalancing"})
    assert (handover["custodian"], handover["mode"]) == ("M0002", "handover")
    assert handover["base_daily_average"] == "1200000.00"
    assert handover["chain"][-1]["outgoing"] == "M0001"

    # Afternoon: M0001 logs a visit to its own customer — and may not for C0003 any more.
    visit = {"staff_no": "M0001", "on": "2026-10-20", "channel": "on_site",
             "purpose": "business", "notes": "credit line renewal"}
    logged = bank.post("/v1/customers/C0001/visits", visit, as_="manager", expect=201)
    assert logged == {"customer_no": "C0001", **visit}
    refused = bank.call("POST", "/v1/customers/C0003/visits", as_="manager", json=visit)
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden", refused.text

    # Evening reads, each after the last write (read-your-writes through the worker).
    last = bank.last_position
    july = bank.get("/v1/customers/C0003/attribution", **{
        "from": "2026-07-01", "to": "2026-07-31", "min_position": last})
    assert (july["days"], july["daily_average"]) == (31, "1500000.00")
    assert {p["party"]: p["daily_average"] for p in july["parties"]} == {
        "M0001": "840000.00", "M0002": "180000.00", "branch:B01": "480000.00"}

    tiers = bank.get("/v1/tiers", branch="B01", min_position=last)
    assert tiers["rulebook_version"] == "2024.1"
    assert [(m["staff_no"], m["tier"], m["credit_customers"]) for m in tiers["managers"]] == [
        ("M0001", "E", 2), ("M0002", "E", 0)]
    assert tiers["distribution"]["E"] == 2

    timeline = bank.get("/v1/customers/C0003/timeline", as_="auditor", min_position=last)
    events = timeline["events"]
    positions = [e["position"] for e in events]
    assert positions == sorted(positions) and len(events) >= 6
    actors = {e["actor"] for e in events}
    assert {"local-branch-admin-B01", "local-feed"} <= actors, actors
    assert events[-1]["reason"] == "rebalancing"  # the handover, last thing that happened

    # Night: the policy office publishes 2026.1; the book is rebuilt under it side by side.
    published = bank.post("/v1/rulebooks", rulebook_moving_tier_d("2026.1", "2026-06-01", 1),
                          as_="admin", expect=201)
    assert (published["version"], published["effective_from"]) == ("2026.1", "2026-06-01")
    rebuilt = finished_rebuild(bank, published["rebuild_id"])
    assert rebuilt["status"] == "finished", rebuilt
    assert rebuilt["rulebook_version"] == "2026.1"
    assert rebuilt["diff"]["tiers"] == [{"staff_no": "M0001", "changes": [
        {"from_tier": "E", "to_tier": "D", "from": "2026-06-01", "until": None}]}]

    after = bank.get("/v1/tiers", branch="B01", min_position=bank.last_position)
    assert after["rulebook_version"] == "2026.1"
    assert [(m["staff_no"], m["tier"]) for m in after["managers"]] == [("M0001", "D"),
                                                                     ("M0002", "E")]
    assert (after["distribution"]["D"], after["distribution"]["E"]) == (1, 1)
    may = bank.get("/v1/tiers", branch="B01", as_of="2026-05-31")
    assert (may["rulebook_version"], may["managers"][0]["tier"]) == ("2024.1", "E")
    versions = bank.get("/v1/rulebooks", as_="auditor")["versions"]
    assert [(v["version"], v["author"]) for v in versions] == [("2024.1", None),
                                                               ("2026.1", "local-admin")]
    ready = eventually_ready(bank)
    assert ready["head"] == bank.last_position and set(ready["projections"].values()) == {0}
