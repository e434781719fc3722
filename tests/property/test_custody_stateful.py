"""Custody as a state machine over the real BookOfBusiness on a SQLite file store.

Random sequences of onboard / open account / assign / hand over / transfer in
full / depart / close (directly or by closing the last account), many of them
refused. After every step:

- every customer has exactly one custodian between its first assignment and
  its closure — per `Assignment.custodian_on(d)` and per the managers' books
  (exactly one manager's `book_on(d)` holds it, the same one) — and none
  outside that span;
- a refused step (a `Refusal`) wrote nothing (`max_position()` unchanged).

At the end, every aggregate rebuilt by a second process with a cold cache
equals the live one.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from application import commands as c
from application.service import BookOfBusiness
from application.settings import Settings
from domain import identity
from domain.errors import Refusal

pytestmark = pytest.mark.property

TODAY = date(2026, 11, 1)

# Known bugs, avoided while they stand (set to False once fixed; the service should then
# refuse these steps, which the machine checks like any other refusal):
# 1. tests/integration/test_store.py::test_closure_before_the_current_custody_began_is_refused
#    — a closure dated before the current custody term began is accepted and leaves the
#    customer in a book after closure;
# 2. tests/unit/test_customer_rules.py::test_a_closed_customer_gets_no_backdated_account
#    — a closed customer accepts a back-dated account; closing that account then closes the
#    customer a second time, on an earlier date than its custody ended.
AVOID_KNOWN_BUGS = False

DATES = [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 15), date(2026, 5, 1),
         date(2026, 6, 30), date(2026, 7, 1), date(2026, 9, 1), date(2026, 10, 31), TODAY,
         date(2026, 11, 2)]  # the last one is in the future: always refused
CHECK_DATES = sorted({d for x in DATES for d in (x - timedelta(days=1), x)})

# staff_no → (role, branch)
STAFF = {
    "M0": ("customer_manager", "B1"),
    "M1": ("customer_manager", "B1"),
    "M2": ("customer_manager", "B1"),
    "R0": ("retail_manager", "B1"),  # individuals only
    "X0": ("customer_manager", "B2"),  # another branch
}
CUSTOMERS = ["C0", "C1", "C2", "C3", "C4"]

dates = st.sampled_from(DATES)
staff = st.sampled_from(sorted(STAFF))
customers = st.sampled_from(CUSTOMERS)
# mostly ratios every basis accepts, sometimes ones below a floor
ratios = st.sampled_from(["1.00", "1.00", "1.00", "0.80", "0.60", "0.50", "0.49", "0.00"])
mostly = st.sampled_from([True, True, True, False])


class CustodyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = tempfile.mkdtemp(prefix="rmbook-stateful-")
        self.url = f"sqlite:///{self.directory}/rmbook.db"
        self.app = BookOfBusiness(Settings(database_url=self.url, today=TODAY))
        for staff_no, (role, branch) in STAFF.items():
            self.app.register_manager(c.RegisterManager(
                staff_no=staff_no, name=staff_no, branch=branch, role=role, grade="manager",
                band=1, hired_on=date(2020, 1, 1)))
        self.origins: dict[str, str] = {}  # onboarded customers → origin
        self.accounts: dict[str, list[str]] = {}

    # ---- running a command ---------------------------------------------------------

    def attempt(self, name: str, command: Callable[[], Any]) -> bool:
        before = self.app.max_position()
        refusal: Refusal | None = None
        try:
            command()
        except Refusal as refused:
            refusal = refused
        after = self.app.max_position()
        if refusal is not None:
            assert after == before, (
                f"{name} was refused ({refusal.code}: {refusal}) but wrote "
                f"{after - before} event(s)")
            event(f"{name}: refused {refusal.code}")
            return False
        assert after > before, f"{name} succeeded but wrote nothing"
        event(f"{name}: accepted")
        return True

    def basis(self, no: str, true_basis: bool) -> str:
        origin = self.origins.get(no, "natural")
        return origin if true_basis else ("public" if origin != "public" else "natural")

    def closure_would_hit_known_bug(self, no: str, on: date) -> bool:
        if not AVOID_KNOWN_BUGS or no not in self.origins:
            return False
        assignment = self.app.assignment(no)
        return (assignment is not None and assignment.ended_on is None
                and on < assignment.terms[-1].effective_on)

    # ---- rules -------------------------------------------------------------------------

    @initialize()
    def a_few_customers_in_custody(self) -> None:
        """Three customers in custody from the start, so reassignments have work to do."""
        for no, segment, origin, custodian in [("C0", "corporate", "natural", "M0"),
                                               ("C1", "individual", "marketed", "R0"),
                                               ("C2", "corporate", "public", "M1")]:
            self.onboard(no, segment, origin, True, DATES[0])
            self.assign(no, custodian, DATES[0], "1.00", True)
        # 5 managers; per customer: onboarded, account + its number claim, assigned + book
        assert self.app.max_position() == 5 + 3 * 5, "the opening moves are all accepted"

    @rule(no=customers, segment=st.sampled_from(["corporate", "individual"]),
          origin=st.sampled_from(["natural", "public", "marketed"]), used=st.booleans(),
          on=dates)
    def onboard(self, no: str, segment: str, origin: str, used: bool, on: date) -> None:
        marketed = origin == "marketed"
        ok = self.attempt("onboard", lambda: self.app.onboard_customer(c.OnboardCustomer(
            customer_no=no, name=f"{no} Co", segment=segment, branch="B1", origin=origin,
            onboarded_on=on, marketed_by="M0" if marketed else None,
            used_branch_resources=used and marketed)))
        if ok:
            self.origins[no] = origin
            self.accounts[no] = []
            self.open_account(no, on)

    @rule(no=customers, on=dates)
    def open_account(self, no: str, on: date) -> None:
        if AVOID_KNOWN_BUGS and no in self.origins and self.app.customer(no).closed_on:
            event("open account: skipped (known bug)")
            return
        account_no = f"{no}_A{len(self.accounts.get(no, []))}"
        kind = "basic" if not self.accounts.get(no) else "general"
        if self.attempt("open account", lambda: self.app.open_account(c.OpenAccount(
                customer_no=no, account_no=account_no, type=kind, opened_on=on))):
            self.accounts[no].append(account_no)

    @rule(no=customers, to=staff, on=dates, ratio=ratios, true_basis=mostly)
    def assign(self, no: str, to: str, on: date, ratio: str, true_basis: bool) -> None:
        self.attempt("assign", lambda: self.app.assign(c.Assign(
            customer_no=no, staff_no=to, effective_on=on, basis=self.basis(no, true_basis),
            claim_ratio=ratio)))

    @rule(no=customers, to=staff, on=dates, deposit=ratios,
          non_deposit=st.sampled_from(["0.79", "0.80", "1.00", "1.00"]))
    def hand_over(self, no: str, to: str, on: date, deposit: str, non_deposit: str) -> None:
        self.attempt("handover", lambda: self.app.reassign(c.Reassign(
            customer_no=no, to_staff_no=to, effective_on=on, mode="handover",
            deposit_ratio=deposit, non_deposit_ratio=non_deposit)))

    @rule(no=customers, to=staff, on=dates, ratio=ratios)
    def transfer_in_full(self, no: str, to: str, on: date, ratio: str) -> None:
        self.attempt("full transfer", lambda: self.app.reassign(c.Reassign(
            customer_no=no, to_staff_no=to, effective_on=on, mode="full", claim_ratio=ratio)))

    @rule(who=staff, on=dates)
    def depart(self, who: str, on: date) -> None:
        self.attempt("depart", lambda: self.app.record_departure(
            c.RecordDeparture(staff_no=who, on=on)))

    @rule(no=customers, on=dates)
    def close_customer(self, no: str, on: date) -> None:
        if self.closure_would_hit_known_bug(no, on):
            event("close customer: skipped (known bug)")
            return
        self.attempt("close customer", lambda: self.app.close_customer(
            c.CloseCustomer(customer_no=no, on=on)))

    @rule(no=customers, index=st.integers(min_value=0, max_value=2), on=dates)
    def close_account(self, no: str, index: int, on: date) -> None:
        accounts = self.accounts.get(no, [])
        account_no = accounts[index % len(accounts)] if accounts else f"{no}_A0"
        if self.closure_would_hit_known_bug(no, on):
            event("close account: skipped (known bug)")
            return
        self.attempt("close account", lambda: self.app.close_account(
            c.CloseAccount(customer_no=no, account_no=account_no, on=on)))

    # ---- invariants ------------------------------------------------------------------

    @invariant()
    def exactly_one_custodian_from_first_assignment_to_closure(self) -> None:
        managers = {s: self.app.manager(s) for s in STAFF}
        for no in self.origins:
            customer = self.app.customer(no)
            assignment = self.app.assignment(no)
            if assignment is not None and customer.closed_on is not None:
                assert assignment.ended_on == customer.closed_on, no
            if assignment is None:
                assert customer.closed_on is not None or all(
                    no not in {e.customer_no for e in m.book} for m in managers.values())
            for on in CHECK_DATES:
                holders = [s for s, m in managers.items()
                           if any(e.customer_no == no for e in m.book_on(on))]
                if assignment is None:
                    assert holders == [], (no, on, holders)
                    continue
                first = assignment.terms[0].effective_on
                in_custody = first <= on and not customer.closed_by(on)
                custodian = assignment.custodian_on(on)
                if in_custody:
                    assert custodian is not None, (no, on)
                    assert holders == [custodian], (no, on, custodian, holders)
                    role, branch = STAFF[custodian]
                    assert branch == customer.branch
                    if customer.segment.value == "corporate":
                        assert role == "customer_manager"
                else:
                    assert custodian is None, (no, on, custodian)
                    assert holders == [], (no, on, holders)

    def teardown(self) -> None:
        try:
            cold = BookOfBusiness(Settings(database_url=self.url, today=TODAY))
            try:
                ids = [identity.manager_id(s) for s in STAFF]
                for no in self.origins:
                    ids += [identity.customer_id(no), identity.assignment_id(no)]
                for aggregate_id in ids:
                    if self.app.recorder.select_events(aggregate_id, limit=1):
                        assert cold.repository.get(aggregate_id) == \
                            self.app.repository.get(aggregate_id)
            finally:
                cold.close()
        finally:
            self.app.close()
            shutil.rmtree(self.directory, ignore_errors=True)


CustodyMachine.TestCase.settings = settings(
    max_examples=25, stateful_step_count=20, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestCustodyStateMachine = CustodyMachine.TestCase
