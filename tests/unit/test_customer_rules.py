"""The Customer aggregate [DOMAIN §2, §10]: every rule and every refusal, no store.

After each refusal the aggregate has no pending events and its state is
exactly as before (`refuses` checks both).
"""

from __future__ import annotations

from datetime import date

import pytest

from domain.customer import BalanceOutcome, Customer
from domain.errors import InvalidInput
from domain.values import (
    AccountType,
    ActivityStatus,
    Basis,
    Channel,
    Origin,
    Purpose,
    Segment,
    Service,
)
from tests.support import JAN1, TODAY, event_names, make_customer, refuses, refuses_nothing

pytestmark = pytest.mark.unit

MAR1 = date(2026, 3, 1)
JUN1 = date(2026, 6, 1)


def onboard(**overrides):
    args = {"customer_no": "C1", "name": "C1 Co", "segment": Segment.CORPORATE, "branch": "B1",
                "origin": Origin.NATURAL, "marketed_by": None, "used_branch_resources": False, "on": JAN1,
                "today": TODAY, "actor": "ops", "reason": None}
    args.update(overrides)
    return Customer.onboard(**args)


def with_account(customer: Customer, account_no: str = "A1",
                 type: AccountType = AccountType.BASIC, on: date = JAN1) -> Customer:
    customer.open_account(account_no=account_no, type=type, currency="CNY", on=on, today=TODAY,
                          actor="ops")
    customer.collect_events()
    return customer


# ---- onboarding ----------------------------------------------------------------


def test_onboarding_records_one_event_with_the_facts():
    customer = onboard(origin=Origin.MARKETED, marketed_by="M7", used_branch_resources=True,
                       reason="won at the fair")
    events = customer.collect_events()
    assert [type(e).__name__ for e in events] == ["Onboarded"]
    event = events[0]
    assert (event.customer_no, event.on, event.actor, event.reason) == (
        "C1", JAN1, "ops", "won at the fair")
    assert customer.segment is Segment.CORPORATE
    assert customer.origin is Origin.MARKETED
    assert customer.marketed_by == "M7"
    assert customer.basis is Basis.MARKETED_WITH_BRANCH_RESOURCES
    assert customer.onboarded_on == JAN1
    assert customer.closed_on is None
    assert customer.status_on(JAN1) is ActivityStatus.NORMAL


@pytest.mark.parametrize(
    ("origin", "used", "basis"),
    [
        (Origin.NATURAL, False, Basis.NATURAL),
        (Origin.PUBLIC, False, Basis.PUBLIC),
        (Origin.MARKETED, True, Basis.MARKETED_WITH_BRANCH_RESOURCES),
        (Origin.MARKETED, False, Basis.MARKETED_WITHOUT_BRANCH_RESOURCES),
    ],
)
def test_basis_follows_origin(origin, used, basis):
    customer = make_customer(origin=origin, used_branch_resources=used)
    assert customer.basis is basis


def test_customer_id_is_derived_from_customer_no():
    assert onboard().id == onboard().id
    assert onboard().id != onboard(customer_no="C2").id


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"on": date(2026, 11, 2)}, "date_out_of_range", "onboarded_on"),
        ({"name": "   "}, "validation_error", "name"),
        ({"name": "x" * 201}, "validation_error", "name"),
        ({"origin": Origin.MARKETED, "marketed_by": None}, "validation_error", "marketed_by"),
        ({"origin": Origin.NATURAL, "marketed_by": "M1"}, "validation_error", "marketed_by"),
        ({"origin": Origin.PUBLIC, "used_branch_resources": True}, "validation_error",
         "marketed_by"),
    ],
)
def test_onboarding_refusals(overrides, code, field):
    with refuses(code, field=field):
        onboard(**overrides)


def test_onboarding_today_is_allowed():
    assert onboard(on=TODAY).onboarded_on == TODAY


# ---- accounts --------------------------------------------------------------------


