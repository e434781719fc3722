"""The §7–8 reports over a store built through the real application, on both backends.

One small bank is built once per backend (today 2026-11-01) and every report
is checked against figures worked out by hand in the comments below:
visit compliance [S0 §14, S4 §11(2)], branch account-opening targets
[S0 §13(二)(2)], VIP levels [S2 §6–8] and a manager scorecard [S0 §16].
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from typer.testing import CliRunner

from application import commands as c
from application.service import BookOfBusiness
from application.settings import Settings
from domain.errors import DateOutOfRange, InvalidInput, NotFound
from projections.reader import BookReader
from projections.replay import book_reader
from projections.reports.scorecard import scorecard
from projections.reports.targets import branch_targets
from projections.reports.vip import vip_customers
from projections.reports.visits import visit_compliance
from projections.runner import Projector
from tests.conftest import POSTGRES_SKIP_REASON, TODAY, PostgresDatabase

pytestmark = pytest.mark.integration

JAN1 = date(2026, 1, 1)
VERSION = "2024.1"  # the built-in rulebook, in force throughout


# ---- the bank ---------------------------------------------------------------------------


class Bank:
    """Terse commands over a BookOfBusiness, for building the scenario."""

    def __init__(self, app: BookOfBusiness) -> None:
        self.app = app

    def manager(self, staff_no: str, role: str = "customer_manager") -> None:
        self.app.register_manager(c.RegisterManager(
            staff_no=staff_no, name=f"Staff {staff_no}", branch="B1", role=role,
            grade="manager", band=2, hired_on=date(2020, 1, 1)))

    def customer(self, no: str, *, on: date = JAN1, segment: str = "corporate",
                 branch: str = "B1", staff_no: str | None = None,
                 assigned_on: date | None = None) -> None:
        self.app.onboard_customer(c.OnboardCustomer(
            customer_no=no, name=f"{no} Co", segment=segment, branch=branch, origin="natural",
            onboarded_on=on))
        if staff_no is not None:
            self.app.assign(c.Assign(customer_no=no, staff_no=staff_no,
                                     effective_on=assigned_on or on, basis="natural",
                                     claim_ratio="0.50"))

    def account(self, no: str, account_no: str, on: date, type: str = "basic",
                currency: str = "CNY") -> None:
        self.app.open_account(c.OpenAccount(customer_no=no, account_no=account_no, type=type,
                                            currency=currency, opened_on=on))

    def balance(self, no: str, on: date, deposit: str, loan: str = "0.00") -> None:
        self.app.record_balance(c.RecordBalance(customer_no=no, on=on, deposit=deposit,
                                                loan=loan))

    def credit(self, no: str, on: date = JAN1) -> None:
        self.app.grant_credit(c.GrantCredit(customer_no=no, limit="1000000.00", granted_on=on))

    def visit(self, no: str, staff_no: str, *days: date) -> None:
        for on in days:
            self.app.log_visit(c.LogVisit(customer_no=no, staff_no=staff_no, on=on,
                                          channel="on_site", purpose="routine"))

    def status(self, no: str, status: str, on: date) -> None:
        self.app.change_status(c.ChangeStatus(customer_no=no, status=status, on=on))

    def sign(self, no: str, service: str, on: date) -> None:
        self.app.sign_service(c.SignService(customer_no=no, service=service, on=on))

    def card(self, no: str, month: str, amount: str) -> None:
        self.app.record_card_spending(c.RecordCardSpending(customer_no=no, month=month,
                                                           amount=amount))


def build_visits_and_scorecard(bank: Bank) -> None:
    """Branch B1. M1 holds C1, C2, C3, C7, C8; M3 (departed) holds C4; M2 holds nothing.

    Visits, 2026-H1 (monthly/quarterly/half-yearly cadence):
    - C1 credit, loan 500,000 → monthly: M1 visits Jan Feb Mar May Jun; April only by M2,
      who is not the custodian → 6 due, 5 compliant.
    - C2 non-credit (since 2025-07) → half-yearly: visited 2026-03-20 → 1 due, 1 compliant;
      visited 2025-09-10 too, so 2025-H2 was not missed.
    - C3 credit, loan 100,000 → quarterly, never visited → 2 due, 0 compliant; as of
      2026-06-30 overdue (missed 2026-Q1).
    - C7 non-credit, assigned 2026-02-01 → half-yearly, visited in April → 1 due, 1 compliant.
    - C8 non-credit, closed 2026-03-10 → not due (no custodian on 2026-06-30).
    M1: 10 due, 7 compliant, rate 0.7000. M3 departs 2026-05-15 still holding C4
    (half-yearly, no visit): 1 due, 0 compliant, C4 needs reassignment.
    """
    for staff_no in ("M1", "M2", "M3"):
        bank.manager(staff_no)
    bank.customer("C2", on=date(2025, 7, 1), staff_no="M1")
    bank.account("C2", "A2", date(2025, 7, 1), type="general")
    bank.balance("C2", date(2025, 7, 1), "200000.00")
    bank.visit("C2", "M1", date(2025, 9, 10), date(2026, 3, 20))
    bank.sign("C2", "e_banking", date(2025, 10, 1))  # before the period: not counted
    bank.account("C2", "A2U", date(2026, 2, 10), type="general", currency="USD")
    bank.status("C2", "dormant", date(2026, 2, 1))
    bank.status("C2", "normal", date(2026, 4, 1))

    bank.customer("C1", staff_no="M1")
    bank.account("C1", "A1", JAN1)
    bank.credit("C1")
    bank.balance("C1", JAN1, "100000.00", loan="500000.00")
    bank.visit("C1", "M1", *(date(2026, m, 15) for m in (1, 2, 3, 5, 6)))
    bank.visit("C1", "M2", date(2026, 4, 15))
    bank.sign("C1", "payroll", date(2026, 3, 1))

    bank.customer("C3", staff_no="M1")
    bank.account("C3", "A3", JAN1)
    bank.credit("C3")
    bank.balance("C3", JAN1, "0.00", loan="100000.00")
    bank.sign("C3", "e_banking", date(2026, 5, 1))

    bank.customer("C7")
    bank.account("C7", "A7", JAN1)  # opened before M1 took custody: not M1's
    bank.app.assign(c.Assign(customer_no="C7", staff_no="M1", effective_on=date(2026, 2, 1),
                             basis="natural", claim_ratio="0.50"))
    bank.visit("C7", "M1", date(2026, 4, 10))

    bank.customer("C8", staff_no="M1")
    bank.account("C8", "A8", JAN1)
    bank.app.close_account(c.CloseAccount(customer_no="C8", account_no="A8",
                                          on=date(2026, 3, 10)))

    bank.customer("C4", staff_no="M3")
    bank.app.record_departure(c.RecordDeparture(staff_no="M3", on=date(2026, 5, 15)))


def build_targets(bank: Bank) -> None:
    """Branch B2, March 2026: accounts in ISO weeks W10 (2), W11, W12, W14; an individual's
    account in W13 does not count. March: 5 opened (≥ 4 met), 2 basic (≥ 2 met)."""
    bank.customer("T1", on=date(2026, 3, 1), branch="B2")
    bank.customer("T2", on=date(2026, 3, 1), branch="B2")
    bank.customer("TI", on=date(2026, 3, 1), branch="B2", segment="individual")
    bank.account("T1", "T1A", date(2026, 3, 2))  # Monday, W10, basic
    bank.account("T1", "T1B", date(2026, 3, 4), type="general")  # W10
    bank.account("T2", "T2A", date(2026, 3, 9))  # W11, basic
    bank.account("T1", "T1C", date(2026, 3, 18), type="special")  # W12
    bank.account("TI", "TIA", date(2026, 3, 23), type="general")  # W13, individual
    bank.account("T1", "T1D", date(2026, 3, 31), type="temporary")  # Tuesday, W14


def build_vip(bank: Bank) -> None:
    """Individuals of B1, judged on 2026-11-01 over 2025-11 … 2026-10.

    V1 deposit 600,000 throughout → head office by deposit; V2 loan 1,200,000, no default →
    head office by loan; V3 loan 1,200,000 but a default in June, card 60,000 → branch by
    card; V4 card 60,000 + 40,000 → head office by card; V5 deposit 100,000 from January
    (mean 83,333.33) → no level; V6 deposit 300,000 throughout → branch by deposit.
    """
    bank.manager("R1", role="retail_manager")
    nov = date(2025, 11, 1)
    bank.customer("V1", on=nov, segment="individual", staff_no="R1")
    bank.balance("V1", nov, "600000.00")
    bank.customer("V2", segment="individual")
    bank.balance("V2", date(2026, 10, 1), "0.00", loan="1200000.00")
    bank.customer("V3", segment="individual")
    bank.balance("V3", date(2026, 10, 1), "0.00", loan="1200000.00")
    bank.app.record_repayment_default(c.RecordRepaymentDefault(customer_no="V3",
                                                               on=date(2026, 6, 1)))
    bank.card("V3", "2026-03", "60000.00")
    bank.customer("V4", segment="individual")
    bank.card("V4", "2026-01", "60000.00")
    bank.card("V4", "2026-09", "40000.00")
    bank.customer("V5", segment="individual")
    bank.balance("V5", JAN1, "100000.00")
    bank.customer("V6", on=nov, segment="individual")
    bank.balance("V6", nov, "300000.00")


def build(app: BookOfBusiness) -> None:
    bank = Bank(app)
    build_visits_and_scorecard(bank)
    build_targets(bank)
    build_vip(bank)


# ---- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                               marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                 ) -> str:
    """One store per backend for the whole module: the scenario is only read."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('reports')}/rmbook.db"
    database: PostgresDatabase | None = request.getfixturevalue("postgres_database")
    if database is None:
        pytest.skip(POSTGRES_SKIP_REASON)
    return f"{database.url()}?schema={database.create_schema()}"


