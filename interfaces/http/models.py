"""Request models of API.md's writes, and the parameter types shared by routes.

Field types come from `application.commands` (identifiers, amounts, ratios) so
the HTTP edge and the commands agree on spelling; dates are stricter here
(`YYYY-MM-DD` text within 1900–2999) because a far date would otherwise reach
calendar arithmetic and fail there instead of being refused as bad input.
Bodies forbid unknown fields: a misspelt optional field is an error, not ignored.
`actor` is never in a body: it is the authenticated principal.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from application.commands import Amount, Ratio
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

FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)
MAX_POSITION = 2**62
IDENTIFIER_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"
_DATE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _date_text(value: Any) -> Any:
    """Only ISO text (or a date): no numbers read as timestamps, no datetimes."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE_TEXT.match(value):
        return value
    raise PydanticCustomError("date_format", "must be a date YYYY-MM-DD")


def _in_calendar(value: date) -> date:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise PydanticCustomError("date_range", "must lie between 1900-01-01 and 2999-12-31")
    return value


_INSTANT_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]|$)")


def _instant_text(value: Any) -> Any:
    """ISO 8601 text (or a datetime): no numbers read as Unix timestamps."""
    if isinstance(value, datetime) or (isinstance(value, str) and _INSTANT_TEXT.match(value)):
        return value
    raise PydanticCustomError("datetime_format", "must be an ISO 8601 instant")


def _utc(value: datetime) -> datetime:
    """An instant without offset is UTC (API.md: instants are ISO 8601 UTC)."""
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    if not FIRST_DAY.year <= value.year <= LAST_DAY.year:
        raise PydanticCustomError("date_range", "must lie between 1900 and 2999")
    return value


IsoDate = Annotated[date, BeforeValidator(_date_text), AfterValidator(_in_calendar),
                    Field(examples=["2026-03-31"])]
Instant = Annotated[datetime, BeforeValidator(_instant_text), AfterValidator(_utc),
                    Field(examples=["2026-11-01T08:00:00Z"])]
Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN, examples=["C000001"])]
StaffNo = Annotated[str, Field(pattern=IDENTIFIER_PATTERN, examples=["M0001"])]
Branch = Annotated[str, Field(pattern=IDENTIFIER_PATTERN, examples=["B01"])]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Reason = Annotated[str | None, Field(max_length=500, description="Why (kept on the event).",
                                     examples=["annual review"])]
Month = Annotated[str, Field(pattern=r"^(19|2\d)\d{2}-(0[1-9]|1[0-2])$", examples=["2026-03"])]
PERIOD_PATTERN = r"^(19|2\d)\d{2}(-(Q[1-4]|H[12]|0[1-9]|1[0-2]))?$"


class Basis(StrEnum):
    """The claim basis of a first assignment [S0 §12]; `marketed` picks the one of the origin."""

    NATURAL = "natural"
    PUBLIC = "public"
    MARKETED = "marketed"
    MARKETED_WITH_BRANCH_RESOURCES = "marketed_with_branch_resources"
    MARKETED_WITHOUT_BRANCH_RESOURCES = "marketed_without_branch_resources"


class ProjectionName(StrEnum):
    BOOK = "book"
    AUDIT = "audit"


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)})


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason = None


class RegisterManagerBody(Body):
    model_config = _examples({"staff_no": "M0100", "name": "王芳", "branch": "B01",
                              "role": "customer_manager", "grade": "manager", "band": 2,
                              "hired_on": "2020-03-01"})
    staff_no: StaffNo
    name: Name
    branch: Branch
    role: Role
    grade: Grade
    band: int = Field(ge=1, le=4, description="1..3 (assistant, manager), 1..4 (senior), 1 (trainee)")
    hired_on: IsoDate


class ChangeGradeBody(Body):
    model_config = _examples({"grade": "senior", "band": 1, "effective_on": "2026-07-01",
                              "reason": "promotion"})
    grade: Grade
    band: int = Field(ge=1, le=4)
    effective_on: IsoDate


class DepartureBody(Body):
    model_config = _examples({"on": "2026-09-30", "reason": "resigned"})
    on: IsoDate


class OnboardCustomerBody(Body):
    model_config = _examples({"customer_no": "C100001", "name": "华北机械有限公司",
                              "segment": "corporate", "branch": "B01", "origin": "marketed",
                              "onboarded_on": "2026-02-01", "marketed_by": "M0001",
                              "used_branch_resources": True})
    customer_no: Identifier
    name: Name
    segment: Segment
    branch: Branch
    origin: Origin
    onboarded_on: IsoDate
    marketed_by: StaffNo | None = None
    used_branch_resources: bool = False


