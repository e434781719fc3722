"""Custody (管户) and claim ratios [DOMAIN §4]: every rule and refusal, no store.

The Assignment aggregate is driven with real Customer and Manager aggregates
and the shipped rulebook. A refused command leaves every aggregate involved
unchanged with no pending events.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from fractions import Fraction

import pytest

from domain.assignment import Assignment
from domain.custody_rules import (
    book_must_stay_within_cap,
    claim_ratio_must_meet_floor,
    counts_toward_cap,
    custodian_must_be_eligible,
    handover_ratios_must_meet_floors,
)
from domain.customer import Customer
from domain.errors import Refusal
from domain.manager import Manager
from domain.rulebook import parse_rulebook
from domain.values import Basis, Origin, ReassignmentMode, Role, Segment
from tests.support import (
    JAN1,
    RULEBOOK,
    TODAY,
    default_document,
    event_names,
    make_assignment,
    make_customer,
    make_manager,
    refuses,
)

pytestmark = pytest.mark.unit

MAR1 = date(2026, 3, 1)
JUL1 = date(2026, 7, 1)
SEP1 = date(2026, 9, 1)


def assign(customer: Customer, manager: Manager, *, ratio: int = 5000, on: date = JAN1,
           basis: Basis | None = None, counted_now: int = 0, counts: bool = False,
           rulebook=RULEBOOK) -> Assignment:
    return Assignment.assign(customer=customer, manager=manager, basis=basis or customer.basis,
                             claim_ratio=ratio, effective_on=on, rulebook=rulebook,
                             counted_now=counted_now, counts=counts, today=TODAY, actor="ops",
                             reason="allocation")


def hand_over(assignment: Assignment, customer: Customer, outgoing: Manager, incoming: Manager,
              *, deposit: int = 6000, non_deposit: int = 8000, on: date = JUL1,
              counted_now: int = 0, counts: bool = False, rulebook=RULEBOOK):
    return assignment.hand_over(customer=customer, outgoing=outgoing, incoming=incoming,
                                deposit_ratio=deposit, non_deposit_ratio=non_deposit,
                                effective_on=on, rulebook=rulebook, counted_now=counted_now,
                                counts=counts, today=TODAY, actor="ops", reason="rotation")


def transfer(assignment: Assignment, customer: Customer, outgoing: Manager, incoming: Manager,
             *, ratio: int = 5000, on: date = JUL1, counted_now: int = 0, counts: bool = False,
             rulebook=RULEBOOK) -> None:
    assignment.transfer_in_full(customer=customer, outgoing=outgoing, incoming=incoming,
                                claim_ratio=ratio, effective_on=on, rulebook=rulebook,
                                counted_now=counted_now, counts=counts, today=TODAY,
                                actor="ops", reason="full transfer")


@pytest.fixture
def c1() -> Customer:
    return make_customer("C1")


@pytest.fixture
def m1() -> Manager:
    return make_manager("M1")


@pytest.fixture
def m2() -> Manager:
    return make_manager("M2")


@pytest.fixture
def held(c1, m1) -> Assignment:
    """C1 in M1's custody since 1 Jan at 0.50 (natural)."""
    return make_assignment(c1, m1)


def departed(manager: Manager, on: date = MAR1) -> Manager:
    manager.depart(on=on, today=TODAY, actor="hr")
    manager.collect_events()
    return manager


# ---- first assignment ---------------------------------------------------------------