@pytest.fixture(scope="module")
def projector(database_url: str) -> Iterator[Projector]:
    app = BookOfBusiness(Settings(database_url=database_url, today=TODAY))
    build(app)
    p = Projector(app)
    p.catch_up_all()
    yield p
    p.close()
    app.close()


@pytest.fixture
def reader(projector: Projector) -> Iterator[BookReader]:
    with book_reader(projector) as found:
        yield found


def row(report: dict[str, Any], staff_no: str) -> dict[str, Any]:
    return next(r for r in report["managers"] if r["staff_no"] == staff_no)


# ---- visit compliance -------------------------------------------------------------------


def test_compliance_counts_units_due_per_custodian(reader: BookReader) -> None:
    report = visit_compliance(reader, "B1", "2026-H1", TODAY)
    m1 = row(report, "M1")
    assert (m1["due"], m1["compliant"], m1["rate"]) == (10, 7, "0.7000")
    # C1 in April: visited only by M2, who was not the custodian.
    assert m1["non_compliant"] == [{"customer_no": "C1", "period": "2026-04"},
                                   {"customer_no": "C3", "period": "2026-Q1"},
                                   {"customer_no": "C3", "period": "2026-Q2"}]
    assert report["rulebook_version"] == VERSION
    assert report["overdue_as_of"] == date(2026, 6, 30)