class OpenAccountBody(Body):
    model_config = _examples({"account_no": "601000100001", "type": "basic", "currency": "CNY",
                              "opened_on": "2026-02-01"})
    account_no: Annotated[str, Field(pattern=IDENTIFIER_PATTERN, examples=["601000100001"])]
    type: AccountType
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["CNY"])]
    opened_on: IsoDate


class OnBody(Body):
    model_config = _examples({"on": "2026-10-31"})
    on: IsoDate


class GrantCreditBody(Body):
    model_config = _examples({"limit": "5000000.00", "granted_on": "2026-03-01"})
    limit: Amount
    granted_on: IsoDate


class BalanceBody(Body):
    model_config = _examples({"on": "2026-10-31", "deposit": "1500000.00", "loan": "0.00"})
    on: IsoDate
    deposit: Amount
    loan: Amount = "0.00"


class NonDepositBody(Body):
    model_config = _examples({"on": "2026-10-15", "kind": "fee", "amount": "12000.00"})
    on: IsoDate
    kind: Annotated[str, Field(min_length=1, max_length=64, examples=["fee"])]
    amount: Amount


class StatusBody(Body):
    model_config = _examples({"status": "dormant", "on": "2026-10-01"})
    status: ActivityStatus
    on: IsoDate


class ServiceBody(Body):
    model_config = _examples({"service": "payroll", "on": "2026-05-01"})
    service: Service
    on: IsoDate


class CardSpendingBody(Body):
    model_config = _examples({"month": "2026-09", "amount": "8200.00"})
    month: Month
    amount: Amount


class VisitBody(Body):
    model_config = _examples({"staff_no": "M0001", "on": "2026-10-20", "channel": "on_site",
                              "purpose": "business", "notes": "discussed a credit line"})
    staff_no: StaffNo
    on: IsoDate
    channel: Channel
    purpose: Purpose
    notes: Annotated[str, Field(max_length=2000)] = ""


class AssignmentBody(Body):
    model_config = _examples({"staff_no": "M0001", "effective_on": "2026-02-01",
                              "basis": "natural", "claim_ratio": "0.60"})
    staff_no: StaffNo
    effective_on: IsoDate
    basis: Basis
    claim_ratio: Ratio


class ReassignmentBody(Body):
    model_config = _examples(
        {"to_staff_no": "M0002", "effective_on": "2026-07-01", "mode": "handover",
         "deposit_ratio": "0.60", "non_deposit_ratio": "0.80", "reason": "rebalancing"},
        {"to_staff_no": "M0003", "effective_on": "2026-07-01", "mode": "full",
         "claim_ratio": "0.50", "reason": "custodian departed"})
    to_staff_no: StaffNo
    effective_on: IsoDate
    mode: ReassignmentMode
    deposit_ratio: Ratio | None = None
    non_deposit_ratio: Ratio | None = None
    claim_ratio: Ratio | None = None

    @model_validator(mode="after")
    def _ratios_of_mode(self) -> ReassignmentBody:
        """handover: deposit_ratio and non_deposit_ratio; full: claim_ratio (API.md)."""
        handover = self.mode is ReassignmentMode.HANDOVER
        needed = ("deposit_ratio", "non_deposit_ratio") if handover else ("claim_ratio",)
        foreign = ("claim_ratio",) if handover else ("deposit_ratio", "non_deposit_ratio")
        for name in needed:
            if getattr(self, name) is None:
                raise PydanticCustomError("missing", "{field} is required when mode is {mode}",
                                          {"field": name, "mode": self.mode.value})
        for name in foreign:
            if getattr(self, name) is not None:
                raise PydanticCustomError("extra_forbidden",
                                          "{field} does not apply when mode is {mode}",
                                          {"field": name, "mode": self.mode.value})
        return self


class PublishRulebookBody(Body):
    model_config = _examples({"version": "2026.1", "effective_from": "2026-07-01",
                              "document": {"version": "2026.1", "effective_from": "2026-07-01",
                                           "tiers": ["… the rulebook, as rulebook-2024.json"]},
                              "reason": "new tier thresholds"})
    version: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,32}$", examples=["2026.1"])]
    effective_from: IsoDate
    document: dict[str, Any] = Field(description="The rulebook (format of rulebook-2024.json); "
                                     "its own version and effective_from must match.")


class RebuildBody(BaseModel):
    model_config = _examples({}, {"projection": "book", "rulebook": "2026.1"})
    projection: ProjectionName | None = Field(
        default=None, description="One projection, or every one when omitted.")
    rulebook: Annotated[str | None, Field(
        default=None, pattern=r"^[A-Za-z0-9._-]{1,32}$",
        description="A published rulebook version: a what-if rebuild of the book under it, "
        "diffed against the serving one and never switched in. Omitted: the current rules.")]