def test_open_account_records_it():
    customer = make_customer()
    customer.open_account(account_no="A1", type=AccountType.BASIC, currency="USD", on=MAR1,
                          today=TODAY, actor="ops", reason="new basic")
    assert event_names(customer) == ["AccountOpened"]
    account = customer.accounts["A1"]
    assert (account.type, account.currency, account.opened_on, account.closed_on) == (
        AccountType.BASIC, "USD", MAR1, None)
    assert [a.account_no for a in customer.open_accounts_on(MAR1)] == ["A1"]
    assert customer.open_accounts_on(date(2026, 2, 28)) == []


def test_second_open_basic_account_is_refused():
    customer = with_account(make_customer())
    with refuses("second_basic_account", customer, field="type"):
        customer.open_account(account_no="A2", type=AccountType.BASIC, currency="CNY", on=MAR1,
                              today=TODAY, actor="ops")


def test_other_account_types_alongside_a_basic_account_are_fine():
    customer = with_account(make_customer())
    for i, kind in enumerate([AccountType.GENERAL, AccountType.SPECIAL, AccountType.TEMPORARY,
                              AccountType.GENERAL]):
        customer.open_account(account_no=f"G{i}", type=kind, currency="CNY", on=MAR1,
                              today=TODAY, actor="ops")
    assert len(customer.collect_events()) == 4
    assert len(customer.open_accounts_on(MAR1)) == 5


def test_new_basic_account_after_the_old_one_closed():
    customer = with_account(with_account(make_customer()), "G1", AccountType.GENERAL)
    customer.close_account(account_no="A1", on=MAR1, today=TODAY, actor="ops")
    customer.collect_events()
    customer.open_account(account_no="A2", type=AccountType.BASIC, currency="CNY", on=MAR1,
                          today=TODAY, actor="ops")
    assert event_names(customer) == ["AccountOpened"]


def test_same_account_number_twice_is_refused():
    customer = with_account(make_customer())
    with refuses("already_exists", customer, field="account_no"):
        customer.open_account(account_no="A1", type=AccountType.GENERAL, currency="CNY",
                              on=MAR1, today=TODAY, actor="ops")


@pytest.mark.parametrize("currency", ["cny", "CN", "CNYY", "C1Y", ""])
def test_bad_currency_is_refused(currency):
    customer = make_customer()
    with refuses("validation_error", customer, field="currency"):
        customer.open_account(account_no="A1", type=AccountType.GENERAL, currency=currency,
                              on=MAR1, today=TODAY, actor="ops")


@pytest.mark.parametrize(
    ("on", "field"),
    [(date(2026, 11, 2), "opened_on"), (date(2025, 12, 31), "opened_on")],
    ids=["future", "before-onboarding"],
)
def test_account_opening_date_out_of_range(on, field):
    customer = make_customer()
    with refuses("date_out_of_range", customer, field=field):
        customer.open_account(account_no="A1", type=AccountType.BASIC, currency="CNY", on=on,
                              today=TODAY, actor="ops")


def test_closing_an_account_that_is_not_the_last():
    customer = with_account(with_account(make_customer()), "G1", AccountType.GENERAL)
    assert customer.close_account(account_no="G1", on=MAR1, today=TODAY, actor="ops") is False
    assert event_names(customer) == ["AccountClosed"]
    assert customer.accounts["G1"].closed_on == MAR1
    assert customer.closed_on is None
    assert [a.account_no for a in customer.open_accounts_on(MAR1)] == ["A1"]
    assert {a.account_no for a in customer.open_accounts_on(date(2026, 2, 28))} == {"A1", "G1"}


def test_closing_the_last_account_closes_the_customer():
    customer = with_account(make_customer())
    assert customer.close_account(account_no="A1", on=JUN1, today=TODAY, actor="ops") is True
    events = customer.collect_events()
    assert [type(e).__name__ for e in events] == ["AccountClosed", "Closed"]
    assert events[1].on == JUN1
    assert events[1].reason == "all accounts closed"
    assert customer.closed_on == JUN1
    assert customer.closed_by(JUN1)
    assert not customer.closed_by(date(2026, 5, 31))