def test_first_assignment_records_custody_and_the_book(c1, m1):
    assignment = assign(c1, m1, ratio=5500, on=MAR1)
    events = assignment.collect_events()
    assert [type(e).__name__ for e in events] == ["Assigned"]
    event = events[0]
    assert (event.customer_no, event.staff_no, event.basis, event.claim_ratio) == (
        "C1", "M1", Basis.NATURAL, 5500)
    assert (event.branch, event.rulebook_version, event.on, event.reason) == (
        "B1", "2024.1", MAR1, "allocation")
    taken = m1.collect_events()
    assert [(type(e).__name__, e.customer_no, e.on) for e in taken] == [
        ("CustodyTaken", "C1", MAR1)]
    assert assignment.custodian == "M1"
    assert assignment.custodian_on(date(2026, 2, 28)) is None
    assert assignment.custodian_on(MAR1) == "M1"
    assert [e.customer_no for e in m1.book_on(MAR1)] == ["C1"]
    assert c1.pending_events == []  # the customer itself is not changed
    view = assignment.as_dict(MAR1)
    assert (view["custodian"], view["since"], view["mode"]) == ("M1", MAR1, "initial")


@pytest.mark.parametrize(
    ("origin", "used", "floor"),
    [
        (Origin.NATURAL, False, 5000),
        (Origin.PUBLIC, False, 0),
        (Origin.MARKETED, True, 8000),
        (Origin.MARKETED, False, 10000),
    ],
    ids=["natural-0.50", "public-any", "marketed-with-resources-0.80",
         "marketed-without-resources-1.00"],
)
def test_claim_ratio_floor_by_basis(origin, used, floor, m1):
    customer = make_customer(origin=origin, used_branch_resources=used)
    if floor > 0:
        with refuses("ratio_below_floor", customer, m1, field="claim_ratio") as info:
            assign(customer, m1, ratio=floor - 1)
        assert customer.basis.value in str(info.value)
    assignment = assign(customer, m1, ratio=floor)
    assert assignment.terms[0].claim_ratio == floor
    assert assign(make_customer("C9", origin=origin, used_branch_resources=used),
                  make_manager("M9"), ratio=10000).terms[0].claim_ratio == 10000


def test_public_customer_ratio_is_negotiated_anywhere_in_0_1(m1):
    customer = make_customer(origin=Origin.PUBLIC)
    assert assign(customer, m1, ratio=0).terms[0].claim_ratio == 0


def test_basis_must_be_the_customers(c1, m1):
    with refuses("validation_error", c1, m1, field="basis"):
        assign(c1, m1, basis=Basis.PUBLIC, ratio=0)


@pytest.mark.parametrize(
    "role", [Role.RETAIL_MANAGER, Role.ASSISTANT_PRIVATE, Role.ASSISTANT_DIAMOND,
             Role.OTHER_STAFF])
def test_corporate_customers_only_to_customer_managers(role):
    customer = make_customer()
    staff = make_manager(role=role)
    with refuses("ineligible_custodian", customer, staff, field="staff_no") as info:
        assign(customer, staff)
    assert role.value in str(info.value)


@pytest.mark.parametrize(
    "role", [Role.CUSTOMER_MANAGER, Role.RETAIL_MANAGER, Role.ASSISTANT_PRIVATE,
             Role.ASSISTANT_DIAMOND])
def test_individual_customers_to_the_four_eligible_roles(role):
    customer = make_customer(segment=Segment.INDIVIDUAL)
    assert assign(customer, make_manager(role=role)).custodian == "M1"


def test_individual_customers_not_to_other_staff():
    customer = make_customer(segment=Segment.INDIVIDUAL)
    staff = make_manager(role=Role.OTHER_STAFF)
    with refuses("ineligible_custodian", customer, staff):
        assign(customer, staff)


@pytest.mark.parametrize(
    ("role", "segment", "cap"),
    [
        (Role.CUSTOMER_MANAGER, Segment.CORPORATE, 50),
        (Role.ASSISTANT_PRIVATE, Segment.INDIVIDUAL, 35),
        (Role.ASSISTANT_DIAMOND, Segment.INDIVIDUAL, 100),
    ],
)
def test_capacity_caps(role, segment, cap):
    customer = make_customer(segment=segment)
    staff = make_manager(role=role)
    with refuses("capacity_exceeded", customer, staff, field="staff_no") as info:
        assign(customer, staff, counted_now=cap, counts=True)
    assert str(cap) in str(info.value)
    assert assign(customer, staff, counted_now=cap - 1, counts=True).custodian == "M1"


