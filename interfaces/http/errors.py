"""Errors as RFC 9457 problem details (`application/problem+json`), with API.md's stable codes.

API.md: 422 for invalid input, 404 for unknown, 409 for conflicts with current
state. Every code the service can answer with, and its status:

| code | status | raised by | meaning |
|---|---|---|---|
| `validation_error` | 422 | pydantic, `InvalidInput` | malformed or out-of-set value; `errors` names fields |
| `rulebook_invalid` | 422 | `RulebookInvalid` | a rulebook document breaks its schema; an error each |
| `date_out_of_range` | 422 | `DateOutOfRange` | after today; before onboarding, hiring, custody |
| `ratio_below_floor` | 422 | `RatioBelowFloor` | a claim or handover ratio under the rulebook's floor |
| `duplicate_row` | 422 | balance feed (per row) | one file gives two values for a customer and date |
| `not_found` | 404 | `NotFound`, scoping, routing | unknown, or in a branch the principal may not see |
| `already_exists` | 409 | `AlreadyExists` | customer, manager, account or rulebook version exists |
| `already_assigned` | 409 | `AlreadyAssigned` | a first assignment for a customer with a custodian |
| `not_assigned` | 409 | `NotAssigned` | a reassignment before any assignment |
| `capacity_exceeded` | 409 | `CapacityExceeded` | the incoming manager's book is full |
| `ineligible_custodian` | 409 | `IneligibleCustodian` | the manager's role may not hold this customer |
| `custodian_departed` | 409 | `CustodianDeparted` | a departed manager receives or hands over customers |
| `manager_departed` | 409 | `ManagerDeparted` | a change to a manager who has departed |
| `same_custodian` | 409 | `SameCustodian` | a reassignment to the current custodian |
| `second_basic_account` | 409 | `SecondBasicAccount` | a second open basic account |
| `customer_closed` | 409 | `CustomerClosed` | a change to a closed customer |
| `account_closed` | 409 | `AccountClosed` | closing an account already closed |
| `accounts_open` | 409 | `AccountsOpen` | closing a customer with open accounts |
| `concurrency_conflict` | 409 | `ConcurrencyConflict` | someone changed the same record meanwhile; retry |
| `idempotency_key_reused` | 409 | idempotency | the key was used with another request |
| `idempotency_key_in_progress` | 409 | idempotency | the first request with this key is still running |
| `unauthorized` | 401 | auth | no or unknown token |
| `forbidden` | 403 | auth | the principal's role may not do this |
| `method_not_allowed` | 405 | routing | |
| `payload_too_large` | 413 | body limit | |
| `unsupported_media_type` | 415 | balance feed | not CSV or JSON lines |
| `projection_lagging` | 503 | `min_position` | the projections did not reach the position in time |
| `not_ready` | 503 | `/v1/ready` | store unreachable or projections behind |
| `store_unavailable` | 503 | store | the database could not be reached |
| `internal_error` | 500 | anything else | a bug: never for bad input |
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import Refusal, RulebookInvalid

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("rmbook.http")

STATUS_BY_CODE: dict[str, int] = {
    "validation_error": 422,
    "rulebook_invalid": 422,
    "date_out_of_range": 422,
    "ratio_below_floor": 422,
    "duplicate_row": 422,
    "not_found": 404,
    "already_exists": 409,
    "already_assigned": 409,
    "not_assigned": 409,
    "capacity_exceeded": 409,
    "ineligible_custodian": 409,
    "custodian_departed": 409,
    "manager_departed": 409,
    "same_custodian": 409,
    "second_basic_account": 409,
    "customer_closed": 409,
    "account_closed": 409,
    "accounts_open": 409,
    "concurrency_conflict": 409,
    "idempotency_key_reused": 409,
    "idempotency_key_in_progress": 409,
    "unauthorized": 401,
    "forbidden": 403,
    "method_not_allowed": 405,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "projection_lagging": 503,
    "not_ready": 503,
    "store_unavailable": 503,
    "internal_error": 500,
}
# A refusal whose code is missing above is a rule the current state does not allow.
DEFAULT_REFUSAL_STATUS = 409

_CODE_BY_STATUS = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large",
                   415: "unsupported_media_type", 401: "unauthorized", 403: "forbidden"}


class ProblemError(Exception):
    """Raised anywhere in the HTTP layer to answer with a problem document."""

    def __init__(self, code: str, detail: str, *, status: int | None = None,
                 errors: Sequence[Mapping[str, str | None]] = (),
                 headers: Mapping[str, str] | None = None,
                 extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.status = status or STATUS_BY_CODE.get(code, 400)
        self.detail = detail
        self.errors = [dict(e) for e in errors]
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def problem_body(code: str, status: int, detail: str,
                 errors: Sequence[Mapping[str, str | None]] = (),
                 extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"urn:rmbook:problem:{code}",
        "title": _title(status),
        "status": status,
        "detail": detail,
        "code": code,
        "errors": [dict(e) for e in errors],
    }
    body.update(extra or {})
    return body


def problem_response(code: str, detail: str, *, status: int | None = None,
                     errors: Sequence[Mapping[str, str | None]] = (),
                     headers: Mapping[str, str] | None = None,
                     extra: Mapping[str, Any] | None = None) -> JSONResponse:
    status = status or STATUS_BY_CODE.get(code, 400)
    return JSONResponse(problem_body(code, status, detail, errors, extra), status_code=status,
                        media_type=PROBLEM_JSON, headers=dict(headers or {}))


# RFC 9110's names, whatever the Python version's http module calls them.
_TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}


def _title(status: int) -> str:
    if status in _TITLES:
        return _TITLES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # pragma: no cover - every status used here is a standard one
        return "Error"


def refusal_status(refusal: Refusal) -> int:
    return STATUS_BY_CODE.get(refusal.code, DEFAULT_REFUSAL_STATUS)


def refusal_errors(refusal: Refusal) -> list[dict[str, str | None]]:
    if isinstance(refusal, RulebookInvalid):
        # The document sits under "document" in POST /v1/rulebooks.
        return [{"field": f"document.{field}" if field else "document", "message": message}
                for field, message in refusal.problems]
    return [{"field": refusal.field, "message": refusal.message}]


def field_of(loc: Sequence[str | int]) -> str:
    """pydantic's location → the field a caller wrote: ('body', 'deposit') → 'deposit'."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie") and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_errors(errors: Sequence[Any]) -> list[dict[str, str | None]]:
    found: list[dict[str, str | None]] = []
    for error in errors:
        loc = error.get("loc", ())
        # A whole-model check (e.g. mode-dependent ratios) names its field in the context.
        ctx_field = (error.get("ctx") or {}).get("field")
        field = str(ctx_field) if ctx_field else field_of(loc)
        message = str(error.get("msg", "invalid"))
        if error.get("type") == "json_invalid":
            field, message = "body", f"malformed JSON: {message}"
        found.append({"field": field, "message": message})
    return found