def test_closing_an_unknown_account_is_not_found():
    customer = with_account(make_customer())
    with refuses("not_found", customer, field="account_no"):
        customer.close_account(account_no="NOPE", on=MAR1, today=TODAY, actor="ops")


def test_closing_a_closed_account_is_refused():
    customer = with_account(with_account(make_customer()), "G1", AccountType.GENERAL)
    customer.close_account(account_no="G1", on=MAR1, today=TODAY, actor="ops")
    customer.collect_events()
    with refuses("account_closed", customer, field="account_no"):
        customer.close_account(account_no="G1", on=JUN1, today=TODAY, actor="ops")


def test_closing_an_account_before_it_opened_is_refused():
    customer = with_account(make_customer(), on=JUN1)
    with refuses("date_out_of_range", customer):
        customer.close_account(account_no="A1", on=MAR1, today=TODAY, actor="ops")


def test_closing_an_account_in_the_future_is_refused():
    customer = with_account(make_customer())
    with refuses("date_out_of_range", customer):
        customer.close_account(account_no="A1", on=date(2026, 11, 2), today=TODAY, actor="ops")


# ---- closure ----------------------------------------------------------------------


def test_close_customer_without_accounts():
    customer = make_customer(segment=Segment.INDIVIDUAL)
    customer.close(on=JUN1, today=TODAY, actor="ops", reason="moved away")
    events = customer.collect_events()
    assert [type(e).__name__ for e in events] == ["Closed"]
    assert events[0].reason == "moved away"
    assert customer.closed_on == JUN1


def test_close_customer_with_open_accounts_is_refused():
    customer = with_account(with_account(make_customer()), "G1", AccountType.GENERAL)
    with refuses("accounts_open", customer) as info:
        customer.close(on=JUN1, today=TODAY, actor="ops")
    assert "A1" in str(info.value)
    assert "G1" in str(info.value)


def test_closing_a_closed_customer_is_refused():
    customer = make_customer()
    customer.close(on=MAR1, today=TODAY, actor="ops")
    customer.collect_events()
    with refuses("customer_closed", customer):
        customer.close(on=MAR1, today=TODAY, actor="ops")
    with refuses("customer_closed", customer):
        customer.close(on=JUN1, today=TODAY, actor="ops")


@pytest.mark.parametrize(
    "on", [date(2026, 11, 2), date(2025, 12, 31)], ids=["future", "before-onboarding"])
def test_closure_date_out_of_range(on):
    customer = make_customer()
    with refuses("date_out_of_range", customer):
        customer.close(on=on, today=TODAY, actor="ops")


def test_nothing_is_recorded_after_closure():
    customer = make_customer(segment=Segment.INDIVIDUAL)
    customer.close(on=MAR1, today=TODAY, actor="ops")
    customer.collect_events()
    after = date(2026, 3, 2)
    attempts = [
        lambda: customer.open_account(account_no="A9", type=AccountType.GENERAL, currency="CNY",
                                      on=after, today=TODAY, actor="ops"),
        lambda: customer.record_balance(on=after, deposit_fen=1, loan_fen=0, today=TODAY,
                                        actor="feed"),
        lambda: customer.grant_credit(limit_fen=100, on=after, today=TODAY, actor="ops"),
        lambda: customer.record_non_deposit(on=after, kind="fee", amount_fen=1, today=TODAY,
                                            actor="feed"),
        lambda: customer.change_status(status=ActivityStatus.DORMANT, on=after, today=TODAY,
                                       actor="ops"),
        lambda: customer.sign_service(service=Service.PAYROLL, on=after, today=TODAY,
                                      actor="ops"),
        lambda: customer.record_card_spending(month=date(2026, 4, 1), amount_fen=1, today=TODAY,
                                              actor="feed"),
        lambda: customer.record_repayment_default(on=after, today=TODAY, actor="feed"),
        lambda: customer.log_visit(staff_no="M1", on=after, channel=Channel.PHONE,
                                   purpose=Purpose.ROUTINE, notes="", today=TODAY, actor="M1"),
    ]
    for attempt in attempts:
        with refuses("customer_closed", customer):
            attempt()


