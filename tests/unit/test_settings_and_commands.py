"""Settings (database URL → eventsourcing environment) and the command models at the edge."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from application import commands as c
from application.settings import Clock, Settings, SettingsError

pytestmark = pytest.mark.unit


def test_sqlite_url():
    env = Settings(database_url="sqlite:////tmp/x/rmbook.db").eventsourcing_env()
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"
    assert env["SQLITE_DBNAME"] == "/tmp/x/rmbook.db"
    assert Settings(database_url="sqlite:///rmbook.db").eventsourcing_env()[
        "SQLITE_DBNAME"] == "rmbook.db"


def test_postgres_url_with_schema():
    settings = Settings(database_url="postgresql://u%40x:p%3Aw@db.example:6543/book?schema=t_1")
    env = settings.eventsourcing_env()
    assert settings.backend == "postgres"
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"], env["POSTGRES_DBNAME"]) == (
        "db.example", "6543", "book")
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == ("u@x", "p:w")
    assert env["POSTGRES_SCHEMA"] == "t_1"
    plain = Settings(database_url="postgres://postgres@127.0.0.1").eventsourcing_env()
    assert (plain["POSTGRES_DBNAME"], plain["POSTGRES_PORT"]) == ("postgres", "5432")
    assert "POSTGRES_SCHEMA" not in plain


@pytest.mark.parametrize("url", ["mysql://x/y", "sqlite://", "sqlite:///", "rmbook.db"])
def test_bad_urls_are_refused(url):
    with pytest.raises(SettingsError):
        Settings(database_url=url).eventsourcing_env()


def test_settings_from_env():
    settings = Settings.from_env({"RMBOOK_DATABASE_URL": "sqlite:///a.db",
                                  "RMBOOK_TODAY": "2026-11-01",
                                  "RMBOOK_AGGREGATE_CACHE_SIZE": "7"})
    assert (settings.database_url, settings.today, settings.aggregate_cache_size) == (
        "sqlite:///a.db", date(2026, 11, 1), 7)
    with pytest.raises(SettingsError):
        Settings.from_env({"RMBOOK_TODAY": "yesterday"})


def test_pinned_clock():
    assert Clock(date(2026, 11, 1)).today() == date(2026, 11, 1)
    assert isinstance(Clock().today(), date)


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (c.OnboardCustomer, {"customer_no": "C 1", "name": "x", "segment": "corporate", "branch": "B1",
                                 "origin": "natural", "onboarded_on": "2026-01-01"}),
        (c.OnboardCustomer, {"customer_no": "C" * 33, "name": "x", "segment": "corporate",
                                 "branch": "B1", "origin": "natural", "onboarded_on": "2026-01-01"}),
        (c.OnboardCustomer, {"customer_no": "C1", "name": "x", "segment": "sme", "branch": "B1",
                                 "origin": "natural", "onboarded_on": "2026-01-01"}),
        (c.RegisterManager, {"staff_no": "M1", "name": "x", "branch": "B1", "role": "boss",
                                 "grade": "manager", "band": 1, "hired_on": "2020-01-01"}),
        (c.RegisterManager, {"staff_no": "M1", "name": "x", "branch": "B1", "role": "customer_manager",
                                 "grade": "manager", "band": 5, "hired_on": "2020-01-01"}),
        (c.RecordBalance, {"customer_no": "C1", "on": "2026-01-01", "deposit": "-1.00"}),
        (c.RecordBalance, {"customer_no": "C1", "on": "2026-01-01", "deposit": "1.001"}),
        (c.RecordBalance, {"customer_no": "C1", "on": "2026-02-30", "deposit": "1.00"}),
        (c.Assign, {"customer_no": "C1", "staff_no": "M1", "effective_on": "2026-01-01",
                        "basis": "natural", "claim_ratio": "1.01"}),
        (c.Assign, {"customer_no": "C1", "staff_no": "M1", "effective_on": "2026-01-01",
                        "basis": "natural", "claim_ratio": "0.12345"}),
        (c.Reassign, {"customer_no": "C1", "to_staff_no": "M2", "effective_on": "2026-01-01",
                          "mode": "sideways"}),
        (c.RecordCardSpending, {"customer_no": "C1", "month": "2026-13", "amount": "1.00"}),
        (c.LogVisit, {"customer_no": "C1", "staff_no": "M1", "on": "2026-01-01", "channel": "fax",
                          "purpose": "routine"}),
        (c.CloseCustomer, {"customer_no": "C1", "on": "2026-01-01", "unexpected": 1}),
        (c.CloseCustomer, {"customer_no": "C1", "on": "2026-01-01", "reason": "r" * 501}),
        (c.CloseCustomer, {"customer_no": "C1", "on": "2026-01-01", "actor": ""}),
    ],
)
def test_malformed_commands_are_refused_at_the_edge(model, fields):
    with pytest.raises(ValidationError):
        model(**fields)


def test_commands_accept_numbers_as_decimal_text():
    cmd = c.RecordBalance(customer_no="C1", on="2026-01-01", deposit=1500000, loan=2.5)
    assert (cmd.deposit, cmd.loan) == ("1500000", "2.5")
    assert c.Assign(customer_no="C1", staff_no="M1", effective_on="2026-01-01",
                    basis="natural", claim_ratio=1).claim_ratio == "1"
    assert c.CloseCustomer(customer_no="C1", on="2026-01-01").actor == "system"


@pytest.mark.parametrize(("url", "file"), [
    ("sqlite:///./var/rmbook.db", Path("./var/rmbook.db")),
    ("sqlite:///rmbook.db", Path("rmbook.db")),
    ("sqlite:////srv/rmbook/store.db", Path("/srv/rmbook/store.db")),
    ("sqlite:///:memory:", None),
    ("sqlite:///file:store?mode=memory&cache=shared", None),
    ("postgresql://postgres@127.0.0.1:5432/rmbook", None),
])
def test_the_sqlite_file_a_url_names(url: str, file: Path | None) -> None:
    assert Settings(database_url=url).sqlite_file() == file
