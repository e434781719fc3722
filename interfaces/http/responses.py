"""Response models: what staff tools read back (amounts and ratios as decimal strings).

Report models name every field the report functions produce, so `/openapi.json`
describes the whole answer; nested report rows allow extra fields so a report
gaining a column does not break the API.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

AMOUNT: list[Any] = ["1500000.00"]
RATIO: list[Any] = ["0.60"]


class Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class Row(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


def with_examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(populate_by_name=True, json_schema_extra={"examples": list(examples)})


# ---- problems --------------------------------------------------------------------------


class FieldError(Out):
    field: str | None = Field(examples=["deposit"])
    message: str = Field(examples=["deposit must be a decimal amount with at most two decimals"])


class Problem(Row):
    """RFC 9457 problem details; `code` is stable and machine-readable."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "type": "urn:rmbook:problem:ratio_below_floor", "title": "Unprocessable Content",
        "status": 422, "detail": "claim_ratio 0.40 is below the floor 0.50 of basis natural",
        "code": "ratio_below_floor",
        "errors": [{"field": "claim_ratio", "message": "claim_ratio 0.40 is below the floor "
                    "0.50 of basis natural"}]}]})
    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldError]


# ---- managers ----------------------------------------------------------------------------


class ManagerOut(Out):
    model_config = with_examples({"staff_no": "M0001", "name": "吴梓", "branch": "B01",
                              "role": "customer_manager", "grade": "senior", "band": 3,
                              "hired_on": "2011-09-09", "departed_on": None,
                              "as_of": "2026-11-01", "customers": ["C000026", "C000036"]})
    staff_no: str
    name: str
    branch: str
    role: str
    grade: str
    band: int
    hired_on: date
    departed_on: date | None
    as_of: date
    customers: list[str] = Field(description="customer_no of every customer in custody on as_of")


class DepartureOut(ManagerOut):
    needs_reassignment: list[str] = Field(
        description="Customers still held: each needs a full transfer (DOMAIN §3).")


# ---- customers ---------------------------------------------------------------------------


class AccountOut(Out):
    account_no: str
    type: str
    currency: str
    opened_on: date
    closed_on: date | None = None


class AccountClosureOut(Out):
    customer_no: str
    account_no: str
    closed_on: date
    customer_closed: bool = Field(description="True when this was the last open account.")


class CustodyTermOut(Out):
    effective_on: date
    mode: str = Field(description="initial | handover | full")
    custodian: str
    claim_ratio: str | None = Field(None, examples=RATIO)
    outgoing: str | None = None
    deposit_ratio: str | None = Field(None, examples=RATIO)
    non_deposit_ratio: str | None = Field(None, examples=RATIO)
    base_daily_average: str | None = Field(
        None, description="handover: the base as computed when recorded", examples=AMOUNT)


class CustodyOut(Out):
    model_config = with_examples({"customer_no": "C000001", "custodian": "M0001",
                              "since": "2026-02-01", "mode": "initial", "ended_on": None,
                              "chain": [{"effective_on": "2026-02-01", "mode": "initial",
                                         "custodian": "M0001", "claim_ratio": "0.60"}]})
    customer_no: str
    custodian: str | None
    since: date | None = None
    mode: str | None = None
    ended_on: date | None = None
    chain: list[CustodyTermOut]


class ReassignmentOut(CustodyOut):
    base_daily_average: str | None = Field(
        description="handover: the outgoing custodian's stock (daily average over the base "
        "window); null for a full transfer", examples=AMOUNT)


class CustomerOut(Out):
    model_config = with_examples({
        "customer_no": "C000001", "name": "华北机械有限公司", "segment": "corporate",
        "branch": "B01", "origin": "natural", "marketed_by": None,
        "used_branch_resources": False, "onboarded_on": "2025-01-06", "closed_on": None,
        "as_of": "2026-11-01", "status": "normal", "credit_customer": True,
        "accounts": [{"account_no": "601000000001", "type": "basic", "currency": "CNY",
                      "opened_on": "2025-01-06", "closed_on": None}],
        "deposit": "1500000.00", "loan": "0.00", "services": {"payroll": "2025-03-01"},
        "custodian": "M0001",
        "custody": {"customer_no": "C000001", "custodian": "M0001", "since": "2025-01-06",
                    "mode": "initial", "ended_on": None, "chain": []}})
    customer_no: str
    name: str
    segment: str
    branch: str
    origin: str
    marketed_by: str | None
    used_branch_resources: bool
    onboarded_on: date
    closed_on: date | None
    as_of: date
    status: str = Field(description="normal | dormant")
    credit_customer: bool
    accounts: list[AccountOut]
    deposit: str = Field(description="End-of-day deposit balance on as_of (carried forward)",
                         examples=AMOUNT)
    loan: str = Field(examples=AMOUNT)
    services: dict[str, date] = Field(description="service → signed on")
    custodian: str | None
    custody: CustodyOut