def test_a_late_balance_for_a_day_before_closure_is_still_accepted():
    customer = make_customer()
    customer.close(on=MAR1, today=TODAY, actor="ops")
    customer.collect_events()
    assert customer.record_balance(on=MAR1, deposit_fen=5, loan_fen=0, today=TODAY,
                                   actor="feed") == BalanceOutcome.RECORDED


def test_a_closed_customer_gets_no_backdated_account():
    customer = make_customer()
    customer.close(on=JUN1, today=TODAY, actor="ops")
    customer.collect_events()
    with refuses("customer_closed", customer):
        customer.open_account(account_no="A9", type=AccountType.GENERAL, currency="CNY",
                              on=MAR1, today=TODAY, actor="ops")


def test_customer_closes_when_its_last_account_closes_by_date():
    customer = with_account(with_account(make_customer()), "G1", AccountType.GENERAL)
    customer.close_account(account_no="G1", on=date(2026, 9, 1), today=TODAY, actor="ops")
    customer.collect_events()
    assert customer.close_account(account_no="A1", on=MAR1, today=TODAY, actor="ops") is True
    assert customer.closed_on == date(2026, 9, 1)


# ---- credit --------------------------------------------------------------------------


def test_credit_customer_while_a_line_is_open():
    customer = make_customer()
    customer.grant_credit(limit_fen=100_000_00, on=MAR1, today=TODAY, actor="ops")
    assert event_names(customer) == ["CreditGranted"]
    assert not customer.credit_customer_on(date(2026, 2, 28))
    assert customer.credit_customer_on(MAR1)
    customer.close_credit(on=JUN1, today=TODAY, actor="ops")
    assert event_names(customer) == ["CreditClosed"]
    assert customer.credit_customer_on(date(2026, 5, 31))
    assert not customer.credit_customer_on(JUN1)
    # a new line may start on the day the last one closed
    customer.grant_credit(limit_fen=1, on=JUN1, today=TODAY, actor="ops")
    assert event_names(customer) == ["CreditGranted"]
    assert customer.credit_customer_on(JUN1)
    assert [line.limit_fen for line in customer.credit_lines] == [100_000_00, 1]


@pytest.mark.parametrize("limit", [0, -100])
def test_credit_limit_must_be_positive(limit):
    customer = make_customer()
    with refuses("validation_error", customer, field="limit"):
        customer.grant_credit(limit_fen=limit, on=MAR1, today=TODAY, actor="ops")


def test_second_open_credit_line_is_refused():
    customer = make_customer()
    customer.grant_credit(limit_fen=100, on=MAR1, today=TODAY, actor="ops")
    customer.collect_events()
    with refuses("already_exists", customer, field="granted_on"):
        customer.grant_credit(limit_fen=100, on=JUN1, today=TODAY, actor="ops")


def test_new_credit_line_cannot_start_before_the_last_closed():
    customer = make_customer()
    customer.grant_credit(limit_fen=100, on=MAR1, today=TODAY, actor="ops")
    customer.close_credit(on=JUN1, today=TODAY, actor="ops")
    customer.collect_events()
    with refuses("validation_error", customer, field="granted_on"):
        customer.grant_credit(limit_fen=100, on=date(2026, 5, 31), today=TODAY, actor="ops")


def test_closing_credit_without_an_open_line_is_not_found():
    customer = make_customer()
    with refuses("not_found", customer):
        customer.close_credit(on=MAR1, today=TODAY, actor="ops")


def test_closing_credit_before_it_was_granted_is_refused():
    customer = make_customer()
    customer.grant_credit(limit_fen=100, on=JUN1, today=TODAY, actor="ops")
    customer.collect_events()
    with refuses("date_out_of_range", customer):
        customer.close_credit(on=MAR1, today=TODAY, actor="ops")


@pytest.mark.parametrize(
    "on", [date(2026, 11, 2), date(2025, 12, 31)], ids=["future", "before-onboarding"])
