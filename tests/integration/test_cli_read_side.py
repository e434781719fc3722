"""CLI smoke test of the read side: project, status, reports, audit, rebuild (SQLite).

The store is filled through the application (the DOMAIN §5 worked example), then
every command runs through `typer.testing.CliRunner` against it, as an operator
would with RMBOOK_DATABASE_URL pointing at the file.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from application.service import BookOfBusiness
from application.settings import Settings
from interfaces.cli.main import app as cli
from tests.projection_support import (
    assign,
    balance,
    grant,
    handover,
    onboard,
    open_account,
    register,
)

pytestmark = pytest.mark.integration

TODAY = date(2026, 11, 1)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/cli.db"
    bank = BookOfBusiness(Settings(database_url=url, today=TODAY))
    try:
        register(bank, "M1")
        register(bank, "M2")
        onboard(bank, "X")
        open_account(bank, "X", "A1")
        assign(bank, "X", "M1", ratio="0.50")
        grant(bank, "X", date(2026, 2, 1))
        balance(bank, "X", date(2026, 1, 1), "1000000.00")
        handover(bank, "X", "M2", date(2026, 7, 1), deposit="0.60", non_deposit="0.80")
        balance(bank, "X", date(2026, 7, 1), "1500000.00")
    finally:
        bank.close()
    monkeypatch.setenv("RMBOOK_DATABASE_URL", url)
    monkeypatch.setenv("RMBOOK_TODAY", TODAY.isoformat())
    monkeypatch.setenv("COLUMNS", "200")
    return url


def run(*args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == code, (args, result.output, result.exception)
    return result


def run_json(*args: str, code: int = 0) -> Any:
    return json.loads(run(*args, "--json", code=code).stdout)


def test_read_side_commands(store: str) -> None:
    run("project")

    status = run_json("projections")
    assert {s["name"] for s in status} == {"book", "audit"}
    assert all(s["status"] == "active" and s["lag"] == 0 for s in status)
    assert {s["position"] for s in status} == {13}  # every event projected
    book = next(s for s in status if s["name"] == "book")
    assert (book["rulebook_version"], book["pending_rulebooks"]) == ("2024.1", [])

    tiers = run_json("report", "tiers")
    assert tiers["rulebook_version"] == "2024.1"
    assert {m["staff_no"]: (m["tier"], m["credit_customers"]) for m in tiers["managers"]} == {
        "M1": ("E", 0), "M2": ("E", 1)}
    assert tiers["distribution"] == {"A": 0, "B": 0, "C": 0, "D": 0, "E": 2}

    july = run_json("report", "attribution", "--customer", "X", "--from", "2026-07-01",
                    "--to", "2026-07-31")
    assert july["daily_average"] == "1500000.00"
    assert {p["party"]: p["daily_average"] for p in july["parties"]} == {
        "M1": "700000.00", "M2": "300000.00", "branch:B1": "500000.00"}

    m2 = run_json("report", "attribution", "--manager", "M2", "--from", "2026-07-01",
                  "--to", "2026-07-31")
    assert m2["daily_average"] == "300000.00"

    events = run_json("audit", "timeline", "customer:X")
    assert events["subject"] == "customer:X"
    assert [e["type"] for e in events["events"]][:3] == [
        "Customer/Onboarded", "Customer/AccountOpened", "Assignment/Assigned"]
    assert all(e["summary"] and e["recorded_at"] for e in events["events"])
    page = run_json("audit", "timeline", "customer:X", "--limit", "2")
    assert len(page["events"]) == 2
    assert page["next_after"] == page["events"][1]["position"]

    assert run_json("audit", "verify") == {"ok": True, "checked": 13, "first_bad_position": None}

    rebuilt = run_json("rebuild")
    assert rebuilt["status"] == "finished"
    assert rebuilt["diff"] == {"tiers": [], "attribution": []}
    assert rebuilt["rulebook_version"] == "2024.1"
    assert sorted(rebuilt["generations"]) == ["audit", "book"]
    after = run_json("projections")
    assert {s["generation"] for s in after} == {g[1] for g in rebuilt["generations"].values()}


def test_verify_exits_non_zero_on_tampered_history(store: str) -> None:
    run("project")
    path = store[len("sqlite:///"):]
    bank = BookOfBusiness(Settings(database_url=store, today=TODAY))
    table = bank.recorder.events_table_name
    bank.close()
    with sqlite3.connect(path) as conn:
        (state,) = conn.execute(f"SELECT state FROM {table} WHERE rowid=7").fetchone()
        conn.execute(f"UPDATE {table} SET state=? WHERE rowid=7", (bytes(state) + b" ",))
    conn.close()
    assert run_json("audit", "verify", code=1) == {"ok": False, "checked": 6,
                                                   "first_bad_position": 7}


def test_bad_arguments_are_refused(store: str) -> None:
    run("report", "attribution", "--customer", "X", "--from", "2026-07-31", "--to",
        "2026-07-01", code=2)
    run("report", "attribution", "--from", "2026-07-01", "--to", "2026-07-31", code=2)
    run("audit", "timeline", "X", code=2)


def test_a_read_of_a_store_that_does_not_exist_is_refused_and_creates_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "typo" / "rmbook.db"
    (tmp_path / "typo").mkdir()
    monkeypatch.setenv("RMBOOK_DATABASE_URL", f"sqlite:///{missing}")
    monkeypatch.setenv("COLUMNS", "200")
    for args in (["customer", "show", "X"], ["report", "tiers"], ["rulebook", "list"],
                 ["projections"], ["audit", "verify"]):
        refused = run(*args, code=2)
        unwrapped = refused.output.replace("\n", "")  # the console wraps long paths
        assert f"no store at {missing}" in unwrapped, args
    assert not missing.exists()  # not even an empty file left behind

    run("demo", "--scale", "tiny")  # a command that loads a store may start one
    assert missing.exists()
    assert run_json("rulebook", "list")