def test_overdue_as_of_the_period_end(reader: BookReader) -> None:
    m1 = row(visit_compliance(reader, "B1", "2026-H1", TODAY), "M1")
    assert m1["overdue"] == [{"customer_no": "C3", "cadence": "quarter", "missed": "2026-Q1",
                              "last_visit": None, "needs_reassignment": False}]


def test_overdue_as_of_today_in_a_running_period(reader: BookReader) -> None:
    report = visit_compliance(reader, "B1", "2026-Q4", TODAY)
    assert report["overdue_as_of"] == TODAY
    late = {o["customer_no"]: o for o in row(report, "M1")["overdue"]}
    assert late["C1"]["missed"] == "2026-10"  # monthly, no visit since June
    assert late["C1"]["last_visit"] == date(2026, 6, 15)
    # October has ended (C1, not visited); November and the quarter have not.
    assert (row(report, "M1")["due"], row(report, "M1")["compliant"]) == (1, 0)


def test_departed_managers_customers_need_reassignment(reader: BookReader) -> None:
    m3 = row(visit_compliance(reader, "B1", "2026-H1", TODAY), "M3")
    assert (m3["due"], m3["compliant"], m3["rate"]) == (1, 0, "0.0000")
    assert m3["needs_reassignment"] == ["C4"]


def test_a_manager_with_nothing_due_has_no_rate(reader: BookReader) -> None:
    report = visit_compliance(reader, "B1", "2026-H1", TODAY)
    assert (row(report, "M2")["due"], row(report, "M2")["rate"]) == (0, None)
    assert (report["due"], report["compliant"]) == (11, 7)