def test_credit_grant_date_out_of_range(on):
    customer = make_customer()
    with refuses("date_out_of_range", customer, field="granted_on"):
        customer.grant_credit(limit_fen=100, on=on, today=TODAY, actor="ops")


# ---- balances --------------------------------------------------------------------------


def test_balance_is_recorded_once_and_is_idempotent():
    customer = make_customer()
    outcome = customer.record_balance(on=MAR1, deposit_fen=1_000_000_00, loan_fen=5_00,
                                      today=TODAY, actor="feed")
    assert outcome == BalanceOutcome.RECORDED
    events = customer.collect_events()
    assert [type(e).__name__ for e in events] == ["BalanceRecorded"]
    assert (events[0].deposit_fen, events[0].loan_fen, events[0].on) == (1_000_000_00, 5_00, MAR1)
    with refuses_nothing(customer):
        again = customer.record_balance(on=MAR1, deposit_fen=1_000_000_00, loan_fen=5_00,
                                        today=TODAY, actor="feed")
    assert again == BalanceOutcome.UNCHANGED
    assert customer.balances == {MAR1: (1_000_000_00, 5_00)}


def test_different_values_for_a_recorded_date_are_a_correction_carrying_the_old_values():
    customer = make_customer()
    customer.record_balance(on=MAR1, deposit_fen=100, loan_fen=7, today=TODAY, actor="feed")
    customer.collect_events()
    outcome = customer.record_balance(on=MAR1, deposit_fen=250, loan_fen=7, today=TODAY,
                                      actor="feed", reason="late posting")
    assert outcome == BalanceOutcome.CORRECTED
    events = customer.collect_events()
    assert [type(e).__name__ for e in events] == ["BalanceCorrected"]
    correction = events[0]
    assert (correction.deposit_fen, correction.loan_fen) == (250, 7)
    assert (correction.previous_deposit_fen, correction.previous_loan_fen) == (100, 7)
    assert correction.reason == "late posting"
    assert customer.balances[MAR1] == (250, 7)
    # a second correction carries the corrected values as "previous"
    customer.record_balance(on=MAR1, deposit_fen=250, loan_fen=0, today=TODAY, actor="feed")
    second = customer.collect_events()[0]
    assert (second.previous_deposit_fen, second.previous_loan_fen) == (250, 7)
    assert second.reason == "corrected by the balance feed"
    # and the corrected value is idempotent too
    assert customer.record_balance(on=MAR1, deposit_fen=250, loan_fen=0, today=TODAY,
                                   actor="feed") == BalanceOutcome.UNCHANGED
    assert customer.pending_events == []


def test_balance_on_carries_forward_and_deposits_lists_the_records():
    customer = make_customer()
    customer.record_balance(on=MAR1, deposit_fen=100, loan_fen=1, today=TODAY, actor="feed")
    customer.record_balance(on=JUN1, deposit_fen=300, loan_fen=2, today=TODAY, actor="feed")
    assert customer.balance_on(date(2026, 2, 28)) == (0, 0)
    assert customer.balance_on(MAR1) == (100, 1)
    assert customer.balance_on(date(2026, 5, 31)) == (100, 1)
    assert customer.balance_on(TODAY) == (300, 2)
    assert customer.deposits() == {MAR1: 100, JUN1: 300}


@pytest.mark.parametrize(
    ("deposit", "loan", "field"), [(-1, 0, "deposit"), (0, -1, "loan")])
def test_negative_balance_is_refused(deposit, loan, field):
    customer = make_customer()
    with refuses("validation_error", customer, field=field):
        customer.record_balance(on=MAR1, deposit_fen=deposit, loan_fen=loan, today=TODAY,
                                actor="feed")


@pytest.mark.parametrize(
    "on", [date(2026, 11, 2), date(2025, 12, 31)], ids=["future", "before-onboarding"])
def test_balance_date_out_of_range(on):
    customer = make_customer()
    with refuses("date_out_of_range", customer, field="on"):
        customer.record_balance(on=on, deposit_fen=1, loan_fen=0, today=TODAY, actor="feed")


