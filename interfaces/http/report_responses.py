"""Response models of the reports (projections/reports): what each report function answers.

Report rows allow extra fields (`Row`), so a report gaining a column does not
break the API; the fields named here are the ones staff tools may rely on.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field

from interfaces.http.responses import AMOUNT, RATIO, Out, Row, with_examples


class PartyShareOut(Out):
    party: str = Field(description="a staff_no or branch:<code>", examples=["M0001"])
    daily_average: str = Field(examples=AMOUNT)
    balance_days: str = Field(examples=AMOUNT)


class PartyAmountOut(Out):
    party: str
    amount: str = Field(examples=AMOUNT)


class CustomerAttributionOut(Out):
    customer_no: str
    from_: date = Field(alias="from")
    to: date
    days: int
    daily_average: str = Field(examples=AMOUNT)
    balance_days: str = Field(examples=AMOUNT)
    parties: list[PartyShareOut]
    non_deposit: list[PartyAmountOut]
    rulebook_version: str


class CustomerShareOut(Out):
    customer_no: str
    daily_average: str = Field(examples=AMOUNT)
    balance_days: str = Field(examples=AMOUNT)


class ManagerAttributionOut(Out):
    staff_no: str
    from_: date = Field(alias="from")
    to: date
    days: int
    customers: list[CustomerShareOut]
    daily_average: str = Field(examples=AMOUNT)
    balance_days: str = Field(examples=AMOUNT)


class TierOut(Out):
    model_config = with_examples({"staff_no": "M0001", "branch": "B01", "as_of": "2026-11-01",
                              "tier": "C", "credit_customers": 24,
                              "focus": "Build channels and platforms …",
                              "rulebook_version": "2024.1", "departed": False,
                              "needs_reassignment": 0})
    staff_no: str
    branch: str
    as_of: date
    tier: str | None = Field(description="A–E; null for roles without tiers")
    credit_customers: int
    focus: str | None
    rulebook_version: str | None
    departed: bool
    needs_reassignment: int


class BookEntryOut(Out):
    customer_no: str
    segment: str
    basis: str | None
    credit_customer: bool
    since: date | None
    mode: str | None
    claim_ratio: str | None = Field(examples=RATIO)
    deposit_ratio: str | None = Field(examples=RATIO)
    non_deposit_ratio: str | None = Field(examples=RATIO)
    outgoing: str | None


class BookOut(Out):
    staff_no: str
    as_of: date
    customers: list[BookEntryOut]
    tier: TierOut


class TierRowOut(Out):
    staff_no: str
    tier: str | None
    credit_customers: int
    departed: bool


class TiersOut(Out):
    model_config = with_examples({"branch": "B01", "as_of": "2026-11-01", "rulebook_version": "2024.1",
                              "managers": [{"staff_no": "M0001", "tier": "C",
                                            "credit_customers": 24, "departed": False}],
                              "distribution": {"A": 0, "B": 1, "C": 3, "D": 4, "E": 2}})
    branch: str | None
    as_of: date
    rulebook_version: str
    managers: list[TierRowOut]
    distribution: dict[str, int]


class ComplianceRowOut(Row):
    staff_no: str
    name: str
    branch: str
    role: str
    departed_on: str | None
    due: int
    compliant: int
    rate: str | None = Field(description="compliant / due, 4 decimals; null when nothing is due")
    non_compliant: list[dict[str, Any]]
    overdue: list[dict[str, Any]] = Field(description="customers overdue as of overdue_as_of")
    needs_reassignment: list[str]


class ComplianceOut(Row):
    branch: str | None
    period: str
    from_: date = Field(alias="from")
    to: date
    overdue_as_of: date
    rulebook_version: str
    rulebook_versions: list[str]
    due: int
    compliant: int
    rate: str | None
    managers: list[ComplianceRowOut]


class TargetFiguresOut(Out):
    count: int
    target: int
    met: bool
    missed: bool


class TargetWeekOut(Row):
    key: str = Field(examples=["2026-W09"])
    from_: date = Field(alias="from")
    to: date
    complete: bool
    rulebook_version: str
    settlement: TargetFiguresOut


class TargetMonthOut(TargetWeekOut):
    basic: TargetFiguresOut


class TargetsOut(Row):
    branch: str
    from_: date = Field(alias="from")
    to: date
    today: date
    rulebook_version: str
    rulebook_versions: list[str]
    weeks: list[TargetWeekOut]
    months: list[TargetMonthOut]
    missed: dict[str, int]


class VipCustomerOut(Row):
    customer_no: str
    name: str
    branch: str
    custodian: str | None
    level: str = Field(description="head_office | branch")
    criterion: str | None = Field(description="first criterion met; null when only a manual "
                                  "grant [S2 §7] gives the level")
    criteria_met: list[str]
    granted: bool
    approver: str | None = Field(default=None, description="approver of the manual grant")
    avg_monthly_deposit: str = Field(examples=AMOUNT)
    loan_balance: str = Field(examples=AMOUNT)
    repayment_default: bool
    card_spending_12m: str = Field(examples=AMOUNT)


class VipOut(Row):
    branch: str | None
    as_of: date
    rulebook_version: str
    counts: dict[str, int]
    customers: list[VipCustomerOut]


class ScorecardOut(Row):
    staff_no: str
    name: str
    branch: str
    role: str
    departed_on: str | None
    period: str
    from_: date = Field(alias="from")
    to: date
    measured_to: date
    rulebook_version: str
    rulebook_versions: list[str]
    business_expansion: dict[str, Any] = Field(
        description="new_accounts, new_basic_accounts, new_usd_settlement_accounts, accounts")
    customer_maintenance: dict[str, Any] = Field(
        description="dormant_to_normal, normal_to_dormant, closures, closure_rate, "
        "attributed_daily_average, attributed_new_deposits, new_payroll, new_e_banking")
    work_quality: dict[str, Any] = Field(
        description="visits_due, visits_compliant, visit_compliance_rate, overdue")
