"""Facts from the core-banking feed: balances (one or a file), non-deposit business,
activity status, card spending."""

from __future__ import annotations

import csv
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from application import commands as c
from application.balance_import import BalanceRow, ImportReport, InvalidRow, parse_feed
from application.service import BookOfBusiness
from domain.errors import NotFound
from interfaces.http import responses
from interfaces.http.auth import Feed, Principal
from interfaces.http.deps import Bank, CustomerNo, position_header, written
from interfaces.http.errors import ProblemError, problem_response
from interfaces.http.lanes import short_write
from interfaces.http.models import BalanceBody, CardSpendingBody, NonDepositBody, StatusBody
from interfaces.http.openapi import EVENT_POSITION, for_write, problems
from interfaces.http.scoping import customer_branch

router = APIRouter(tags=["feed"])

FEED_TYPES = {"text/csv": "csv", "application/x-ndjson": "jsonl", "application/jsonl": "jsonl",
              "application/json": "jsonl"}
_FEED_EXAMPLE_CSV = "customer_no,on,deposit,loan\nC000001,2026-10-31,1500000.00,0.00\n"
_FEED_EXAMPLE_JSONL = '{"customer_no": "C000001", "on": "2026-10-31", "deposit": "1500000.00"}\n'
_FEED_BODY = {"requestBody": {"required": True, "description": (
    "The balance feed: one row per customer and business date, `customer_no,on,deposit,loan` "
    "(loan optional). CSV with an optional header, or JSON lines."), "content": {
    "text/csv": {"schema": {"type": "string"}, "example": _FEED_EXAMPLE_CSV},
    "application/x-ndjson": {"schema": {"type": "string"}, "example": _FEED_EXAMPLE_JSONL},
    "application/json": {"schema": {"type": "string", "description": "JSON lines"},
                         "example": _FEED_EXAMPLE_JSONL}}}}


@router.post("/v1/customers/{no}/balances", response_model=responses.BalanceOut,
             responses=for_write(200), summary="Record an end-of-day balance")
@short_write
def record_balance(no: CustomerNo, body: BalanceBody, principal: Feed, bank: Bank,
                   response: Response) -> dict[str, Any]:
    customer_branch(bank, principal, no)
    return written(response, bank, bank.record_balance(
        c.RecordBalance(customer_no=no, **body.model_dump(), actor=principal.actor)))


async def feed_body(request: Request) -> bytes:
    """The raw feed (already size-limited by the body-limit middleware)."""
    return await request.body()


@router.post("/v1/balances/import", response_model=responses.ImportOut,
             responses={200: {"headers": EVENT_POSITION},
                        **problems(401, 403, 409, 413, 415, 422)},
             openapi_extra=_FEED_BODY,
             summary="Import the balance feed (CSV or JSON lines), validated whole first")
def import_balances(request: Request, principal: Feed, bank: Bank, response: Response,
                    data: Annotated[bytes, Depends(feed_body)],
                    skip_invalid: Annotated[bool, Query(description=(
                        "Write the valid rows and report the invalid ones; without it an "
                        "invalid file writes nothing (422 with the report)."))] = False) -> Any:
    fmt = _feed_format(request.headers.get("content-type"))
    report = _import(bank, principal, data, fmt, skip_invalid)
    body = report.as_dict()
    if report.invalid and not skip_invalid:
        return problem_response(
            "validation_error", f"{len(report.invalid)} invalid rows; nothing was written",
            errors=[{"field": f"row {i.row}", "message": f"{i.code}: {i.message}"}
                    for i in report.invalid[:100]], extra=body)
    position_header(response, report.position if report.position is not None
                    else bank.max_position())
    return body


def _import(bank: BookOfBusiness, principal: Principal, data: bytes, fmt: str,
            skip_invalid: bool) -> ImportReport:
    try:
        rows = parse_feed(data, fmt)
    except UnicodeDecodeError:
        raise ProblemError("validation_error", "the feed must be UTF-8 text",
                           errors=[{"field": "body", "message": "not UTF-8"}]) from None
    except csv.Error as e:
        raise ProblemError("validation_error", "the feed is not readable CSV",
                           errors=[{"field": "body", "message": str(e)}]) from None
    if not principal.all_branches:
        rows = _in_scope(bank, principal, rows)
    return bank.import_balances(rows, skip_invalid=skip_invalid, actor=principal.actor)


def _in_scope(bank: BookOfBusiness, principal: Principal, rows: list[BalanceRow | InvalidRow]
              ) -> list[BalanceRow | InvalidRow]:
    """Rows of customers outside the principal's branches are reported as unknown ones."""
    visible: dict[str, bool] = {}
    scoped: list[BalanceRow | InvalidRow] = []
    for row in rows:
        if isinstance(row, BalanceRow):
            if row.customer_no not in visible:
                try:
                    customer_branch(bank, principal, row.customer_no)
                    visible[row.customer_no] = True
                except NotFound:
                    visible[row.customer_no] = False
            if not visible[row.customer_no]:
                row = InvalidRow(row.row, "not_found", f"customer {row.customer_no} not found")
        scoped.append(row)
    return scoped


def _feed_format(content_type: str | None) -> str:
    media = (content_type or "").split(";")[0].strip().lower()
    fmt = FEED_TYPES.get(media)
    if fmt is None:
        raise ProblemError("unsupported_media_type",
                           "send text/csv, application/x-ndjson or application/json (JSON lines)",
                           errors=[{"field": "Content-Type", "message": f"got {media or 'none'}"}])
    return fmt


@router.post("/v1/customers/{no}/non-deposit", response_model=responses.NonDepositOut,
             responses=for_write(200), summary="Record non-deposit business (fees, sales …)")
@short_write
def record_non_deposit(no: CustomerNo, body: NonDepositBody, principal: Feed, bank: Bank,
                       response: Response) -> dict[str, Any]:
    customer_branch(bank, principal, no)
    written(response, bank, bank.record_non_deposit(
        c.RecordNonDeposit(customer_no=no, **body.model_dump(), actor=principal.actor)))
    return {"customer_no": no, **body.model_dump(exclude={"reason"})}


@router.post("/v1/customers/{no}/status", response_model=responses.StatusOut,
             responses=for_write(200), summary="Record an activity status change")
@short_write
def change_status(no: CustomerNo, body: StatusBody, principal: Feed, bank: Bank,
                  response: Response) -> dict[str, Any]:
    customer_branch(bank, principal, no)
    result = written(response, bank, bank.change_status(
        c.ChangeStatus(customer_no=no, **body.model_dump(), actor=principal.actor)))
    return {"customer_no": no, "status": body.status, "on": body.on,
            "changed": result["changed"]}


@router.post("/v1/customers/{no}/card-spending", response_model=responses.CardSpendingOut,
             responses=for_write(200), summary="Record a month's card spending (individuals)")
@short_write
def record_card_spending(no: CustomerNo, body: CardSpendingBody, principal: Feed, bank: Bank,
                         response: Response) -> dict[str, Any]:
    customer_branch(bank, principal, no)
    result = written(response, bank, bank.record_card_spending(
        c.RecordCardSpending(customer_no=no, **body.model_dump(), actor=principal.actor)))
    return {"customer_no": no, "month": body.month, "amount": body.amount,
            "recorded": result["recorded"]}