def test_balance_for_today_and_onboarding_day_is_fine():
    customer = make_customer()
    customer.record_balance(on=JAN1, deposit_fen=1, loan_fen=0, today=TODAY, actor="feed")
    customer.record_balance(on=TODAY, deposit_fen=2, loan_fen=0, today=TODAY, actor="feed")
    assert event_names(customer) == ["BalanceRecorded", "BalanceRecorded"]


# ---- other facts -----------------------------------------------------------------------


def test_non_deposit_business():
    customer = make_customer()
    customer.record_non_deposit(on=MAR1, kind="wealth_sales", amount_fen=12_345, today=TODAY,
                                actor="feed")
    events = customer.collect_events()
    assert [(type(e).__name__, e.kind, e.amount_fen) for e in events] == [
        ("NonDepositBusinessRecorded", "wealth_sales", 12_345)]


@pytest.mark.parametrize(
    ("kind", "amount", "field"),
    [("", 1, "kind"), ("k" * 65, 1, "kind"), ("fee", 0, "amount"), ("fee", -5, "amount")])
def test_non_deposit_business_refusals(kind, amount, field):
    customer = make_customer()
    with refuses("validation_error", customer, field=field):
        customer.record_non_deposit(on=MAR1, kind=kind, amount_fen=amount, today=TODAY,
                                    actor="feed")


def test_non_deposit_business_date_out_of_range():
    customer = make_customer()
    with refuses("date_out_of_range", customer):
        customer.record_non_deposit(on=date(2026, 11, 2), kind="fee", amount_fen=1, today=TODAY,
                                    actor="feed")


def test_activity_status_changes_are_dated_and_idempotent():
    customer = make_customer()
    assert customer.change_status(status=ActivityStatus.DORMANT, on=JUN1, today=TODAY,
                                  actor="ops") is True
    events = customer.collect_events()
    assert (events[0].status, events[0].previous) == (ActivityStatus.DORMANT,
                                                      ActivityStatus.NORMAL)
    with refuses_nothing(customer):
        assert customer.change_status(status=ActivityStatus.DORMANT, on=date(2026, 7, 1),
                                      today=TODAY, actor="ops") is False
    # a back-dated change slots into the history by date
    assert customer.change_status(status=ActivityStatus.DORMANT, on=MAR1, today=TODAY,
                                  actor="ops") is True
    customer.change_status(status=ActivityStatus.NORMAL, on=date(2026, 9, 1), today=TODAY,
                           actor="ops")
    assert customer.status_on(date(2026, 2, 28)) is ActivityStatus.NORMAL
    assert customer.status_on(MAR1) is ActivityStatus.DORMANT
    assert customer.status_on(JUN1) is ActivityStatus.DORMANT
    assert customer.status_on(date(2026, 9, 1)) is ActivityStatus.NORMAL


def test_services_are_signed_once():
    customer = make_customer()
    assert customer.sign_service(service=Service.PAYROLL, on=MAR1, today=TODAY, actor="ops")
    assert event_names(customer) == ["ServiceSigned"]
    with refuses_nothing(customer):
        assert not customer.sign_service(service=Service.PAYROLL, on=JUN1, today=TODAY,
                                         actor="ops")
    assert customer.services == {Service.PAYROLL: MAR1}
    assert customer.as_dict(date(2026, 2, 28))["services"] == {}
    assert customer.as_dict(MAR1)["services"] == {"payroll": MAR1}


def test_card_spending_for_individuals():
    customer = make_customer(segment=Segment.INDIVIDUAL)
    assert customer.record_card_spending(month=date(2026, 3, 15), amount_fen=500, today=TODAY,
                                         actor="feed")
    events = customer.collect_events()
    assert (events[0].month, events[0].amount_fen, events[0].on) == ("2026-03", 500, MAR1)
    with refuses_nothing(customer):
        assert not customer.record_card_spending(month=MAR1, amount_fen=500, today=TODAY,
                                                 actor="feed")
    assert customer.record_card_spending(month=MAR1, amount_fen=0, today=TODAY, actor="feed")
    assert customer.card_spending == {"2026-03": 0}
    # the current month (starting before today) is fine
    assert customer.record_card_spending(month=date(2026, 11, 1), amount_fen=1, today=TODAY,
                                         actor="feed")


