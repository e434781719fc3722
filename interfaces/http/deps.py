"""Dependencies and parameter types shared by the routes (the `Annotated` aliases); a
read's principal, runtime, `known_at` and `min_position` come as one `Access` (access.py)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request, Response

from application.service import BookOfBusiness, Receipt
from interfaces.http.errors import ProblemError
from interfaces.http.models import IDENTIFIER_PATTERN, IsoDate
from interfaces.http.runtime import Runtime
from projections.runner import Projector

MAX_RANGE_DAYS = 3700  # about ten years: a report range, not a denial of service


# Dependencies that only look things up are `async def`: FastAPI runs a plain `def`
# dependency in the thread pool, a hand-off per dependency per request that cost more
# than the lookups themselves (docs/performance.md, HTTP).
async def get_runtime(request: Request) -> Runtime:
    return _runtime(request)


async def get_bank(request: Request) -> BookOfBusiness:
    return _runtime(request).bank


async def get_projector(request: Request) -> Projector:
    return _runtime(request).projector


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
Bank = Annotated[BookOfBusiness, Depends(get_bank)]
ReadSide = Annotated[Projector, Depends(get_projector)]

CustomerNo = Annotated[str, Path(pattern=IDENTIFIER_PATTERN, description="customer_no",
                                 examples=["C000001"])]
StaffNoPath = Annotated[str, Path(pattern=IDENTIFIER_PATTERN, description="staff_no",
                                  examples=["M0001"])]
AccountNo = Annotated[str, Path(pattern=IDENTIFIER_PATTERN, examples=["601000000001"])]
BranchCode = Annotated[str, Path(pattern=IDENTIFIER_PATTERN, examples=["B01"])]
BranchQuery = Annotated[str | None, Query(pattern=IDENTIFIER_PATTERN, description=(
    "Branch code. Omitted: every branch the principal sees (a principal of several but not "
    "all branches must name one)."))]
AsOfQuery = Annotated[IsoDate | None, Query(description="Business date (default today).")]
FromQuery = Annotated[IsoDate, Query(alias="from", description="First business date.")]
ToQuery = Annotated[IsoDate, Query(description="Last business date (inclusive).")]


# ---- dates ------------------------------------------------------------------------------


def on_date(bank: BookOfBusiness, as_of: date | None) -> date:
    """`as_of` defaults to the bank's business today."""
    return as_of or bank.today()


def date_range(start: date, end: date) -> None:
    if end < start:
        raise ProblemError("validation_error", f"to ({end}) is before from ({start})",
                           errors=[{"field": "to", "message": "must not be before from"}])
    if (end - start).days > MAX_RANGE_DAYS:
        raise ProblemError("validation_error", f"the range is limited to {MAX_RANGE_DAYS} days",
                           errors=[{"field": "to", "message": f"at most {MAX_RANGE_DAYS} days "
                                    "after from"}])


# ---- writes ---------------------------------------------------------------------------------


def written(response: Response, bank: BookOfBusiness, receipt: Receipt) -> dict[str, Any]:
    """X-Event-Position of a write; a write that changed nothing answers the current head."""
    position = receipt.position if receipt.position is not None else bank.max_position()
    response.headers["X-Event-Position"] = str(position)
    return receipt.result


def position_header(response: Response, position: int) -> None:
    response.headers["X-Event-Position"] = str(position)