def test_a_customer_that_does_not_count_never_exceeds_the_cap():
    customer = make_customer()
    assert assign(customer, make_manager(), counted_now=50, counts=False).custodian == "M1"


def test_what_counts_toward_a_cap():
    cm = Role.CUSTOMER_MANAGER
    assert counts_toward_cap(RULEBOOK, cm, Segment.CORPORATE, True)
    assert not counts_toward_cap(RULEBOOK, cm, Segment.CORPORATE, False)
    assert not counts_toward_cap(RULEBOOK, cm, Segment.INDIVIDUAL, True)
    for assistant in (Role.ASSISTANT_PRIVATE, Role.ASSISTANT_DIAMOND):
        for segment in Segment:
            for credit in (True, False):
                assert counts_toward_cap(RULEBOOK, assistant, segment, credit)
    assert not counts_toward_cap(RULEBOOK, Role.RETAIL_MANAGER, Segment.INDIVIDUAL, True)
    # no cap for the role: never refused, whatever the count
    book_must_stay_within_cap(RULEBOOK, Role.RETAIL_MANAGER, 10_000, 1)
    book_must_stay_within_cap(RULEBOOK, Role.CUSTOMER_MANAGER, 50, 0)


def test_departed_manager_receives_no_new_customers(c1, m1):
    departed(m1)
    with refuses("custodian_departed", c1, m1, field="staff_no"):
        assign(c1, m1, on=JAN1)


@pytest.mark.parametrize(
    ("on", "field"),
    [(date(2026, 11, 2), "effective_on"), (date(2025, 12, 31), "effective_on")],
    ids=["future", "before-onboarding"],
)
def test_assignment_date_out_of_range(c1, m1, on, field):
    with refuses("date_out_of_range", c1, m1, field=field):
        assign(c1, m1, on=on)


def test_assignment_before_the_manager_was_hired(c1):
    rookie = make_manager(hired_on=MAR1)
    with refuses("date_out_of_range", c1, rookie, field="effective_on"):
        assign(c1, rookie, on=JAN1)


def test_assignment_across_branches_is_refused(c1):
    other_branch = make_manager(branch="B2")
    with refuses("validation_error", c1, other_branch, field="staff_no"):
        assign(c1, other_branch)


def test_closed_customer_cannot_be_assigned(m1):
    customer = make_customer(segment=Segment.INDIVIDUAL)
    customer.close(on=MAR1, today=TODAY, actor="ops")
    customer.collect_events()
    with refuses("customer_closed", customer, m1):
        assign(customer, m1, on=JAN1)


def test_rulebook_in_force_sets_the_floors(c1, m1):
    document = default_document()
    document["version"] = "2026.strict"
    document["effective_from"] = "2026-01-01"
    document["claim_floors"]["natural"] = "0.70"
    strict = parse_rulebook(document)
    with refuses("ratio_below_floor", c1, m1) as info:
        assign(c1, m1, ratio=6000, rulebook=strict)
    assert "2026.strict" in info.value.rule
    assignment = assign(c1, m1, ratio=7000, rulebook=strict)
    assert assignment.collect_events()[0].rulebook_version == "2026.strict"


# ---- handover (他人移交) -----------------------------------------------------------------


