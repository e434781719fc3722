"""Timelines (DOMAIN §9): every event about a customer, manager or branch, in order."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from application.transcoding import decode_state
from projections.audit import AuditProjection

COLUMNS = ("position", "recorded_at", "effective_on", "type", "actor", "reason",
           "rulebook_version", "summary", "data")


def timeline(audit: AuditProjection, subject: str, *, known_at: datetime | None = None,
             after: int = 0, limit: int = 100) -> dict[str, Any]:
    """Events about `subject` ("customer:C1", "manager:M1", "branch:B01") after a position.

    Paginated by position: pass the returned `next_after` to get the next page.
    `known_at` hides events recorded after that instant (what the store knew then).
    """
    t = audit.table
    params: list[Any] = [subject, after]
    where = "s.subject=? AND s.position>?"
    if known_at is not None:
        where += " AND e.recorded_at<=?"
        params.append(known_at.astimezone(UTC).isoformat())
    params.append(limit + 1)
    rows = audit.db.fetchall(
        f"SELECT e.position, e.recorded_at, e.effective_on, e.type, e.actor, e.reason, "
        f"e.rulebook_version, e.summary, e.data FROM {t('subjects')} s JOIN {t('events')} e "
        f"ON e.position = s.position WHERE {where} ORDER BY s.position LIMIT ?", params)
    events = []
    for row in rows[:limit]:
        event = dict(zip(COLUMNS, row, strict=True))
        event["data"] = _public(decode_state(bytes(event["data"])))
        events.append(event)
    more = len(rows) > limit
    return {"subject": subject, "events": events,
            "next_after": events[-1]["position"] if more and events else None}


def _public(state: dict[str, Any]) -> dict[str, Any]:
    """The event's own fields (the library's bookkeeping left out)."""
    return {k: v for k, v in state.items() if k not in ("timestamp", "originator_topic")}
