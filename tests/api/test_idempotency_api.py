"""Idempotency-Key: a repeat answers the first response and writes nothing, even after a restart."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from interfaces.http.idempotency import ABANDONED_AFTER_MS, IdempotencyStore, Outcome, StoredResponse
from tests.api.conftest import Api
from tests.api.support import problem

BALANCE = {"on": "2026-03-01", "deposit": "2000000.00"}


def head(api: Api) -> int:
    return int(api.get("/v1/projections", as_="auditor").json()["head"])


def test_repeat_returns_the_first_response_and_writes_nothing(seeded: Api) -> None:
    key = {"Idempotency-Key": "fee-2026-03-15-001"}
    fee = {"on": "2026-03-15", "kind": "fee", "amount": "10.00"}
    first = seeded.post("/v1/customers/C1/non-deposit", fee, as_="feed", headers=key)
    assert first.status_code == 200, first.text
    before = head(seeded)
    again = seeded.post("/v1/customers/C1/non-deposit", fee, as_="feed", headers=key)
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert again.headers["X-Event-Position"] == first.headers["X-Event-Position"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert head(seeded) == before
    problem(seeded.post("/v1/customers/C1/non-deposit", {**fee, "amount": "11.00"}, as_="feed",
                        headers=key), 409, "idempotency_key_reused")
    # Keys belong to their principal: another one may use the same key for its own request.
    other = seeded.post("/v1/customers/C1/non-deposit", fee, as_="admin", headers=key)
    assert other.status_code == 200 and "Idempotent-Replayed" not in other.headers
    assert head(seeded) == before + 1


def test_created_resources_replay_201_and_location(seeded: Api) -> None:
    key = {"Idempotency-Key": "onboard-C5"}
    body = {"customer_no": "C5", "name": "C5 Co", "segment": "corporate", "branch": "B1",
            "origin": "natural", "onboarded_on": "2026-01-01"}
    first = seeded.post("/v1/customers", body, headers=key)
    again = seeded.post("/v1/customers", body, headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Location"] == "/v1/customers/C5" and again.json() == first.json()
    problem(seeded.post("/v1/customers", body), 409, "already_exists")  # without the key


def test_a_refused_request_is_not_remembered(seeded: Api) -> None:
    key = {"Idempotency-Key": "early-balance"}
    problem(seeded.post("/v1/customers/C5/balances", BALANCE, as_="feed", headers=key), 404,
            "not_found")
    seeded.ok("POST", "/v1/customers", {"customer_no": "C5", "name": "C5 Co",
                                        "segment": "corporate", "branch": "B1",
                                        "origin": "natural", "onboarded_on": "2026-01-01"})
    later = seeded.post("/v1/customers/C5/balances", BALANCE, as_="feed", headers=key)
    assert later.status_code == 200 and later.json()["recorded"] is True


def test_keys_survive_a_restart(make_api: Callable[..., Api]) -> None:
    first_app = make_api()
    key = {"Idempotency-Key": "manager-M1"}
    body = {"staff_no": "M1", "name": "Staff M1", "branch": "B1", "role": "customer_manager",
            "grade": "manager", "band": 2, "hired_on": "2020-01-01"}
    first = first_app.post("/v1/managers", body, headers=key)
    assert first.status_code == 201
    first_app.close()
    restarted = make_api()
    again = restarted.post("/v1/managers", body, headers=key)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["X-Event-Position"] == first.headers["X-Event-Position"]
    problem(restarted.post("/v1/managers", {**body, "name": "Other"}, headers=key), 409,
            "idempotency_key_reused")


def test_the_balance_feed_is_idempotent_by_key(seeded: Api) -> None:
    key = {"Idempotency-Key": "feed-2026-04-01", "Content-Type": "text/csv"}
    csv = "C1,2026-04-01,7.00\nC9,2026-04-01,8.00\n"
    first = seeded.request("POST", "/v1/balances/import", content=csv, as_="feed", headers=key)
    before = head(seeded)
    again = seeded.request("POST", "/v1/balances/import", content=csv, as_="feed", headers=key)
    assert again.json() == first.json() and again.json()["recorded"] == 2
    assert head(seeded) == before
    problem(seeded.request("POST", "/v1/balances/import", content=csv, as_="feed",
                           params={"skip_invalid": "true"}, headers=key),
            409, "idempotency_key_reused")


def test_a_malformed_key_is_refused(api: Api) -> None:
    problem(api.post("/v1/customers/C1/balances", BALANCE, as_="feed",
                        headers={"Idempotency-Key": "x" * 256}),
            422, "validation_error", "Idempotency-Key")


def test_store_reserves_once_and_takes_over_abandoned_keys(api: Api) -> None:
    store: IdempotencyStore = api.client.app.state.runtime.idempotency  # type: ignore[attr-defined]
    assert store.reserve("p", "k", "f1") == (Outcome.RESERVED, None)
    assert store.reserve("p", "k", "f1") == (Outcome.IN_PROGRESS, None)
    assert store.reserve("p", "k", "f2") == (Outcome.REUSED, None)
    # The reserving process died: after a while the key may be used again.
    store.db.execute("UPDATE rmbook_idempotency SET reserved_at=? WHERE principal='p'",
                     (int(time.time() * 1000) - ABANDONED_AFTER_MS - 1,))
    assert store.reserve("p", "k", "f1") == (Outcome.RESERVED, None)
    store.complete("p", "k", StoredResponse(201, [("content-type", "application/json")], b"{}"))
    outcome, stored = store.reserve("p", "k", "f1")
    assert outcome is Outcome.REPLAY and stored is not None and stored.status == 201
    store.release("p", "k")  # only pending reservations are released
    assert store.reserve("p", "k", "f1")[0] is Outcome.REPLAY
    problem(api.post("/v1/managers", {}, headers={"Idempotency-Key": "k"}), 422,
            "validation_error")


def test_a_repeat_while_the_first_still_runs_is_a_conflict(api: Api) -> None:
    store: IdempotencyStore = api.client.app.state.runtime.idempotency  # type: ignore[attr-defined]
    body = b'{"on": "2026-03-01"}'
    digest = hashlib.sha256(b"POST\x00/v1/managers/M1/departure\x00\x00application/json\x00"
                            + body).hexdigest()
    store.reserve("ops-admin", "busy", digest)  # as if another worker were running it
    response = api.request("POST", "/v1/managers/M1/departure", content=body,
                           headers={"Idempotency-Key": "busy",
                                    "Content-Type": "application/json"})
    problem(response, 409, "idempotency_key_in_progress")