def test_handover_keeps_the_stock_and_shares_the_increment(c1, m1, m2, held):
    c1.record_balance(on=JAN1, deposit_fen=1_000_000_00, loan_fen=0, today=TODAY, actor="feed")
    c1.record_balance(on=JUL1, deposit_fen=1_500_000_00, loan_fen=0, today=TODAY, actor="feed")
    c1.collect_events()
    base = hand_over(held, c1, m1, m2)
    # previous half-year before 1 Jul: 1 Jan … 30 Jun, 181 days at 1,000,000.00
    assert (base.start, base.end, base.days) == (JAN1, date(2026, 6, 30), 181)
    assert base.daily_average == 1_000_000_00
    events = held.collect_events()
    assert [type(e).__name__ for e in events] == ["Reassigned"]
    event = events[0]
    assert event.mode == ReassignmentMode.HANDOVER
    assert (event.from_staff_no, event.to_staff_no) == ("M1", "M2")
    assert (event.deposit_ratio, event.non_deposit_ratio, event.claim_ratio) == (6000, 8000, None)
    assert (event.base_start, event.base_end) == (JAN1, date(2026, 6, 30))
    assert (event.base_balance_days, event.base_days) == (181 * 1_000_000_00, 181)
    assert event.rulebook_version == "2024.1"
    term = held.terms[-1]
    assert (term.mode, term.custodian, term.outgoing) == ("handover", "M2", "M1")
    assert term.base_daily_average == Fraction(1_000_000_00)
    assert held.custodian_on(date(2026, 6, 30)) == "M1"
    assert held.custodian_on(JUL1) == "M2"
    assert event_names(m1) == ["CustodyReleased"]
    assert event_names(m2) == ["CustodyTaken"]
    assert [e.customer_no for e in m1.book_on(date(2026, 6, 30))] == ["C1"]
    assert m1.book_on(JUL1) == []
    assert [e.customer_no for e in m2.book_on(JUL1)] == ["C1"]


def test_handover_base_uses_the_rulebooks_window(c1, m1, m2, held):
    document = default_document()
    document.update(version="2026.ytd", effective_from="2026-01-01", base_window="year_to_date")
    ytd = parse_rulebook(document)
    c1.record_balance(on=JAN1, deposit_fen=100, loan_fen=0, today=TODAY, actor="feed")
    c1.record_balance(on=MAR1, deposit_fen=400, loan_fen=0, today=TODAY, actor="feed")
    c1.collect_events()
    base = hand_over(held, c1, m1, m2, on=SEP1, rulebook=ytd)
    assert (base.start, base.end) == (JAN1, date(2026, 8, 31))
    assert base.days == 243
    assert base.balance_days == 59 * 100 + 184 * 400


def test_handover_with_no_balances_has_a_zero_base(c1, m1, m2, held):
    base = hand_over(held, c1, m1, m2)
    assert base.daily_average == 0
    assert held.terms[-1].base_balance_days == 0


@pytest.mark.parametrize(
    ("deposit", "non_deposit", "field"),
    [(5999, 8000, "deposit_ratio"), (6000, 7999, "non_deposit_ratio"),
     (0, 0, "deposit_ratio")],
)
def test_handover_ratio_floors(c1, m1, m2, held, deposit, non_deposit, field):
    with refuses("ratio_below_floor", held, c1, m1, m2, field=field):
        hand_over(held, c1, m1, m2, deposit=deposit, non_deposit=non_deposit)


def test_handover_at_exactly_the_floors(c1, m1, m2, held):
    hand_over(held, c1, m1, m2, deposit=6000, non_deposit=8000)
    assert held.custodian == "M2"


def test_handover_from_a_departed_custodian_is_refused(c1, m1, m2, held):
    departed(m1, on=date(2026, 6, 1))
    with refuses("custodian_departed", held, c1, m1, m2, field="mode") as info:
        hand_over(held, c1, m1, m2)
    assert "full transfer" in str(info.value)


def test_handover_to_a_departed_manager_is_refused(c1, m1, m2, held):
    departed(m2)
    with refuses("custodian_departed", held, c1, m1, m2, field="to_staff_no"):
        hand_over(held, c1, m1, m2)


@pytest.mark.parametrize("mode", ["handover", "full"])
def test_same_custodian_is_refused(c1, m1, held, mode):
    with refuses("same_custodian", held, c1, m1, field="to_staff_no"):
        if mode == "handover":
            hand_over(held, c1, m1, m1)
        else:
            transfer(held, c1, m1, m1)


