"""What /openapi.json says beyond the routes themselves: problems, headers, Idempotency-Key."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from interfaces.http.errors import PROBLEM_JSON
from interfaces.http.idempotency import describe as idempotency_parameter
from interfaces.http.responses import Problem

_MEANING = {
    401: "No or unknown bearer token (`unauthorized`).",
    403: "The principal's role may not do this (`forbidden`).",
    404: "Unknown, or in a branch the principal may not see (`not_found`).",
    409: "Conflicts with current state (`already_exists`, `capacity_exceeded`, "
         "`same_custodian`, `concurrency_conflict`, `idempotency_key_reused`, …).",
    413: "Body too large (`payload_too_large`).",
    415: "Not CSV or JSON lines (`unsupported_media_type`).",
    422: "Invalid input (`validation_error`, `date_out_of_range`, `ratio_below_floor`, …); "
         "`errors` names each field.",
    503: "`projection_lagging`: min_position not reached in time.",
}

EVENT_POSITION = {"X-Event-Position": {
    "description": "Position of this write in the global event sequence (the current head "
                   "when nothing new was written). Pass it as `min_position` to read it back.",
    "schema": {"type": "integer"}}}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": Problem, "description": _MEANING[status]} for status in statuses}


def for_read(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return problems(401, 403, 404, 422, 503, *statuses)


def for_write(status: int, *statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"headers": EVENT_POSITION}, **problems(401, 403, 404, 409, 413, 422,
                                                            *statuses)}


def install(app: FastAPI) -> None:
    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version,
                                   description=app.description, routes=app.routes,
                                   tags=app.openapi_tags)
            _adjust(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = schema  # type: ignore[method-assign]


def _adjust(document: dict[str, Any]) -> None:
    for methods in document.get("paths", {}).values():
        for method, operation in methods.items():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[:1] in ("4", "5") and "application/json" in content:
                    content[PROBLEM_JSON] = content.pop("application/json")
            if method == "post":
                operation.setdefault("parameters", []).append(idempotency_parameter())
