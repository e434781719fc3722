"""The event store on both backends (SQLite file, PostgreSQL schema) [DOMAIN §9, §10].

Uniqueness of business keys, optimistic concurrency without lost writes,
aggregates rebuilt from stored events, bitemporal time travel, and the
handover base computed from recorded balances.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from fractions import Fraction

import pytest

from application import commands as c
from application.service import BookOfBusiness
from application.settings import Settings
from domain import identity
from domain.assignment import Assignment
from domain.errors import ConcurrencyConflict, Refusal
from domain.rulebooks import RulebookRegistry
from tests.conftest import POSTGRES_SKIP_REASON
from tests.support import default_document

pytestmark = pytest.mark.integration

JAN1 = date(2026, 1, 1)
MAR1 = date(2026, 3, 1)
JUN1 = date(2026, 6, 1)
JUL1 = date(2026, 7, 1)
SEP1 = date(2026, 9, 1)
SEP15 = date(2026, 9, 15)
TODAY = date(2026, 11, 1)


# ---- helpers --------------------------------------------------------------------------


def manager(app: BookOfBusiness, staff_no: str, role: str = "customer_manager",
            branch: str = "B1") -> None:
    app.register_manager(c.RegisterManager(staff_no=staff_no, name=f"Staff {staff_no}",
                                           branch=branch, role=role, grade="manager", band=2,
                                           hired_on=date(2020, 1, 1)))


def customer(app: BookOfBusiness, no: str, *, segment: str = "corporate",
             origin: str = "natural", on: date = JAN1, account: str | None = None,
             **extra) -> None:
    app.onboard_customer(c.OnboardCustomer(customer_no=no, name=f"{no} Co", segment=segment,
                                           branch="B1", origin=origin, onboarded_on=on, **extra))
    if account:
        app.open_account(c.OpenAccount(customer_no=no, account_no=account, type="basic",
                                       opened_on=on))


def assign(app: BookOfBusiness, no: str, staff_no: str, *, on: date = JAN1,
           ratio: str = "0.50", basis: str = "natural") -> None:
    app.assign(c.Assign(customer_no=no, staff_no=staff_no, effective_on=on, basis=basis,
                        claim_ratio=ratio))


def balance(app: BookOfBusiness, no: str, on: date, deposit: str, loan: str = "0.00"):
    return app.record_balance(c.RecordBalance(customer_no=no, on=on, deposit=deposit, loan=loan))


def handover(app: BookOfBusiness, no: str, to: str, on: date, deposit: str = "0.60",
             non_deposit: str = "0.80"):
    return app.reassign(c.Reassign(customer_no=no, to_staff_no=to, effective_on=on,
                                   mode="handover", deposit_ratio=deposit,
                                   non_deposit_ratio=non_deposit))


def instant() -> datetime:
    """A recorded-time instant strictly between what was saved before and after it."""
    time.sleep(0.002)
    moment = datetime.now(UTC)
    time.sleep(0.002)
    return moment


def refused(app: BookOfBusiness, code: str, command, *args, **kwargs) -> Refusal:
    """Run a command expected to be refused; assert it wrote nothing."""
    before = app.max_position()
    with pytest.raises(Refusal) as info:
        command(*args, **kwargs)
    assert info.value.code == code, f"expected {code}, got {info.value.code}: {info.value}"
    assert app.max_position() == before, "a refused command wrote to the store"
    return info.value


# ---- uniqueness of business keys ------------------------------------------------------


def test_customer_no_is_unique(app, make_app):
    customer(app, "C1")
    position = app.max_position()
    duplicate = c.OnboardCustomer(customer_no="C1", name="Other", segment="individual",
                                  branch="B2", origin="public", onboarded_on=MAR1)
    refused(app, "already_exists", app.onboard_customer, duplicate)
    # a second process with a cold cache collides in the store, not just in memory
    other = make_app()
    refused(other, "already_exists", other.onboard_customer, duplicate)
    assert app.max_position() == position
    assert other.customer_view("C1")["name"] == "C1 Co"
    assert other.customer_view("C1")["segment"] == "corporate"


def test_staff_no_is_unique(app, make_app):
    manager(app, "M1")
    duplicate = c.RegisterManager(staff_no="M1", name="Impostor", branch="B2",
                                  role="retail_manager", grade="trainee", band=1,
                                  hired_on=date(2021, 1, 1))
    refused(app, "already_exists", app.register_manager, duplicate)
    other = make_app()
    refused(other, "already_exists", other.register_manager, duplicate)
    view = other.manager_view("M1")
    assert (view["name"], view["role"], view["branch"]) == ("Staff M1", "customer_manager", "B1")


def test_account_no_is_unique_bank_wide(app, make_app):
    customer(app, "C1", account="A1")
    customer(app, "C2")
    on_other = c.OpenAccount(customer_no="C2", account_no="A1", type="general", opened_on=MAR1)
    error = refused(app, "already_exists", app.open_account, on_other)
    assert error.field == "account_no"
    # nothing half-written: C2 has no account, in this process (cache) and a fresh one
    assert app.customer("C2").accounts == {}
    assert make_app().customer("C2").accounts == {}
    other = make_app()
    refused(other, "already_exists", other.open_account, on_other)
    # the same number again on the same customer
    again = c.OpenAccount(customer_no="C1", account_no="A1", type="general", opened_on=MAR1)
    refused(app, "already_exists", app.open_account, again)
    # C2 can still open a different account afterwards
    app.open_account(c.OpenAccount(customer_no="C2", account_no="A2", type="general",
                                   opened_on=MAR1))
    assert list(make_app().customer("C2").accounts) == ["A2"]


def test_unknown_keys_are_not_found(app):
    customer(app, "C1")
    manager(app, "M1")
    error = refused(app, "not_found", app.record_balance,
                    c.RecordBalance(customer_no="NOPE", on=MAR1, deposit="1.00"))
    assert error.field == "customer_no"
    error = refused(app, "not_found", app.assign,
                    c.Assign(customer_no="C1", staff_no="NOPE", effective_on=MAR1,
                             basis="natural", claim_ratio="0.50"))
    assert error.field == "staff_no"
    refused(app, "not_found", app.onboard_customer,
            c.OnboardCustomer(customer_no="C2", name="x", segment="corporate", branch="B1",
                              origin="marketed", marketed_by="NOPE", onboarded_on=MAR1))
    refused(app, "not_assigned", app.reassign,
            c.Reassign(customer_no="C1", to_staff_no="M1", effective_on=MAR1, mode="full",
                       claim_ratio="1.00"))
    with pytest.raises(Refusal) as info:
        app.customer_view("NOPE")
    assert info.value.code == "not_found"
    with pytest.raises(Refusal) as info:
        app.manager_view("NOPE")
    assert info.value.code == "not_found"


# ---- refusals write nothing ------------------------------------------------------------


def test_refused_commands_write_nothing(app):
    manager(app, "M1")
    manager(app, "M2")
    manager(app, "M3")
    manager(app, "R1", role="retail_manager")
    customer(app, "C1", account="A1")
    customer(app, "C2", account="A2")
    cases = [
        ("ratio_below_floor", lambda: assign(app, "C1", "M1", ratio="0.4999")),
        ("ineligible_custodian", lambda: assign(app, "C1", "R1")),
        ("date_out_of_range", lambda: assign(app, "C1", "M1", on=date(2026, 11, 2))),
        ("validation_error", lambda: assign(app, "C1", "M1", basis="public", ratio="0.00")),
        ("second_basic_account", lambda: app.open_account(
            c.OpenAccount(customer_no="C1", account_no="A9", type="basic", opened_on=MAR1))),
        ("accounts_open", lambda: app.close_customer(c.CloseCustomer(customer_no="C1", on=MAR1))),
        ("date_out_of_range", lambda: balance(app, "C1", date(2025, 12, 31), "1.00")),
    ]
    for code, command in cases:
        refused(app, code, command)
    assign(app, "C1", "M1")
    assign(app, "C2", "M1")
    app.record_departure(c.RecordDeparture(staff_no="M2", on=MAR1))
    cases = [
        ("already_assigned", lambda: assign(app, "C1", "M2")),
        ("same_custodian", lambda: handover(app, "C1", "M1", JUL1)),
        ("custodian_departed", lambda: handover(app, "C1", "M2", JUL1)),
        ("ratio_below_floor", lambda: handover(app, "C1", "M3", JUL1, deposit="0.59")),
        ("ratio_below_floor", lambda: handover(app, "C1", "M3", JUL1, non_deposit="0.79")),
        ("ratio_below_floor", lambda: app.reassign(c.Reassign(
            customer_no="C1", to_staff_no="M3", effective_on=JUL1, mode="full",
            claim_ratio="0.49"))),
        ("ineligible_custodian", lambda: handover(app, "C1", "R1", JUL1)),
        ("date_out_of_range", lambda: handover(app, "C1", "M3", date(2025, 12, 31))),
        ("validation_error", lambda: app.reassign(c.Reassign(
            customer_no="C1", to_staff_no="R1", effective_on=JUL1, mode="handover",
            deposit_ratio="0.60"))),
        ("validation_error", lambda: app.reassign(c.Reassign(
            customer_no="C1", to_staff_no="R1", effective_on=JUL1, mode="full"))),
        ("manager_departed", lambda: app.change_grade(c.ChangeGrade(
            staff_no="M2", grade="senior", band=1, effective_on=JUN1))),
    ]
    for code, command in cases:
        refused(app, code, command)
    assert app.custody("C1")["custodian"] == "M1"
    assert app.manager_view("M1")["customers"] == ["C1", "C2"]
    assert app.manager_view("M2")["customers"] == []


def test_idempotent_balance_writes_nothing_and_a_correction_is_its_own_event(app, make_app):
    customer(app, "C1")
    first = balance(app, "C1", MAR1, "100.00", "5.00")
    assert first.result == {"recorded": True, "correction": False}
    assert first.position == app.max_position()
    position = app.max_position()
    again = balance(app, "C1", MAR1, "100.00", "5.00")
    assert again.position is None
    assert again.result == {"recorded": False, "correction": False}
    assert app.max_position() == position
    fixed = app.record_balance(c.RecordBalance(customer_no="C1", on=MAR1, deposit="150.00",
                                               loan="5.00", reason="late posting"))
    assert fixed.result == {"recorded": True, "correction": True}
    assert fixed.position == position + 1
    events = list(make_app().events.get(identity.customer_id("C1")))
    assert [type(e).__name__ for e in events] == ["Onboarded", "BalanceRecorded",
                                                  "BalanceCorrected"]
    correction = events[-1]
    assert (correction.deposit_fen, correction.previous_deposit_fen) == (15000, 10000)
    assert (correction.loan_fen, correction.previous_loan_fen) == (500, 500)
    assert correction.reason == "late posting"
    assert make_app().customer_view("C1")["deposit_fen"] == 15000


# ---- optimistic concurrency ------------------------------------------------------------


def test_concurrent_writers_conflict_and_nothing_is_lost(make_app):
    first, second = make_app(), make_app()
    customer(first, "C1")
    # Each public method is load → act → save in one call; to interleave two processes we
    # load and act through the domain, then save through the service's own save path.
    mine = first.customer("C1")
    theirs = second.customer("C1")
    assert mine.version == theirs.version
    mine.record_balance(on=MAR1, deposit_fen=100, loan_fen=0, today=TODAY, actor="feed")
    theirs.grant_credit(limit_fen=500_00, on=MAR1, today=TODAY, actor="ops")
    first._commit(mine)
    position = first.max_position()
    with pytest.raises(ConcurrencyConflict) as info:
        second._commit(theirs)
    assert info.value.code == "concurrency_conflict"
    assert second.max_position() == position  # the loser wrote nothing
    # the loser's process did not keep its unsaved change: it sees the winner's fact only
    seen = second.customer("C1")
    assert seen.balances == {MAR1: (100, 0)}
    assert seen.credit_lines == []
    # retried on fresh state, both facts are kept
    second.grant_credit(c.GrantCredit(customer_no="C1", limit="500.00", granted_on=MAR1))
    for app in (first, second, make_app()):
        view = app.customer_view("C1")
        assert (view["deposit_fen"], view["credit_customer"]) == (100, True)


def test_concurrent_assignments_to_one_manager_race_on_its_book(make_app):
    """Caps hold under concurrency: two assignments to one manager cannot both slip in."""
    first, second = make_app(), make_app()
    manager(first, "M1")
    customer(first, "C1")
    customer(first, "C2")
    rulebook = second.rulebook_on(MAR1)
    stale_manager = second.manager("M1")
    assign(first, "C1", "M1", on=MAR1)
    position = first.max_position()
    racing = Assignment.assign(customer=second.customer("C2"), manager=stale_manager,
                               basis=second.customer("C2").basis, claim_ratio=5000,
                               effective_on=MAR1, rulebook=rulebook, counted_now=0,
                               counts=False, today=TODAY, actor="ops")
    with pytest.raises(ConcurrencyConflict):
        second._commit(racing, stale_manager)
    # neither the new assignment nor the manager's book entry was written
    assert second.max_position() == position
    fresh = make_app()
    assert fresh.assignment("C2") is None
    assert fresh.manager_view("M1")["customers"] == ["C1"]
    assign(second, "C2", "M1", on=MAR1)
    assert make_app().manager_view("M1")["customers"] == ["C1", "C2"]


# ---- capacity with real books ---------------------------------------------------------------


def test_customer_manager_cap_counts_corporate_credit_customers(app):
    manager(app, "M1")
    for i in range(50):
        no = f"K{i:02d}"
        customer(app, no)
        app.grant_credit(c.GrantCredit(customer_no=no, limit="1000.00", granted_on=JAN1))
        assign(app, no, "M1", on=MAR1)
    customer(app, "K50")
    app.grant_credit(c.GrantCredit(customer_no="K50", limit="1000.00", granted_on=JAN1))
    error = refused(app, "capacity_exceeded", assign, app, "K50", "M1", on=MAR1)
    assert "50" in str(error)
    # a non-credit corporate customer and an individual do not count toward this cap
    customer(app, "N1")
    assign(app, "N1", "M1", on=MAR1)
    customer(app, "I1", segment="individual")
    assign(app, "I1", "M1", on=MAR1)
    # once one credit line has closed, there is room again
    app.close_credit(c.CloseCredit(customer_no="K00", on=JUN1))
    assign(app, "K50", "M1", on=JUN1)
    assert len(app.manager_view("M1")["customers"]) == 53


def test_assistant_private_cap_counts_every_customer(app):
    manager(app, "P1", role="assistant_private")
    manager(app, "P2", role="assistant_private")
    for i in range(35):
        customer(app, f"V{i:02d}", segment="individual")
        assign(app, f"V{i:02d}", "P1")
    customer(app, "V35", segment="individual")
    refused(app, "capacity_exceeded", assign, app, "V35", "P1")
    assign(app, "V35", "P2")
    # reassigning into a full book is refused too
    refused(app, "capacity_exceeded", handover, app, "V35", "P1", JUL1)


# ---- aggregates rebuilt from stored events ----------------------------------------------


def build_history(app: BookOfBusiness) -> None:
    """A bit of everything, so that every event type goes through the store."""
    manager(app, "M1")
    manager(app, "M2")
    manager(app, "M3")
    manager(app, "R1", role="retail_manager")
    app.change_grade(c.ChangeGrade(staff_no="M1", grade="senior", band=3, effective_on=MAR1,
                                   reason="promotion"))
    customer(app, "C1", account="A1")
    app.open_account(c.OpenAccount(customer_no="C1", account_no="G1", type="general",
                                   currency="USD", opened_on=MAR1))
    customer(app, "C2", origin="marketed", marketed_by="M1", used_branch_resources=True,
             account="A2")
    customer(app, "I1", segment="individual", origin="public")
    app.grant_credit(c.GrantCredit(customer_no="C1", limit="2000000.00", granted_on=JAN1))
    balance(app, "C1", JAN1, "1000000.00", "300000.00")
    balance(app, "C1", JUL1, "1500000.00")
    balance(app, "C1", JAN1, "1000000.50", "300000.00")  # correction
    app.record_non_deposit(c.RecordNonDeposit(customer_no="C1", on=JUN1, kind="fee",
                                              amount="88.80"))
    app.change_status(c.ChangeStatus(customer_no="C2", status="dormant", on=JUN1))
    app.sign_service(c.SignService(customer_no="C1", service="payroll", on=MAR1))
    app.record_card_spending(c.RecordCardSpending(customer_no="I1", month="2026-05",
                                                  amount="1234.56"))
    app.record_repayment_default(c.RecordRepaymentDefault(customer_no="I1", on=JUN1))
    app.log_visit(c.LogVisit(customer_no="C1", staff_no="M1", on=JUN1, channel="on_site",
                             purpose="business", notes="拜访 — visit notes"))
    assign(app, "C1", "M1")
    assign(app, "C2", "M1", ratio="0.80", basis="marketed")
    assign(app, "I1", "R1", ratio="0.00", basis="public")
    handover(app, "C1", "M2", JUL1)
    app.record_departure(c.RecordDeparture(staff_no="M1", on=SEP1, reason="left the bank"))
    app.reassign(c.Reassign(customer_no="C2", to_staff_no="M3", effective_on=SEP1, mode="full",
                            claim_ratio="0.90"))
    app.close_account(c.CloseAccount(customer_no="C2", account_no="A2", on=SEP15))
    app.close_customer(c.CloseCustomer(customer_no="I1", on=SEP15))
    doc = default_document()
    doc.update(version="2026.1", effective_from="2026-10-01", base_window="year_to_date")
    app.publish_rulebook(c.PublishRulebook(document=doc, reason="ytd base"))


def test_aggregates_rebuilt_from_stored_events_equal_the_live_ones(app, make_app):
    build_history(app)
    cold = make_app()
    ids = {
        **{no: identity.customer_id(no) for no in ("C1", "C2", "I1")},
        **{s: identity.manager_id(s) for s in ("M1", "M2", "M3", "R1")},
        **{f"assignment {no}": identity.assignment_id(no) for no in ("C1", "C2", "I1")},
        **{f"account {a}": identity.account_number_id(a) for a in ("A1", "A2", "G1")},
        "rulebooks": identity.RULEBOOKS_ID,
    }
    for what, aggregate_id in ids.items():
        live = app.repository.get(aggregate_id)
        rebuilt = cold.repository.get(aggregate_id)
        assert rebuilt == live, what
        assert rebuilt.version == live.version > 0, what
    # spot-check that the round trip kept types and values, not just equality
    c1 = cold.customer("C1")
    assert c1.balances[JAN1] == (100000050, 30000000)
    assert c1.accounts["G1"].currency == "USD"
    assert c1.visits[0].notes == "拜访 — visit notes"
    assert cold.customer("I1").card_spending == {"2026-05": 123456}
    registry = cold.repository.get(identity.RULEBOOKS_ID)
    assert isinstance(registry, RulebookRegistry)
    assert cold.rulebook_on(date(2026, 10, 1)).base_window == "year_to_date"
    assert cold.rulebook_on(date(2026, 9, 30)).version == "2024.1"
    # and the views read from a cold cache agree with the live process
    for no in ("C1", "C2", "I1"):
        assert cold.customer_view(no) == app.customer_view(no)
        assert cold.customer_view(no, as_of=JUN1) == app.customer_view(no, as_of=JUN1)
    for staff_no in ("M1", "M2", "M3", "R1"):
        assert cold.manager_view(staff_no) == app.manager_view(staff_no)
    assert cold.manager_view("M1")["departed_on"] == SEP1
    assert cold.manager_view("M1", as_of=JUN1)["customers"] == ["C1", "C2"]
    assert cold.custody("C2")["custodian"] is None  # closed on 15 Sep
    assert cold.custody("C2", as_of=SEP1)["custodian"] == "M3"


def test_global_sequence_positions_are_gapless_and_increasing(app):
    build_history(app)
    positions = [n.id for n in app.iter_notifications(batch=7)]
    assert positions == list(range(1, app.max_position() + 1))


# ---- time travel: as of a business date, as known at a recorded instant ------------------


def test_customer_view_known_at_shows_what_was_known_then(app):
    manager(app, "M1")
    before_onboarding = instant()
    customer(app, "C1", account="A1")
    balance(app, "C1", MAR1, "100.00")
    known = instant()
    balance(app, "C1", MAR1, "175.00")  # correction recorded later
    app.open_account(c.OpenAccount(customer_no="C1", account_no="G1", type="general",
                                   opened_on=MAR1))
    app.grant_credit(c.GrantCredit(customer_no="C1", limit="1000.00", granted_on=MAR1))
    assign(app, "C1", "M1")
    now = app.customer_view("C1", as_of=MAR1)
    assert now["deposit_fen"] == 17500
    assert [a["account_no"] for a in now["accounts"]] == ["A1", "G1"]
    assert now["credit_customer"] is True
    assert now["custodian"] == "M1"
    then = app.customer_view("C1", as_of=MAR1, known_at=known)
    assert then["deposit_fen"] == 10000
    assert [a["account_no"] for a in then["accounts"]] == ["A1"]
    assert then["credit_customer"] is False
    assert then["custodian"] is None
    with pytest.raises(Refusal) as info:
        app.customer_view("C1", known_at=before_onboarding)
    assert info.value.code == "not_found"
    with pytest.raises(Refusal) as info:
        app.customer_view("C1", as_of=date(2025, 12, 31))
    assert info.value.code == "not_found"


def test_custody_as_of_before_a_handover_shows_the_old_custodian(app):
    manager(app, "M1")
    manager(app, "M2")
    customer(app, "C1", account="A1")
    assign(app, "C1", "M1")
    before_handover_recorded = instant()
    handover(app, "C1", "M2", JUL1)
    assert app.custody("C1")["custodian"] == "M2"
    assert app.custody("C1", as_of=date(2026, 6, 30))["custodian"] == "M1"
    assert app.custody("C1", as_of=JUL1)["custodian"] == "M2"
    assert app.custody("C1", as_of=date(2025, 12, 31))["custodian"] is None
    assert app.customer_view("C1", as_of=date(2026, 6, 30))["custodian"] == "M1"
    # bitemporal: what did we know, before the handover was recorded, about custody in August?
    known = app.custody("C1", as_of=date(2026, 8, 1), known_at=before_handover_recorded)
    assert known["custodian"] == "M1"
    assert [t.custodian for t in known["chain"]] == ["M1"]
    assert app.manager_view("M1", as_of=date(2026, 6, 30))["customers"] == ["C1"]
    assert app.manager_view("M1", as_of=JUL1)["customers"] == []
    assert app.manager_view("M2", as_of=JUL1)["customers"] == ["C1"]
    assert app.manager_view("M2", as_of=JUL1,
                            known_at=before_handover_recorded)["customers"] == []
    assert app.manager_view("M1", as_of=JUL1,
                            known_at=before_handover_recorded)["customers"] == ["C1"]


def test_manager_view_known_at(app):
    before_hire_recorded = instant()
    manager(app, "M1")
    registered = instant()
    app.change_grade(c.ChangeGrade(staff_no="M1", grade="senior", band=4, effective_on=MAR1))
    app.record_departure(c.RecordDeparture(staff_no="M1", on=SEP1))
    now = app.manager_view("M1")
    assert (now["grade"], now["band"], now["departed_on"]) == ("senior", 4, SEP1)
    assert app.manager_view("M1", as_of=JUN1)["departed_on"] is None
    then = app.manager_view("M1", known_at=registered)
    assert (then["grade"], then["band"], then["departed_on"]) == ("manager", 2, None)
    with pytest.raises(Refusal) as info:
        app.manager_view("M1", known_at=before_hire_recorded)
    assert info.value.code == "not_found"
    with pytest.raises(Refusal) as info:
        app.manager_view("M1", as_of=date(2019, 12, 31))
    assert info.value.code == "not_found"
    assert app.custody("NOBODY") == {"customer_no": "NOBODY", "custodian": None, "chain": []}


# ---- the handover base from recorded balances -------------------------------------------------


def day_by_day_average(records: dict[date, int], start: date, end: date) -> Fraction:
    total, days, d = 0, 0, start
    while d <= end:
        known = [k for k in records if k <= d]
        total += records[max(known)] if known else 0
        days += 1
        d = date.fromordinal(d.toordinal() + 1)
    return Fraction(total, days)


def test_handover_base_previous_half_year(app, make_app):
    manager(app, "M1")
    manager(app, "M2")
    customer(app, "C1", on=date(2025, 10, 1), account="A1")
    recorded = {date(2025, 12, 1): 50_000_00, date(2026, 2, 10): 80_000_00,
                date(2026, 4, 30): 30_000_00, date(2026, 8, 20): 99_999_99,
                date(2026, 8, 31): 1_000_000_00}
    for on, fen in recorded.items():
        balance(app, "C1", on, f"{fen // 100}.{fen % 100:02d}")
    assign(app, "C1", "M1", on=date(2025, 10, 1))
    receipt = handover(app, "C1", "M2", date(2026, 8, 31))
    # previous half-year of 31 Aug 2026: 28 Feb 2026 … 30 Aug 2026 (clamped)
    expected = day_by_day_average(recorded, date(2026, 2, 28), date(2026, 8, 30))
    assert receipt.result["base_daily_average"] == expected
    term = make_app().custody("C1")["chain"][-1]
    assert term.base_daily_average == expected
    assert term.base_days == 184
    events = list(app.events.get(identity.assignment_id("C1")))
    assert (events[-1].base_start, events[-1].base_end) == (date(2026, 2, 28), date(2026, 8, 30))
    assert events[-1].rulebook_version == "2024.1"


def test_handover_base_year_to_date_under_a_published_rulebook(app, make_app):
    manager(app, "M1")
    manager(app, "M2")
    manager(app, "M3")
    customer(app, "C1", on=date(2025, 6, 1), account="A1")
    recorded = {date(2025, 6, 1): 10_000_00, date(2026, 1, 15): 20_000_00,
                date(2026, 5, 1): 70_000_00, date(2026, 9, 30): 5_00}
    for on, fen in recorded.items():
        balance(app, "C1", on, f"{fen // 100}.{fen % 100:02d}")
    assign(app, "C1", "M1", on=date(2025, 6, 1))
    doc = default_document()
    doc.update(version="2026.ytd", effective_from="2026-06-01", base_window="year_to_date")
    published = app.publish_rulebook(c.PublishRulebook(document=doc, actor="admin"))
    assert published.result == {"version": "2026.ytd", "effective_from": date(2026, 6, 1)}
    # before the new rulebook takes effect: previous half-year
    first = handover(app, "C1", "M2", date(2026, 5, 20))
    assert first.result["base_daily_average"] == day_by_day_average(
        recorded, date(2025, 11, 20), date(2026, 5, 19))
    # under it: 1 January of the effective year … the day before
    second = handover(app, "C1", "M3", date(2026, 10, 1))
    expected = day_by_day_average(recorded, date(2026, 1, 1), date(2026, 9, 30))
    assert second.result["base_daily_average"] == expected
    events = list(make_app().events.get(identity.assignment_id("C1")))
    assert [e.rulebook_version for e in events[1:]] == ["2024.1", "2026.ytd"]
    assert (events[-1].base_start, events[-1].base_end, events[-1].base_days) == (
        date(2026, 1, 1), date(2026, 9, 30), 273)
    # a cold process applies the same published rulebook
    assert make_app().rulebook_on(date(2026, 10, 1)).version == "2026.ytd"


def test_year_to_date_on_1_january_falls_back_to_the_previous_half_year(make_app):
    app = make_app(on=date(2027, 1, 5))
    manager(app, "M1")
    manager(app, "M2")
    customer(app, "C1", on=date(2026, 1, 1), account="A1")
    recorded = {date(2026, 1, 1): 1_000_00, date(2026, 10, 1): 4_000_00}
    for on, fen in recorded.items():
        balance(app, "C1", on, f"{fen // 100}.00")
    assign(app, "C1", "M1")
    doc = default_document()
    doc.update(version="2026.ytd", effective_from="2026-06-01", base_window="year_to_date")
    app.publish_rulebook(c.PublishRulebook(document=doc))
    receipt = handover(app, "C1", "M2", date(2027, 1, 1))
    assert receipt.result["base_daily_average"] == day_by_day_average(
        recorded, date(2026, 7, 1), date(2026, 12, 31))
    assert receipt.result["base_daily_average"] == Fraction(92 * 1_000_00 + 92 * 4_000_00, 184)


def test_publishing_a_rulebook_is_refused_cleanly(app):
    doc = default_document()
    doc.update(version="2026.1", effective_from="2026-06-01")
    app.publish_rulebook(c.PublishRulebook(document=doc))
    refused(app, "already_exists", app.publish_rulebook, c.PublishRulebook(document=doc))
    bad = default_document()
    bad.update(version="2026.2", base_window="weekly", caps={"wizard": {}})
    error = refused(app, "rulebook_invalid", app.publish_rulebook,
                    c.PublishRulebook(document=bad))
    assert {"base_window", "caps.wizard"} <= {path for path, _ in error.problems}


# ---- closure ends custody ------------------------------------------------------------------


def test_closing_the_last_account_ends_custody(app, make_app):
    manager(app, "M1")
    customer(app, "C1", account="A1")
    app.open_account(c.OpenAccount(customer_no="C1", account_no="G1", type="general",
                                   opened_on=MAR1))
    assign(app, "C1", "M1")
    assert app.close_account(c.CloseAccount(customer_no="C1", account_no="G1",
                                            on=JUN1)).result == {"customer_closed": False}
    assert app.custody("C1")["custodian"] == "M1"
    receipt = app.close_account(c.CloseAccount(customer_no="C1", account_no="A1", on=SEP1))
    assert receipt.result == {"customer_closed": True}
    cold = make_app()
    assert cold.customer_view("C1")["closed_on"] == SEP1
    assert cold.custody("C1")["custodian"] is None
    assert cold.custody("C1")["ended_on"] == SEP1
    assert cold.custody("C1", as_of=date(2026, 8, 31))["custodian"] == "M1"
    assert cold.manager_view("M1")["customers"] == []
    assert cold.manager_view("M1", as_of=date(2026, 8, 31))["customers"] == ["C1"]
    refused(app, "customer_closed", handover, app, "C1", "M1", SEP15)


def test_closure_before_the_current_custody_began_is_refused(app):
    manager(app, "M1")
    manager(app, "M2")
    customer(app, "C1", account="A1")
    assign(app, "C1", "M1")
    handover(app, "C1", "M2", JUL1)
    refused(app, "date_out_of_range", app.close_account,
            c.CloseAccount(customer_no="C1", account_no="A1", on=JUN1))
    # refused, so nothing moved: M1 held C1 in June, M2 holds it now, custody goes on
    assert app.manager_view("M1", as_of=date(2026, 6, 15))["customers"] == ["C1"]
    assert app.custody("C1")["custodian"] == "M2"
    assert app.customer_view("C1")["closed_on"] is None


@pytest.mark.postgres
def test_postgres_tables_live_in_the_tests_own_schema(postgres_database, today):
    """eventsourcing's recorder creates its tables in POSTGRES_SCHEMA, never in public."""
    if postgres_database is None:
        pytest.skip(POSTGRES_SKIP_REASON)
    import psycopg

    schema = postgres_database.create_schema()
    app = BookOfBusiness(Settings(database_url=f"{postgres_database.url()}?schema={schema}",
                                  today=today))
    try:
        customer(app, "C1")
    finally:
        app.close()
    with psycopg.connect(postgres_database.url()) as conn:
        rows = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')").fetchall()
        stored = conn.execute(f'SELECT count(*) FROM "{schema}".rmbook_events').fetchone()
    assert (schema, "rmbook_events") in rows
    assert not [row for row in rows if row[0] == "public"], rows
    assert all(table_schema.startswith("t_") for table_schema, _ in rows), rows
    assert stored == (1,)