# ---- handlers ----------------------------------------------------------------------


async def _on_problem(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(exc.code, exc.detail, status=exc.status, errors=exc.errors,
                            headers=exc.headers, extra=exc.extra)


async def _on_refusal(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Refusal)
    extra = {"rule": exc.rule} if exc.rule else None
    return problem_response(exc.code, str(exc), status=refusal_status(exc),
                            errors=refusal_errors(exc), extra=extra)


async def _on_request_validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = validation_errors(exc.errors())
    fields = ", ".join(sorted({str(e["field"]) for e in errors}))
    return problem_response("validation_error", f"invalid input: {fields}", errors=errors)


async def _on_model_validation(_request: Request, exc: Exception) -> JSONResponse:
    # A command model refusing what the route's own model let through (a safety net).
    assert isinstance(exc, ValidationError)
    errors = validation_errors(exc.errors())
    return problem_response("validation_error", "invalid input", errors=errors)


async def _on_http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # FastAPI's answer to a JSON body it cannot even decode (not UTF-8): bad input, 422.
        return problem_response("validation_error", "the body is not valid JSON",
                                errors=[{"field": "body", "message": "malformed JSON: not UTF-8"}])
    code = _CODE_BY_STATUS.get(exc.status_code, "internal_error" if exc.status_code >= 500
                               else "validation_error")
    detail = exc.detail if isinstance(exc.detail, str) else _title(exc.status_code)
    return problem_response(code, detail, status=exc.status_code, headers=exc.headers)


async def _on_store_down(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("store unavailable: %s", type(exc).__name__)
    return problem_response("store_unavailable", "the store cannot be reached; retry later",
                            headers={"Retry-After": "5"})


async def _on_crash(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return problem_response("internal_error", "an internal error occurred; it was logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(Refusal, _on_refusal)
    app.add_exception_handler(RequestValidationError, _on_request_validation)
    app.add_exception_handler(ValidationError, _on_model_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    for exc_type in _store_errors():
        app.add_exception_handler(exc_type, _on_store_down)
    app.add_exception_handler(Exception, _on_crash)


def _store_errors() -> list[type[Exception]]:
    """Connection failures of the store (not SQL bugs, which stay 500s)."""
    from eventsourcing.persistence import OperationalError

    found: list[type[Exception]] = [OperationalError]
    try:
        import psycopg

        found.append(psycopg.OperationalError)
    except ImportError:  # pragma: no cover - psycopg is a dependency
        pass
    return found
