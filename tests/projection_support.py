"""Builders and table dumps shared by the read-side (projection) tests.

Every write goes through the real application (`BookOfBusiness`), every read
through the real projections; nothing here touches a view table except to
dump it for comparison.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlparse

import orjson

from application import commands as c
from application.service import BookOfBusiness, Receipt
from projections.audit import AuditProjection
from projections.rebuild import build_fresh
from projections.registry import Generation
from projections.runner import Projector

HIRED = date(2020, 1, 1)
JAN1 = date(2026, 1, 1)
YUAN = 100  # fen

BOOK_TABLES = ("customers", "managers", "balances", "visits", "accounts", "non_deposit",
               "streams", "meta")
AUDIT_TABLES = ("names", "mentions", "chain", "rulebooks")


# ---- writes -------------------------------------------------------------------------------


def register(app: BookOfBusiness, staff_no: str, *, role: str = "customer_manager",
             branch: str = "B1", hired_on: date = HIRED, actor: str = "system",
             reason: str | None = None) -> Receipt:
    return app.register_manager(c.RegisterManager(
        staff_no=staff_no, name=f"Staff {staff_no}", branch=branch, role=role, grade="manager",
        band=2, hired_on=hired_on, actor=actor, reason=reason))


def onboard(app: BookOfBusiness, no: str, *, on: date = JAN1, segment: str = "corporate",
            origin: str = "natural", branch: str = "B1", actor: str = "system",
            reason: str | None = None) -> Receipt:
    return app.onboard_customer(c.OnboardCustomer(
        customer_no=no, name=f"{no} Co", segment=segment, branch=branch, origin=origin,
        onboarded_on=on, actor=actor, reason=reason))


def open_account(app: BookOfBusiness, no: str, account_no: str, *, on: date = JAN1,
                 type: str = "basic", actor: str = "system") -> Receipt:
    return app.open_account(c.OpenAccount(customer_no=no, account_no=account_no, type=type,
                                          opened_on=on, actor=actor))


def assign(app: BookOfBusiness, no: str, staff_no: str, *, on: date = JAN1, ratio: str = "0.50",
           basis: str = "natural", actor: str = "system", reason: str | None = None) -> Receipt:
    return app.assign(c.Assign(customer_no=no, staff_no=staff_no, effective_on=on, basis=basis,
                               claim_ratio=ratio, actor=actor, reason=reason))


def balance(app: BookOfBusiness, no: str, on: date, deposit: str, loan: str = "0.00", *,
            actor: str = "feed", reason: str | None = None) -> Receipt:
    return app.record_balance(c.RecordBalance(customer_no=no, on=on, deposit=deposit, loan=loan,
                                              actor=actor, reason=reason))


def handover(app: BookOfBusiness, no: str, to: str, on: date, deposit: str = "0.60",
             non_deposit: str = "0.80", *, actor: str = "system",
             reason: str | None = None) -> Receipt:
    return app.reassign(c.Reassign(customer_no=no, to_staff_no=to, effective_on=on,
                                   mode="handover", deposit_ratio=deposit,
                                   non_deposit_ratio=non_deposit, actor=actor, reason=reason))


def transfer(app: BookOfBusiness, no: str, to: str, on: date, ratio: str = "0.50", *,
             actor: str = "system", reason: str | None = None) -> Receipt:
    return app.reassign(c.Reassign(customer_no=no, to_staff_no=to, effective_on=on, mode="full",
                                   claim_ratio=ratio, actor=actor, reason=reason))


def grant(app: BookOfBusiness, no: str, on: date, limit: str = "1000000.00") -> Receipt:
    return app.grant_credit(c.GrantCredit(customer_no=no, limit=limit, granted_on=on))


def close_credit(app: BookOfBusiness, no: str, on: date) -> Receipt:
    return app.close_credit(c.CloseCredit(customer_no=no, on=on))


def visit(app: BookOfBusiness, no: str, staff_no: str, on: date, *, channel: str = "on_site",
          purpose: str = "routine", actor: str = "system") -> Receipt:
    return app.log_visit(c.LogVisit(customer_no=no, staff_no=staff_no, on=on, channel=channel,
                                    purpose=purpose, actor=actor))


def non_deposit(app: BookOfBusiness, no: str, on: date, amount: str, kind: str = "fee") -> Receipt:
    return app.record_non_deposit(c.RecordNonDeposit(customer_no=no, on=on, kind=kind,
                                                     amount=amount))


# ---- reads --------------------------------------------------------------------------------


@contextmanager
def projector(app: BookOfBusiness, batch_size: int = 2000,
              flush_events: int | None = None) -> Iterator[Projector]:
    """A read side on the app's store, closed afterwards (it holds its own connection).
    It writes every batch unless `flush_events` asks for several batches per transaction."""
    read_side = Projector(app, batch_size=batch_size, flush_events=flush_events or batch_size)
    try:
        yield read_side
    finally:
        read_side.close()


def active(read_side: Projector, name: str = "book") -> Generation:
    generation = read_side.registry.active(name)
    assert generation is not None, f"no active {name} generation"
    return generation


def _plain(value: Any) -> Any:
    """A view cell as a comparable value: JSON blobs decoded, other blobs as hex."""
    if isinstance(value, memoryview):
        value = bytes(value)
    if isinstance(value, bytes):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value.hex()
    return value


def dump(read_side: Projector, generation: Generation) -> dict[str, list[Any]]:
    """Every table of one generation: its rows, cells made comparable, sorted."""
    projection = read_side.instance(generation)
    tables = BOOK_TABLES if generation.name == "book" else AUDIT_TABLES
    found: dict[str, list[Any]] = {}
    for base in tables:
        if generation.name == "audit" and base == "chain":
            # Blocks follow batch sizes; what must match is each position's link.
            assert isinstance(projection, AuditProjection)
            found[base] = [[p, hashes[i * 32:(i + 1) * 32].hex()]
                           for positions, hashes in projection.chain_blocks()
                           for i, p in enumerate(positions)]
            continue
        rows = [[_plain(v) for v in row]
                for row in read_side.db.fetchall(f"SELECT * FROM {projection.table(base)}")]
        found[base] = sorted(rows, key=lambda r: orjson.dumps(r, option=orjson.OPT_SORT_KEYS))
    return found


def built(app: BookOfBusiness, *, copy_in_database: bool) -> dict[str, list[Any]]:
    """A fresh book built in writes of 20 events, its tables dumped (then dropped):
    `copy_in_database=False` folds every balance in Python, the slow path to compare with."""
    with projector(app, batch_size=5, flush_events=20) as read_side:
        read_side.copy_in_database = copy_in_database
        fresh = build_fresh(read_side, "book", status="fresh")
        tables = dump(read_side, fresh)
        read_side.drop(fresh)
    return tables


def postgres_schema(database_url: str) -> str:
    return parse_qs(urlparse(database_url).query)["schema"][0]