def test_quarter_report_and_closed_customers(reader: BookReader) -> None:
    # Q1: C1 Jan/Feb/Mar (3/3), C3 Q1 (0/1); C2, C7 are half-yearly; C8 closed in March.
    m1 = row(visit_compliance(reader, "B1", "2026-Q1", TODAY), "M1")
    assert (m1["due"], m1["compliant"], m1["rate"]) == (4, 3, "0.7500")


def test_bad_periods_and_branches_are_refused(reader: BookReader) -> None:
    with pytest.raises(InvalidInput):
        visit_compliance(reader, "B1", "2026-Q5", TODAY)
    with pytest.raises(DateOutOfRange):
        visit_compliance(reader, "B1", "2027-Q1", TODAY)
    with pytest.raises(NotFound):
        visit_compliance(reader, "NOPE", "2026-Q1", TODAY)


# ---- branch targets ---------------------------------------------------------------------


def test_weeks_and_months_met_and_missed(reader: BookReader) -> None:
    report = branch_targets(reader, "B2", date(2026, 3, 1), date(2026, 4, 30), TODAY)
    assert report is not None
    weeks = {w["key"]: (w["settlement"]["count"], w["settlement"]["met"],
                        w["settlement"]["missed"]) for w in report["weeks"]}
    assert weeks["2026-W09"] == (0, False, True)  # Sunday 1 March
    assert weeks["2026-W10"] == (2, True, False)
    assert weeks["2026-W11"] == (1, True, False)
    assert weeks["2026-W13"] == (0, False, True)  # an individual's account does not count
    assert weeks["2026-W14"] == (1, True, False)
    march, april = report["months"]
    assert (march["key"], march["settlement"]["count"], march["settlement"]["met"]) == (
        "2026-03", 5, True)
    assert (march["basic"]["count"], march["basic"]["target"], march["basic"]["met"]) == (
        2, 2, True)
    assert (april["settlement"]["missed"], april["basic"]["missed"]) == (True, True)
    assert march["rulebook_version"] == VERSION


def test_a_running_period_is_not_missed(reader: BookReader) -> None:
    report = branch_targets(reader, "B2", date(2026, 10, 26), TODAY, TODAY)
    assert report is not None
    (week,) = report["weeks"]  # 2026-W44 ends on Sunday 1 November, today
    assert (week["complete"], week["settlement"]["met"], week["settlement"]["missed"]) == (
        False, False, False)
    october, november = report["months"]
    assert (october["settlement"]["missed"], november["settlement"]["missed"]) == (True, False)


def test_unknown_branch_has_no_targets(reader: BookReader) -> None:
    assert branch_targets(reader, "NOPE", date(2026, 3, 1), date(2026, 3, 31), TODAY) is None


# ---- VIP ----------------------------------------------------------------------------------


def test_vip_levels_and_criteria(reader: BookReader) -> None:
    report = vip_customers(reader, "B1", TODAY)
    found = {r["customer_no"]: (r["level"], r["criterion"]) for r in report["customers"]}
    assert found == {
        "V1": ("head_office", "avg_monthly_deposit"),
        "V2": ("head_office", "loan_balance"),
        "V4": ("head_office", "card_spending_12m"),
        "V3": ("branch", "card_spending_12m"),  # the loan is disqualified by the default
        "V6": ("branch", "avg_monthly_deposit"),
    }
    assert [r["customer_no"] for r in report["customers"]] == ["V1", "V2", "V4", "V3", "V6"]
    v1 = report["customers"][0]
    assert (v1["avg_monthly_deposit"], v1["custodian"]) == ("600000.00", "R1")
    assert report["counts"] == {"head_office": 3, "branch": 2}
    assert report["rulebook_version"] == VERSION


def test_vip_on_an_earlier_date(reader: BookReader) -> None:
    # On 2026-09-01 V2 has no loan yet and V4 has spent 60,000 (a branch VIP).
    found = {r["customer_no"]: r["level"] for r in
             vip_customers(reader, None, date(2026, 9, 1))["customers"]}
    assert "V2" not in found
    assert found["V4"] == "branch"


# ---- scorecard ----------------------------------------------------------------------------


