"""Operations over HTTP: health, readiness, projection status, rulebooks and rebuilds, OpenAPI."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from application.settings import Settings
from interfaces.http.app import create_app
from tests.api.conftest import Api
from tests.api.support import position, problem
from tests.support import default_document


def rulebook(version: str = "2026.1", effective_from: str = "2026-06-01") -> dict[str, Any]:
    document = default_document()
    document.update(version=version, effective_from=effective_from)
    document["tiers"][-1]["more_than"] = -1
    return {"version": version, "effective_from": effective_from, "document": document,
            "reason": "new rules"}


def finished(api: Api, rebuild_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        report: dict[str, Any] = api.get(f"/v1/projections/rebuilds/{rebuild_id}",
                                         as_="auditor").json()
        if report["status"] != "running" or time.monotonic() > deadline:
            return report
        time.sleep(0.05)


def test_health_ready_and_projection_status(make_api: Callable[..., Api]) -> None:
    api = make_api(project_in_process=False)
    assert api.get("/v1/health", as_=None).json() == {"status": "ok"}
    assert api.get("/v1/ready", as_=None).status_code == 200
    api.ok("POST", "/v1/managers", {"staff_no": "M1", "name": "Staff M1", "branch": "B1",
                                    "role": "customer_manager", "grade": "manager", "band": 2,
                                    "hired_on": "2020-01-01"})
    behind = problem(api.get("/v1/ready", as_=None), 503, "not_ready")
    assert behind["projections"] == {"book": 1, "audit": 1}
    status = api.get("/v1/projections", as_="auditor").json()
    assert status["head"] == 1
    assert {p["name"]: p["lag"] for p in status["projections"]} == {"book": 1, "audit": 1}
    api.get("/v1/managers/M1/tier")  # a read catches the projections up
    assert api.get("/v1/ready", as_=None).json()["projections"] == {"book": 0, "audit": 0}


def test_projections_follow_in_process_on_sqlite_only_by_default(api: Api) -> None:
    runtime = api.client.app.state.runtime  # type: ignore[attr-defined]
    assert (runtime.follower is not None) == (runtime.settings.backend == "sqlite")


def test_publish_a_rulebook_and_its_side_by_side_rebuild(seeded: Api) -> None:
    published = seeded.post("/v1/rulebooks", rulebook())
    assert published.status_code == 201, published.text
    position(published)
    body = published.json()
    assert (body["version"], body["effective_from"]) == ("2026.1", "2026-06-01")
    report = finished(seeded, body["rebuild_id"])
    assert report["status"] == "finished", report
    assert report["projections"] == ["book"] and report["diff"] is not None
    versions = seeded.get("/v1/rulebooks").json()["versions"]
    assert [(v["version"], v["author"]) for v in versions] == [("2024.1", None),
                                                               ("2026.1", "ops-admin")]
    problem(seeded.post("/v1/rulebooks", rulebook()), 409, "already_exists")


def test_rulebook_refusals(shared_api: Api) -> None:
    seeded = shared_api
    mismatch = rulebook()
    mismatch["version"] = "2026.2"
    problem(seeded.post("/v1/rulebooks", mismatch), 422, "validation_error", "document.version")
    moved = rulebook()
    moved["effective_from"] = "2026-07-01"
    problem(seeded.post("/v1/rulebooks", moved), 422, "validation_error",
            "document.effective_from")
    broken = rulebook()
    broken["document"]["tiers"] = []
    problem(seeded.post("/v1/rulebooks", broken), 422, "rulebook_invalid", "document.tiers")
    problem(seeded.post("/v1/rulebooks", rulebook("1999.1", "1999-01-01")), 422,
            "date_out_of_range", "effective_from")


def test_rebuilds_all_and_what_if(seeded: Api) -> None:
    started = seeded.post("/v1/projections/rebuild", {})
    assert started.status_code == 202, started.text
    report = finished(seeded, started.json()["rebuild_id"])
    assert report["status"] == "finished" and sorted(report["projections"]) == ["audit", "book"]
    seeded.ok("POST", "/v1/rulebooks", rulebook())
    what_if = seeded.post("/v1/projections/rebuild", {"rulebook": "2026.1"})
    assert what_if.status_code == 202
    report = finished(seeded, what_if.json()["rebuild_id"])
    assert report["status"] == "finished" and report["what_if"] == "2026.1-what-if"
    problem(seeded.post("/v1/projections/rebuild", {"rulebook": "1.0"}), 404, "not_found",
            "rulebook")
    problem(seeded.get("/v1/projections/rebuilds/" + "f" * 32, as_="auditor"), 404, "not_found")
    verified = seeded.get("/v1/audit/verify", as_="auditor").json()
    assert verified["ok"] is True and verified["first_bad_position"] is None
    assert verified["checked"] > 0


def test_openapi_is_valid_3_1_and_describes_every_route(auth_file: Path) -> None:
    # The schema needs no store: the app is not started (no lifespan), only asked.
    app = create_app(Settings(database_url="sqlite:///unused.db"), auth_file)
    document = TestClient(app).get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    validate(document)
    paths = document["paths"]
    assert len(paths) == 37
    for path, methods in paths.items():
        for method, operation in methods.items():
            if path not in ("/v1/health", "/v1/ready"):
                assert operation.get("security") == [{"HTTPBearer": []}], (method, path)
            if method == "post":
                names = [p["name"] for p in operation["parameters"]]
                assert "Idempotency-Key" in names, path
                success = next(s for s in operation["responses"] if s.startswith("2"))
                if path != "/v1/projections/rebuild":
                    assert "X-Event-Position" in operation["responses"][success]["headers"]
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"], path
    assert set(paths["/v1/balances/import"]["post"]["requestBody"]["content"]) == {
        "text/csv", "application/x-ndjson", "application/json"}
    schemas = document["components"]["schemas"]
    assert schemas["BalanceBody"]["examples"] and schemas["Problem"]["examples"]