def test_departure_reports_who_needs_reassignment(app):
    manager(app, "M1")
    manager(app, "M2")
    customer(app, "C1")
    customer(app, "C2")
    assign(app, "C1", "M1")
    assign(app, "C2", "M1")
    receipt = app.record_departure(c.RecordDeparture(staff_no="M1", on=JUN1))
    assert sorted(receipt.result["needs_reassignment"]) == ["C1", "C2"]
    # only a full transfer moves them; a handover is refused
    refused(app, "custodian_departed", handover, app, "C1", "M2", JUL1)
    customer(app, "C3")
    refused(app, "custodian_departed", assign, app, "C3", "M1", on=JAN1)
    app.reassign(c.Reassign(customer_no="C1", to_staff_no="M2", effective_on=JUL1, mode="full",
                            claim_ratio="0.50"))
    assert app.manager_view("M1")["customers"] == ["C2"]
    assert app.manager_view("M2")["customers"] == ["C1"]


def test_known_at_does_not_show_what_was_not_yet_stored(app):
    customer(app, "C1")
    pending = app.customer("C1")
    pending.record_balance(on=MAR1, deposit_fen=100, loan_fen=0, today=TODAY, actor="feed")
    before_stored = instant()
    app._commit(pending)
    assert app.customer_view("C1", as_of=MAR1)["deposit_fen"] == 100
    assert app.customer_view("C1", as_of=MAR1, known_at=before_stored)["deposit_fen"] == 0