class BalanceOut(Out):
    model_config = with_examples({"recorded": True, "correction": False})
    recorded: bool = Field(description="False when the same values were already recorded.")
    correction: bool = Field(description="True when this replaced different values.")


class InvalidRowOut(Out):
    row: int
    code: str
    message: str


class ImportOut(Out):
    model_config = with_examples({"rows": 3, "recorded": 2, "unchanged": 0, "corrections": 0,
                              "invalid": [{"row": 3, "code": "not_found",
                                           "message": "customer C9 not found"}],
                              "written": True, "position": 81234})
    rows: int
    recorded: int
    unchanged: int
    corrections: int
    invalid: list[InvalidRowOut]
    written: bool
    position: int | None


class NonDepositOut(Out):
    customer_no: str
    on: date
    kind: str
    amount: str = Field(examples=AMOUNT)


class StatusOut(Out):
    customer_no: str
    status: str
    on: date
    changed: bool = Field(description="False when the customer already had this status.")


class ServiceOut(Out):
    customer_no: str
    service: str
    on: date
    signed: bool = Field(description="False when already signed.")


class CardSpendingOut(Out):
    customer_no: str
    month: str
    amount: str = Field(examples=AMOUNT)
    recorded: bool = Field(description="False when the same amount was already recorded.")


class VisitOut(Out):
    customer_no: str
    staff_no: str
    on: date
    channel: str
    purpose: str
    notes: str


# ---- rulebooks and projections ---------------------------------------------------------


class RulebookPublishedOut(Out):
    version: str
    effective_from: date
    rebuild_id: str = Field(description="The side-by-side rebuild started for it: "
                            "GET /v1/projections/rebuilds/{rebuild_id}")


class RulebookVersionOut(Out):
    version: str
    effective_from: date
    author: str | None = Field(description="Who published it (null: built in).")
    published_at: str | None
    reason: str | None
    builtin: bool


class RulebooksOut(Out):
    versions: list[RulebookVersionOut]


class RebuildStartedOut(Out):
    rebuild_id: str


class RebuildOut(Row):
    rebuild_id: str
    projections: list[str]
    status: str = Field(description="running | finished | failed")
    started_at: str
    finished_at: str | None
    done: int
    total: int
    what_if: str | None
    generations: dict[str, list[int | None]]
    rulebook_version: str | None
    events_per_s: float | None
    diff: dict[str, Any] | None = Field(description="tiers: managers whose tier changes; "
                                        "attribution: parties whose daily average moves")
    error: str | None


class ProjectionStatusOut(Out):
    name: str
    generation: int
    status: str
    position: int
    lag: int
    rulebook_version: str | None
    pending_rulebooks: list[str]
    updated_at: str


class ProjectionsOut(Out):
    head: int = Field(description="The store's last position.")
    projections: list[ProjectionStatusOut]


class VerifyOut(Out):
    ok: bool
    checked: int
    first_bad_position: int | None


class HealthOut(Out):
    status: str = Field(examples=["ok"])


class ReadyOut(Out):
    status: str = Field(examples=["ready"])
    head: int
    projections: dict[str, int] = Field(description="projection → lag in events")


# ---- timelines -----------------------------------------------------------------------------


class TimelineEventOut(Out):
    position: int
    recorded_at: str
    effective_on: str | None
    type: str = Field(examples=["Customer/BalanceRecorded"])
    actor: str | None
    reason: str | None
    rulebook_version: str | None
    summary: str
    data: dict[str, Any] = Field(description="The event's stored fields as recorded "
                                 "(amounts in fen, ratios in ten-thousandths).")


class TimelineOut(Out):
    subject: str
    events: list[TimelineEventOut]
    next_after: int | None = Field(description="Pass as `after` for the next page; null at the end.")
