"""Rulebooks: list versions with authors; publish one (and rebuild side by side)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from application.commands import PublishRulebook
from application.service import BookOfBusiness
from domain import identity
from domain.rulebooks import RulebookRegistry
from interfaces.http import responses
from interfaces.http.access import StateReadNow
from interfaces.http.auth import Operator
from interfaces.http.deps import written
from interfaces.http.errors import ProblemError
from interfaces.http.lanes import view_read
from interfaces.http.models import PublishRulebookBody
from interfaces.http.openapi import for_read, for_write
from interfaces.http.runtime import Runtime

router = APIRouter(prefix="/v1/rulebooks", tags=["rulebooks"])


@router.get("", response_model=responses.RulebooksOut, responses=for_read(),
            summary="Rulebook versions with effective dates and authors")
@view_read
def list_rulebooks(access: StateReadNow) -> dict[str, Any]:
    return {"versions": publications(access.bank)}


@router.post("", status_code=201, response_model=responses.RulebookPublishedOut,
             responses=for_write(201),
             summary="Publish a rulebook version; rebuild the book under it side by side")
def publish(body: PublishRulebookBody, principal: Operator, request: Request,
            response: Response) -> dict[str, Any]:
    runtime: Runtime = request.app.state.runtime
    _agrees(body)
    receipt = runtime.bank.publish_rulebook(PublishRulebook(
        document=body.document, actor=principal.actor, reason=body.reason))
    result = written(response, runtime.bank, receipt)
    response.headers["Location"] = "/v1/rulebooks"
    # The serving book notes the new version as pending until a rebuild adopts it.
    rebuild_id = runtime.rebuilds.start(["book"], None)
    return {**result, "rebuild_id": rebuild_id}


def _agrees(body: PublishRulebookBody) -> None:
    """The body's version and date must be the document's own, not a second opinion."""
    errors = []
    if body.document.get("version") != body.version:
        errors.append({"field": "document.version", "message": f"must equal version "
                       f"({body.version!r}), got {body.document.get('version')!r}"})
    if body.document.get("effective_from") != body.effective_from.isoformat():
        errors.append({"field": "document.effective_from", "message": "must equal "
                       f"effective_from ({body.effective_from}), got "
                       f"{body.document.get('effective_from')!r}"})
    if errors:
        raise ProblemError("validation_error", "the document disagrees with the request",
                           errors=errors)


def publications(bank: BookOfBusiness) -> list[dict[str, Any]]:
    """Every version, oldest first: who published it, when, why (the built-in has no author).

    Read from the registry's own events because the aggregate keeps only the
    documents (see the report: this belongs in BookOfBusiness).
    """
    builtin = bank.builtin
    found: dict[str, dict[str, Any]] = {builtin.version: {
        "version": builtin.version, "effective_from": builtin.effective_from, "author": None,
        "published_at": None, "reason": None, "builtin": True}}
    for event in bank.events.get(identity.RULEBOOKS_ID):
        if isinstance(event, RulebookRegistry.Published):
            found[event.version] = {
                "version": event.version, "effective_from": event.on, "author": event.actor,
                "published_at": event.timestamp.isoformat(), "reason": event.reason,
                "builtin": False}
    return sorted(found.values(), key=lambda v: v["effective_from"])
