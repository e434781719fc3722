"""Commands: what a person or system asks rmbook to do (imperative names).

Pydantic models at the edge validate shape and spelling; the domain then
checks the rules. Amounts and ratios stay decimal strings here and become
integers (fen, ten-thousandths) only inside.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from domain.values import (
    AccountType,
    ActivityStatus,
    Channel,
    Grade,
    Origin,
    Purpose,
    ReassignmentMode,
    Role,
    Segment,
    Service,
)


def _as_text(value: Any) -> Any:
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
Amount = Annotated[
    str,
    BeforeValidator(_as_text),
    StringConstraints(pattern=r"^\d{1,15}(\.\d{1,2})?$"),
    Field(description="CNY amount, a decimal string with at most two decimals",
          examples=["1500000.00"]),
]
Ratio = Annotated[
    str,
    BeforeValidator(_as_text),
    StringConstraints(pattern=r"^(0(\.\d{1,4})?|1(\.0{1,4})?)$"),
    Field(description="a decimal in [0, 1] with at most four decimals", examples=["0.60"]),
]
Month = Annotated[str, StringConstraints(pattern=r"^(19|2\d)\d{2}-(0[1-9]|1[0-2])$")]
Reason = Annotated[str | None, Field(default=None, max_length=500)]


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    actor: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "system"
    reason: Reason = None


class RegisterManager(Command):
    staff_no: Identifier
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    branch: Identifier
    role: Role
    grade: Grade
    band: int = Field(ge=1, le=4)
    hired_on: date


class ChangeGrade(Command):
    staff_no: Identifier
    grade: Grade
    band: int = Field(ge=1, le=4)
    effective_on: date


class RecordDeparture(Command):
    staff_no: Identifier
    on: date


class OnboardCustomer(Command):
    customer_no: Identifier
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    segment: Segment
    branch: Identifier
    origin: Origin
    onboarded_on: date
    marketed_by: Identifier | None = None
    used_branch_resources: bool = False


class OpenAccount(Command):
    customer_no: Identifier
    account_no: Identifier
    type: AccountType
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "CNY"
    opened_on: date


class CloseAccount(Command):
    customer_no: Identifier
    account_no: Identifier
    on: date


class GrantCredit(Command):
    customer_no: Identifier
    limit: Amount
    granted_on: date


class CloseCredit(Command):
    customer_no: Identifier
    on: date


class RecordBalance(Command):
    customer_no: Identifier
    on: date
    deposit: Amount
    loan: Amount = "0.00"


class RecordNonDeposit(Command):
    customer_no: Identifier
    on: date
    kind: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    amount: Amount


class ChangeStatus(Command):
    customer_no: Identifier
    status: ActivityStatus
    on: date


class SignService(Command):
    customer_no: Identifier
    service: Service
    on: date


class RecordCardSpending(Command):
    customer_no: Identifier
    month: Month
    amount: Amount


class RecordRepaymentDefault(Command):
    customer_no: Identifier
    on: date


class LogVisit(Command):
    customer_no: Identifier
    staff_no: Identifier
    on: date
    channel: Channel
    purpose: Purpose
    notes: Annotated[str, StringConstraints(max_length=2000)] = ""


class CloseCustomer(Command):
    customer_no: Identifier
    on: date


class Assign(Command):
    customer_no: Identifier
    staff_no: Identifier
    effective_on: date
    basis: Annotated[str, Field(description="natural | public | marketed | "
                                "marketed_with_branch_resources | "
                                "marketed_without_branch_resources")]
    claim_ratio: Ratio


class Reassign(Command):
    customer_no: Identifier
    to_staff_no: Identifier
    effective_on: date
    mode: ReassignmentMode
    deposit_ratio: Ratio | None = None
    non_deposit_ratio: Ratio | None = None
    claim_ratio: Ratio | None = None


class PublishRulebook(Command):
    document: dict[str, Any]


class GrantVip(Command):
    """[S2 §7] a manual VIP grant: who approved it and why (the reason is required)."""

    customer_no: Identifier
    level: Annotated[str, Field(pattern=r"^(branch|head_office)$")]
    approver: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    on: date