@pytest.mark.parametrize("mode", ["handover", "full"])
@pytest.mark.parametrize(
    "on", [date(2026, 11, 2), date(2025, 12, 31), date(2026, 2, 28)],
    ids=["future", "before-onboarding", "before-current-custody"])
def test_reassignment_date_out_of_range(c1, m1, m2, mode, on):
    held = make_assignment(c1, m1, on=MAR1)
    with refuses("date_out_of_range", held, c1, m1, m2, field="effective_on"):
        if mode == "handover":
            hand_over(held, c1, m1, m2, on=on)
        else:
            transfer(held, c1, m1, m2, on=on)


def test_reassignment_before_the_latest_custody_term(c1, m1, m2, held):
    hand_over(held, c1, m1, m2, on=JUL1)
    for a in (held, m1, m2):
        a.collect_events()
    with refuses("date_out_of_range", held, c1, m1, m2, field="effective_on"):
        transfer(held, c1, m2, m1, on=date(2026, 6, 30))


@pytest.mark.parametrize("mode", ["handover", "full"])
def test_reassignment_to_an_ineligible_or_full_manager(c1, m1, held, mode):
    retail = make_manager("R1", role=Role.RETAIL_MANAGER)
    full = make_manager("M3")
    run = hand_over if mode == "handover" else transfer
    with refuses("ineligible_custodian", held, c1, m1, retail, field="to_staff_no"):
        run(held, c1, m1, retail)
    with refuses("capacity_exceeded", held, c1, m1, full, field="to_staff_no"):
        run(held, c1, m1, full, counted_now=50, counts=True)


@pytest.mark.parametrize("mode", ["handover", "full"])
def test_reassignment_of_a_closed_customer(m1, m2, mode):
    customer = make_customer(segment=Segment.INDIVIDUAL)
    held = make_assignment(customer, m1)
    customer.close(on=SEP1, today=TODAY, actor="ops")
    customer.collect_events()
    run = hand_over if mode == "handover" else transfer
    with refuses("customer_closed", held, customer, m1, m2):
        run(held, customer, m1, m2, on=JUL1)


def test_reassignment_after_custody_ended(c1, m1, m2, held):
    held.end(custodian=m1, on=SEP1, actor="ops", reason="closed")
    for a in (held, m1):
        a.collect_events()
    with refuses("customer_closed", held, c1, m1, m2):
        transfer(held, c1, m1, m2, on=SEP1)


# ---- full transfer (整体移交) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "used", "floor"),
    [(Origin.NATURAL, False, 5000), (Origin.PUBLIC, False, 0), (Origin.MARKETED, True, 8000),
     (Origin.MARKETED, False, 10000)],
)
def test_full_transfer_meets_the_origins_floor(origin, used, floor):
    customer = make_customer(origin=origin, used_branch_resources=used)
    m1, m2 = make_manager("M1"), make_manager("M2")
    held = make_assignment(customer, m1, claim_ratio=10000)
    if floor:
        with refuses("ratio_below_floor", held, customer, m1, m2, field="claim_ratio"):
            transfer(held, customer, m1, m2, ratio=floor - 1)
    transfer(held, customer, m1, m2, ratio=floor)
    events = held.collect_events()
    assert (events[0].mode, events[0].claim_ratio, events[0].deposit_ratio) == (
        ReassignmentMode.FULL, floor, None)
    term = held.terms[-1]
    assert (term.mode, term.custodian, term.outgoing, term.claim_ratio) == (
        "full", "M2", None, floor)
    assert term.base_daily_average is None


def test_full_transfer_from_a_departed_custodian_is_how_their_customers_move(c1, m1, m2, held):
    departed(m1)
    transfer(held, c1, m1, m2, on=JUL1)
    assert held.custodian_on(JUL1) == "M2"
    assert event_names(m1) == ["CustodyReleased"]
    assert m1.current_book() == []


def test_full_transfer_to_a_departed_manager_is_refused(c1, m1, m2, held):
    departed(m2)
    with refuses("custodian_departed", held, c1, m1, m2, field="to_staff_no"):
        transfer(held, c1, m1, m2)


