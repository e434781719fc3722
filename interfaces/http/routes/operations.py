"""Operations: health, readiness, projection status, rebuilds."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from domain.errors import NotFound
from interfaces.http import responses
from interfaces.http.auth import Auditor, Operator
from interfaces.http.deps import ReadSide, RuntimeDep
from interfaces.http.errors import ProblemError
from interfaces.http.models import RebuildBody
from interfaces.http.openapi import for_read, problems
from projections.rebuild import load_report
from projections.runner import NAMES

router = APIRouter(prefix="/v1", tags=["operations"])


@router.get("/health", response_model=responses.HealthOut, summary="200 while serving")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", response_model=responses.ReadyOut, responses=problems(503),
            summary="200 when the store answers and the projections are caught up")
def ready(runtime: RuntimeDep) -> dict[str, Any]:
    try:
        head = runtime.bank.max_position()
        positions = {g.name: g.position for g in runtime.projector.registry.all()
                     if g.status == "active"}
    except Exception as e:  # any failure to ask the store means it is not reachable
        raise ProblemError("not_ready", f"the store is not reachable ({type(e).__name__})"
                           ) from None
    lags = {name: max(0, head - positions[name]) if name in positions else head
            for name in NAMES}
    behind = {n: lag for n, lag in lags.items() if lag > runtime.http.ready_max_lag}
    if behind:
        raise ProblemError("not_ready", "projections are behind the store: " + ", ".join(
            f"{n} by {lag}" for n, lag in sorted(behind.items())),
            extra={"head": head, "projections": lags})
    return {"status": "ready", "head": head, "projections": lags}


@router.get("/projections", response_model=responses.ProjectionsOut, responses=for_read(),
            summary="Each projection: position, lag, rulebook version, status")
def projections(_principal: Auditor, projector: ReadSide) -> dict[str, Any]:
    projector.ensure()
    return {"head": projector.bank.max_position(),
            "projections": [s.as_dict() for s in projector.status()]}


@router.post("/projections/rebuild", status_code=202, response_model=responses.RebuildStartedOut,
             responses=problems(401, 403, 404, 409, 413, 422),
             summary="Rebuild projections side by side (or a what-if under a published rulebook)")
def start_rebuild(body: RebuildBody, _principal: Operator, runtime: RuntimeDep) -> dict[str, Any]:
    what_if = None
    if body.rulebook is not None:
        found = runtime.bank.rulebook_history().by_version(body.rulebook)
        if found is None:
            raise NotFound(f"rulebook {body.rulebook} not found", field="rulebook")
        # A what-if of a published version: diffed against the serving book, never switched in.
        what_if = {**found.document, "version": f"{found.version}-what-if"}
    names = [body.projection.value] if body.projection else None
    return {"rebuild_id": runtime.rebuilds.start(names, what_if)}


@router.get("/projections/rebuilds/{rebuild_id}", response_model=responses.RebuildOut,
            responses=for_read(), summary="A rebuild's progress, and its diff when finished")
def get_rebuild(rebuild_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
                _principal: Auditor, projector: ReadSide) -> dict[str, Any]:
    found = load_report(projector, rebuild_id)
    if found is None:
        raise NotFound(f"rebuild {rebuild_id} not found", field="rebuild_id")
    return found