@pytest.mark.parametrize(
    ("segment", "month", "amount", "code"),
    [
        (Segment.CORPORATE, MAR1, 1, "validation_error"),
        (Segment.INDIVIDUAL, MAR1, -1, "validation_error"),
        (Segment.INDIVIDUAL, date(2026, 12, 1), 1, "date_out_of_range"),
        (Segment.INDIVIDUAL, date(2025, 12, 1), 1, "validation_error"),
    ],
    ids=["corporate", "negative", "future-month", "before-onboarding"],
)
def test_card_spending_refusals(segment, month, amount, code):
    customer = make_customer(segment=segment)
    with refuses(code, customer):
        customer.record_card_spending(month=month, amount_fen=amount, today=TODAY, actor="feed")


def test_repayment_default():
    customer = make_customer(segment=Segment.INDIVIDUAL)
    customer.record_repayment_default(on=MAR1, today=TODAY, actor="feed")
    assert event_names(customer) == ["RepaymentDefaultRecorded"]
    assert customer.repayment_defaults == [MAR1]
    with refuses("date_out_of_range", customer):
        customer.record_repayment_default(on=date(2026, 11, 2), today=TODAY, actor="feed")


def test_visit_is_logged():
    customer = make_customer()
    visit = customer.log_visit(staff_no="M1", on=MAR1, channel=Channel.ON_SITE,
                               purpose=Purpose.BUSINESS, notes="n" * 2000, today=TODAY,
                               actor="M1")
    assert event_names(customer) == ["VisitLogged"]
    assert (visit.on, visit.staff_no, visit.channel, visit.purpose) == (
        MAR1, "M1", Channel.ON_SITE, Purpose.BUSINESS)
    assert customer.visits == [visit]


@pytest.mark.parametrize(
    ("on", "notes", "code"),
    [
        (MAR1, "n" * 2001, "validation_error"),
        (date(2026, 11, 2), "", "date_out_of_range"),
        (date(2025, 12, 31), "", "date_out_of_range"),
    ],
    ids=["long-notes", "future", "before-onboarding"],
)
def test_visit_refusals(on, notes, code):
    customer = make_customer()
    with refuses(code, customer):
        customer.log_visit(staff_no="M1", on=on, channel=Channel.PHONE, purpose=Purpose.ROUTINE,
                           notes=notes, today=TODAY, actor="M1")


def test_as_dict_answers_as_of_a_date():
    customer = with_account(make_customer())
    customer.open_account(account_no="G1", type=AccountType.GENERAL, currency="CNY", on=JUN1,
                          today=TODAY, actor="ops")
    customer.grant_credit(limit_fen=100, on=JUN1, today=TODAY, actor="ops")
    customer.record_balance(on=MAR1, deposit_fen=100, loan_fen=3, today=TODAY, actor="feed")
    customer.record_balance(on=JUN1, deposit_fen=900, loan_fen=4, today=TODAY, actor="feed")
    march = customer.as_dict(MAR1)
    assert [a["account_no"] for a in march["accounts"]] == ["A1"]
    assert (march["credit_customer"], march["deposit_fen"], march["loan_fen"]) == (False, 100, 3)
    june = customer.as_dict(JUN1)
    assert [a["account_no"] for a in june["accounts"]] == ["A1", "G1"]
    assert (june["credit_customer"], june["deposit_fen"], june["loan_fen"]) == (True, 900, 4)
    assert june["segment"] == "corporate"
    assert june["status"] == "normal"


def test_invalid_input_is_a_refusal_with_the_validation_code():
    refusal = InvalidInput("x must be y", field="x", rule="S0 §1")
    assert refusal.code == "validation_error"
    assert str(refusal) == "x must be y [S0 §1]"
