"""Builders and assertions shared by the pure aggregate tests (no store)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from domain.assignment import Assignment
from domain.customer import Customer
from domain.errors import Refusal
from domain.manager import Manager
from domain.rulebook import Rulebook, parse_rulebook
from domain.values import Basis, Grade, Origin, Role, Segment

TODAY = date(2026, 11, 1)
JAN1 = date(2026, 1, 1)
HIRED = date(2020, 1, 1)

DEFAULT_RULEBOOK_PATH = Path(__file__).resolve().parents[1] / "application" / "default_rulebook.json"
SPEC_RULEBOOK_PATH = Path("/work/shared/spec/rulebook-2024.json")


def default_document() -> dict[str, Any]:
    return json.loads(DEFAULT_RULEBOOK_PATH.read_text("utf-8"))


def default_rulebook() -> Rulebook:
    return parse_rulebook(default_document())


RULEBOOK = default_rulebook()


def make_customer(no: str = "C1", *, segment: Segment = Segment.CORPORATE,
                  origin: Origin = Origin.NATURAL, branch: str = "B1", on: date = JAN1,
                  marketed_by: str | None = None, used_branch_resources: bool = False,
                  today: date = TODAY) -> Customer:
    """An onboarded customer with its creation event already collected (as if saved)."""
    if origin is Origin.MARKETED and marketed_by is None:
        marketed_by = "M1"
    customer = Customer.onboard(customer_no=no, name=f"{no} Co", segment=segment, branch=branch,
                                origin=origin, marketed_by=marketed_by,
                                used_branch_resources=used_branch_resources, on=on,
                                today=today, actor="test", reason=None)
    customer.collect_events()
    return customer


def make_manager(staff_no: str = "M1", *, role: Role = Role.CUSTOMER_MANAGER,
                 branch: str = "B1", hired_on: date = HIRED, grade: Grade = Grade.MANAGER,
                 band: int = 2, today: date = TODAY) -> Manager:
    manager = Manager.register(staff_no=staff_no, name=f"Staff {staff_no}", branch=branch,
                               role=role, grade=grade, band=band, hired_on=hired_on,
                               today=today, actor="test")
    manager.collect_events()
    return manager


def make_assignment(customer: Customer, manager: Manager, *, on: date = JAN1,
                    claim_ratio: int = 5000, rulebook: Rulebook = RULEBOOK,
                    basis: Basis | None = None) -> Assignment:
    assignment = Assignment.assign(customer=customer, manager=manager,
                                   basis=basis or customer.basis, claim_ratio=claim_ratio,
                                   effective_on=on, rulebook=rulebook, counted_now=0,
                                   counts=False, today=TODAY, actor="test")
    assignment.collect_events()
    manager.collect_events()
    return assignment


def snapshot(aggregate: Any) -> dict[str, Any]:
    """The aggregate's whole state (a deep copy), without its pending events."""
    return copy.deepcopy({k: v for k, v in vars(aggregate).items() if k != "_pending_events"})


@contextmanager
def refuses(code: str, *aggregates: Any, field: str | None = None) -> Iterator[Any]:
    """Expect a refusal with `code`; afterwards every aggregate is exactly as before
    and has no pending events (nothing would be written)."""
    for aggregate in aggregates:
        assert aggregate.pending_events == [], "collect events before checking a refusal"
    before = [snapshot(a) for a in aggregates]
    with pytest.raises(Refusal) as info:
        yield info
    refusal = info.value
    assert refusal.code == code, f"expected {code}, got {refusal.code}: {refusal}"
    assert str(refusal), "a refusal carries a message"
    if field is not None:
        assert refusal.field == field, f"expected field {field}, got {refusal.field}"
    for aggregate, state in zip(aggregates, before, strict=True):
        assert aggregate.pending_events == []
        assert snapshot(aggregate) == state


def event_names(aggregate: Any) -> list[str]:
    return [type(e).__name__ for e in aggregate.collect_events()]


@contextmanager
def refuses_nothing(*aggregates: Any) -> Iterator[None]:
    """A no-op command (idempotent repeat): no refusal, no event, state unchanged."""
    for aggregate in aggregates:
        assert aggregate.pending_events == [], "collect events before checking a no-op"
    before = [snapshot(a) for a in aggregates]
    yield
    for aggregate, state in zip(aggregates, before, strict=True):
        assert aggregate.pending_events == []
        assert snapshot(aggregate) == state