def test_scorecard_of_a_half_year(reader: BookReader) -> None:
    card = scorecard(reader, "M1", "2026-H1", TODAY)
    assert card["business_expansion"] == {
        "new_accounts": 4, "new_basic_accounts": 3, "new_usd_settlement_accounts": 1,
        "accounts": ["A1", "A3", "A8", "A2U"],  # not A7: opened before M1 took C7
    }
    upkeep = card["customer_maintenance"]
    assert (upkeep["dormant_to_normal"], upkeep["normal_to_dormant"]) == (1, 1)
    # C8 closed; held on 1 January: C1, C2, C3, C8 (C7 came in February).
    assert (upkeep["closures"], upkeep["held_at_start"], upkeep["closure_rate"]) == (
        1, 4, "0.2500")
    # 0.50 of C1's 100,000 and of C2's 200,000, against 0.50 of C2's 200,000 in 2025-H2.
    assert (upkeep["attributed_daily_average"], upkeep["previous_period"],
            upkeep["previous_daily_average"], upkeep["attributed_new_deposits"]) == (
        "150000.00", "2025-H2", "100000.00", "50000.00")
    assert (upkeep["new_payroll"], upkeep["new_e_banking"]) == (1, 1)  # C2's was in 2025
    quality = card["work_quality"]
    assert (quality["visits_due"], quality["visits_compliant"],
            quality["visit_compliance_rate"]) == (10, 7, "0.7000")
    assert card["rulebook_version"] == VERSION


def test_scorecard_of_a_quiet_quarter(reader: BookReader) -> None:
    card = scorecard(reader, "M1", "2026-Q3", TODAY)
    assert card["business_expansion"]["new_accounts"] == 0
    upkeep = card["customer_maintenance"]
    assert (upkeep["closures"], upkeep["held_at_start"], upkeep["closure_rate"]) == (
        0, 4, "0.0000")  # C1, C2, C3, C7
    assert upkeep["attributed_new_deposits"] == "0.00"


def test_scorecard_refuses_unknown_managers_and_bad_periods(reader: BookReader) -> None:
    with pytest.raises(NotFound):
        scorecard(reader, "NOPE", "2026-H1", TODAY)
    with pytest.raises(InvalidInput):
        scorecard(reader, "M1", "2026-H3", TODAY)


# ---- the command line (SQLite only) -----------------------------------------------------


# The command line is exercised once, on SQLite: these tests pin the store's backend.
on_sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def cli_env(projector: Projector, database_url: str) -> dict[str, str]:
    return {"RMBOOK_DATABASE_URL": database_url, "RMBOOK_TODAY": TODAY.isoformat(),
            "COLUMNS": "200"}


def run(env: dict[str, str], *args: str) -> Any:
    from interfaces.cli.main import app

    return CliRunner().invoke(app, ["report", *args], env=env)


@on_sqlite
@pytest.mark.parametrize("args", [
    ["visits", "--branch", "B1", "--period", "2026-H1"],
    ["targets", "--branch", "B2", "--from", "2026-03-01", "--to", "2026-03-31"],
    ["vip", "--branch", "B1"],
    ["scorecard", "M1", "--period", "2026-H1"],
])
def test_cli_reports_print_tables_and_json(cli_env: dict[str, str], args: list[str]) -> None:
    table = run(cli_env, *args)
    assert table.exit_code == 0, table.output
    as_json = run(cli_env, *args, "--json")
    assert as_json.exit_code == 0, as_json.output
    assert '"rulebook_version": "2024.1"' in as_json.output


@on_sqlite
@pytest.mark.parametrize(("args", "message"), [
    (["visits", "--period", "2026-Q7"], "validation_error"),
    (["visits", "--branch", "NOPE", "--period", "2026-Q1"], "not_found"),
    (["targets", "--branch", "NOPE", "--from", "2026-03-01", "--to", "2026-03-31"],
     "not_found"),
    (["targets", "--branch", "B2", "--from", "2026-03-31", "--to", "2026-03-01"], "--from"),
    (["vip", "--as-of", "yesterday"], "--as-of"),
    (["scorecard", "NOPE", "--period", "2026-H1"], "not_found"),
    (["scorecard", "M1", "--period", "H1-2026"], "validation_error"),
])
def test_cli_bad_input_is_a_clean_error(cli_env: dict[str, str], args: list[str],
                                        message: str) -> None:
    result = run(cli_env, *args)
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert message in result.output
    assert "Traceback" not in result.output

