"""Bad input is a 4xx problem, never a 500; problem+json shape; limits; request ids; logs."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest

from domain import errors as domain_errors
from interfaces.http.errors import STATUS_BY_CODE
from tests.api.conftest import TOKENS, Api, TestClient
from tests.api.support import problem

BAD_BODIES: list[tuple[str, Any]] = [
    ("/v1/customers/C1/balances", {"on": "2026-02-30", "deposit": "1"}),
    ("/v1/customers/C1/balances", {"on": "0001-01-01", "deposit": "1"}),
    ("/v1/customers/C1/balances", {"on": 20260201, "deposit": "1"}),
    ("/v1/customers/C1/balances", b'{"on": "2026-02-01", "deposit": 1e400}'),
    ("/v1/customers/C1/balances", b'{"on": "2026-02-01", "deposit": NaN}'),
    ("/v1/customers/C1/balances", b'{"on": "2026-02-01", "deposit": "1", "on": 5}'),
    ("/v1/customers/C1/balances", {"on": "2026-02-01", "deposit": "9" * 40}),
    ("/v1/customers/C1/balances", {"on": "2026-02-01", "deposit": True}),
    ("/v1/customers/C1/balances", {"on": "2026-02-01", "deposit": ["1"]}),
    ("/v1/customers/C1/balances", {"on": None, "deposit": "1"}),
    ("/v1/customers/C1/balances", ["not", "an", "object"]),
    ("/v1/customers/C1/balances", "just a string"),
    ("/v1/managers", {"staff_no": "M7", "name": "x", "branch": "B1", "role": "customer_manager",
                      "grade": "manager", "band": 10**30, "hired_on": "2020-01-01"}),
    ("/v1/managers", {"staff_no": "M7", "name": "", "branch": "B1", "role": "customer_manager",
                      "grade": "manager", "band": "two", "hired_on": "2020-01-01"}),
    ("/v1/customers/C1/card-spending", {"month": "0000-01", "amount": "1"}),
    ("/v1/customers/C1/reassignment", {"to_staff_no": "M2", "effective_on": "2026-07-01",
                                       "mode": "handover", "deposit_ratio": 0.6,
                                       "non_deposit_ratio": "NaN"}),
    ("/v1/customers/C1/assignment", {"staff_no": "M2", "effective_on": "9999-12-31",
                                     "basis": "natural", "claim_ratio": "1"}),
    ("/v1/rulebooks", {"version": "v", "effective_from": "2026-01-01", "document": "nope"}),
    ("/v1/projections/rebuild", {"projection": "everything"}),
]

BAD_QUERIES = [
    "/v1/customers/C1?as_of=2026-13-01",
    "/v1/customers/C1?as_of=10000-01-01",
    "/v1/customers/C1?known_at=yesterday",
    "/v1/customers/C1?known_at=0001-01-01T00:00:00Z",
    "/v1/customers/C1?min_position=99999999999999999999999999",
    "/v1/customers/C1/attribution?from=2026-01-01&to=x",
    "/v1/customers/C1/timeline?after=-5",
    "/v1/customers/C1/timeline?limit=100000",
    "/v1/customers/a%20b",
    "/v1/customers/" + "C" * 40,
    "/v1/visits/compliance?period=0001-Q1",
    "/v1/visits/compliance?period=2026-Q1&branch=%3Bdrop",
    "/v1/scorecards/M1?period=20261",
    "/v1/branches/B1/targets?from=0001-01-01&to=9999-12-31",
    "/v1/projections/rebuilds/not-an-id",
]


def test_bad_bodies_are_422_problems(shared_api: Api) -> None:
    for path, body in BAD_BODIES:
        if isinstance(body, bytes):
            response = shared_api.request("POST", path, content=body,
                                          headers={"Content-Type": "application/json"})
        else:
            response = shared_api.post(path, body)
        problem(response, 422, "validation_error")


def test_bad_queries_are_422_problems(shared_api: Api) -> None:
    for path in BAD_QUERIES:
        problem(shared_api.get(path, as_="auditor"), 422, "validation_error")


def test_malformed_json_and_wrong_media(shared_api: Api) -> None:
    body = problem(shared_api.request("POST", "/v1/customers/C1/balances", content=b'{"on": ',
                                      headers={"Content-Type": "application/json"}),
                   422, "validation_error", "body")
    assert "malformed JSON" in body["errors"][0]["message"]
    problem(shared_api.request("POST", "/v1/customers/C1/balances", content=b"on=1",
                               headers={"Content-Type": "application/x-www-form-urlencoded"}),
            422, "validation_error")
    problem(shared_api.request("POST", "/v1/customers/C1/balances", content=b"\xff\xfe",
                               headers={"Content-Type": "application/json"}),
            422, "validation_error")


def test_problem_document_shape(shared_api: Api) -> None:
    body = problem(shared_api.post("/v1/customers/C1/balances", {"on": "2026-02-01"}), 422,
                   "validation_error", "deposit")
    assert body["type"] == "urn:rmbook:problem:validation_error"
    assert body["title"] == "Unprocessable Content" and body["detail"]
    refusal = problem(shared_api.post("/v1/customers/C1/assignment", {
        "staff_no": "M2", "effective_on": "2026-02-01", "basis": "natural",
        "claim_ratio": "0.50"}), 409, "already_assigned", "customer_no")
    assert refusal["errors"][0]["message"]


def test_unknown_routes_and_methods(shared_api: Api) -> None:
    problem(shared_api.get("/v1/nothing-here"), 404, "not_found")
    problem(shared_api.request("DELETE", "/v1/customers/C1"), 405, "method_not_allowed")


def test_body_limits(make_api: Any) -> None:
    api = make_api(max_body_bytes=200, max_import_bytes=400)
    problem(api.post("/v1/customers/C1/balances", {"on": "2026-02-01", "deposit": "1",
                                                   "reason": "x" * 300}, as_="feed"),
            413, "payload_too_large")
    problem(api.request("POST", "/v1/balances/import", content="C1,2026-02-01,1.00\n" * 30,
                        as_="feed", headers={"Content-Type": "text/csv"}),
            413, "payload_too_large")

    def chunks() -> Any:  # no Content-Length: counted while read
        for _ in range(10):
            yield b"C1,2026-02-01,1.00\n" * 3

    problem(api.request("POST", "/v1/balances/import", content=chunks(), as_="feed",
                        headers={"Content-Type": "text/csv"}), 413, "payload_too_large")


def test_every_refusal_code_has_a_status() -> None:
    codes = {cls.code for cls in vars(domain_errors).values()
             if isinstance(cls, type) and issubclass(cls, domain_errors.Refusal)
             and cls is not domain_errors.Refusal}
    assert codes <= set(STATUS_BY_CODE), codes - set(STATUS_BY_CODE)
    assert {STATUS_BY_CODE[c] for c in codes} <= {404, 409, 422}


def test_request_id_and_access_log(shared_api: Api, caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("rmbook.access")
    logger.addHandler(caplog.handler)
    try:
        mine = shared_api.get("/v1/customers/C1?as_of=2026-10-01", as_="manager",
                              headers={"X-Request-ID": "req-42"})
        made = shared_api.get("/v1/customers/C1", headers={"X-Request-ID": "bad id\n"})
    finally:
        logger.removeHandler(caplog.handler)
    assert mine.headers["X-Request-ID"] == "req-42"
    assert made.headers["X-Request-ID"] != "bad id\n" and len(made.headers["X-Request-ID"]) == 32
    lines = [orjson.loads(r.getMessage()) for r in caplog.records if r.name == "rmbook.access"]
    first = next(line for line in lines if line["request_id"] == "req-42")
    assert first["path"] == "/v1/customers/C1" and first["method"] == "GET"
    assert first["status"] == 200 and first["principal"] == "mgr-m1"
    assert isinstance(first["duration_ms"], float)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "as_of" not in text and "C1 Co" not in text
    assert not any(token in text for token in TOKENS.values())


def test_a_lost_race_is_a_409_and_nothing_written(seeded: Api,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    bank = seeded.client.app.state.runtime.bank  # type: ignore[attr-defined]

    def raced(_command: Any) -> Any:
        raise domain_errors.ConcurrencyConflict("the record was changed by someone else meanwhile")

    monkeypatch.setattr(bank, "record_balance", raced)
    problem(seeded.post("/v1/customers/C1/balances", {"on": "2026-02-01", "deposit": "1"},
                        as_="feed", headers={"Idempotency-Key": "race-1"}),
            409, "concurrency_conflict")
    monkeypatch.undo()
    retried = seeded.post("/v1/customers/C1/balances", {"on": "2026-02-01", "deposit": "1"},
                          as_="feed", headers={"Idempotency-Key": "race-1"})
    assert retried.status_code == 200 and retried.json()["recorded"] is True


def test_a_crash_is_a_500_problem_without_details(seeded: Api,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    bank = seeded.client.app.state.runtime.bank  # type: ignore[attr-defined]

    def broken(*_args: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(bank, "manager_view", broken)
    # A second client on the running app (no second lifespan) that reports 500s as sent.
    client = TestClient(seeded.client.app, raise_server_exceptions=False)
    response = client.get("/v1/managers/M1", headers={"Authorization":
                                                       f"Bearer {TOKENS['admin']}"})
    body = problem(response, 500, "internal_error")
    assert "secret" not in response.text and body["errors"] == []
