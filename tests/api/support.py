"""Assertions shared by the HTTP tests."""

from __future__ import annotations

from typing import Any

PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "errors"}


def problem(response: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status and code (and field, if given)."""
    assert response.status_code == status, (status, code, response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json"), \
        response.headers["content-type"]
    body: dict[str, Any] = response.json()
    assert set(body) >= PROBLEM_KEYS, body
    assert body["status"] == status and body["code"] == code, body
    assert isinstance(body["errors"], list)
    for error in body["errors"]:
        assert set(error) == {"field", "message"}, error
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body
    return body


def position(response: Any) -> int:
    value = int(response.headers["X-Event-Position"])
    assert value > 0
    return value