def test_reassignment_on_the_day_custody_began_replaces_it(c1, m1, m2):
    held = make_assignment(c1, m1, on=MAR1)
    transfer(held, c1, m1, m2, on=MAR1)
    assert held.custodian_on(MAR1) == "M2"
    assert held.custodian_on(date(2026, 2, 28)) is None
    assert m1.book_on(MAR1) == []
    assert [e.customer_no for e in m2.book_on(MAR1)] == ["C1"]


# ---- end of custody and the chain --------------------------------------------------------


def test_custody_ends_with_closure(c1, m1, m2, held):
    hand_over(held, c1, m1, m2, on=JUL1)
    for a in (held, m1, m2):
        a.collect_events()
    held.end(custodian=m2, on=SEP1, actor="ops", reason="customer closed")
    assert event_names(held) == ["Ended"]
    assert event_names(m2) == ["CustodyReleased"]
    assert held.ended_on == SEP1
    assert held.custodian_on(date(2026, 8, 31)) == "M2"
    assert held.custodian_on(SEP1) is None
    assert held.term_on(TODAY) is None
    assert m2.book_on(SEP1) == []
    assert m2.current_book() == []
    assert held.as_dict(date(2026, 8, 31))["ended_on"] is None
    assert held.as_dict(SEP1)["ended_on"] == SEP1


def test_as_dict_shows_the_chain_as_of_a_date(c1, m1, m2, held):
    hand_over(held, c1, m1, m2, on=JUL1)
    transfer(held, c1, m2, m1, on=SEP1, ratio=6000)
    before = held.as_dict(date(2026, 6, 30))
    assert (before["custodian"], before["mode"], len(before["chain"])) == ("M1", "initial", 1)
    middle = held.as_dict(date(2026, 8, 31))
    assert (middle["custodian"], middle["mode"], middle["since"]) == ("M2", "handover", JUL1)
    assert [t.custodian for t in middle["chain"]] == ["M1", "M2"]
    now = held.as_dict(TODAY)
    assert (now["custodian"], now["mode"]) == ("M1", "full")
    assert [dataclasses.astuple(t)[:3] for t in now["chain"]] == [
        (JAN1, "initial", "M1"), (JUL1, "handover", "M2"), (SEP1, "full", "M1")]
    assert [(e.since, e.until) for e in m1.book] == [(JAN1, JUL1), (SEP1, None)]


def test_assignment_id_is_derived_from_customer_no(c1, m1):
    other = make_customer("C2")
    assert assign(c1, m1).id == assign(c1, make_manager("M7")).id != assign(other, m1).id


# ---- the rule functions on their own -------------------------------------------------------


def test_rule_functions_name_their_field_and_rule():
    with pytest.raises(Refusal) as info:
        custodian_must_be_eligible(RULEBOOK, Segment.CORPORATE, Role.OTHER_STAFF, "to_staff_no")
    assert (info.value.code, info.value.field) == ("ineligible_custodian", "to_staff_no")
    assert "S0 §11" in info.value.rule
    with pytest.raises(Refusal) as info:
        claim_ratio_must_meet_floor(RULEBOOK, Basis.MARKETED_WITHOUT_BRANCH_RESOURCES, 9999)
    assert (info.value.code, info.value.field) == ("ratio_below_floor", "claim_ratio")
    assert "1.00" in str(info.value)
    assert "0.9999" in str(info.value)
    with pytest.raises(Refusal) as info:
        handover_ratios_must_meet_floors(RULEBOOK, 6000, 7999)
    assert (info.value.code, info.value.field) == ("ratio_below_floor", "non_deposit_ratio")
    with pytest.raises(Refusal) as info:
        book_must_stay_within_cap(RULEBOOK, Role.ASSISTANT_PRIVATE, 35, 1)
    assert (info.value.code, info.value.field) == ("capacity_exceeded", "staff_no")
    assert info.value.rule.startswith("caps.assistant_private")
