"""What a rule change changes: tiers (from → to, on which dates) and attribution moved."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from domain.money import format_exact_fen
from projections.book import BookProjection
from projections.db import ViewDatabase
from projections.reader import BookReader
from projections.reports.attribution import party_balance_days
from projections.tier_history import TierSegment


def _tier_changes(old: list[TierSegment], new: list[TierSegment]) -> list[dict[str, Any]]:
    """Date ranges on which the tier differs between two histories."""
    breaks = sorted({s[0] for s in old + new} | {s[1] for s in old + new if s[1]})
    changes: list[dict[str, Any]] = []

    def tier_at(history: list[TierSegment], day: str) -> str | None:
        found = None
        for segment in history:
            if segment[0] <= day:
                found = segment[2]
        return found

    for i, day in enumerate(breaks):
        before, after = tier_at(old, day), tier_at(new, day)
        until = breaks[i + 1] if i + 1 < len(breaks) else None
        if before == after:
            continue
        if changes and changes[-1]["until"] == day and changes[-1]["from_tier"] == before \
                and changes[-1]["to_tier"] == after:
            changes[-1]["until"] = until
        else:
            changes.append({"from_tier": before, "to_tier": after, "from": day, "until": until})
    return changes


def diff_books(db: ViewDatabase, old: BookProjection, new: BookProjection) -> dict[str, Any]:
    with db.snapshot():  # both generations, documents and balances, as of one moment
        return _diff(BookReader(db, old), BookReader(db, new))


def _diff(old_reader: BookReader, new_reader: BookReader) -> dict[str, Any]:
    tiers = []
    old_managers = {m["staff_no"]: m for m in old_reader.managers()}
    for manager in new_reader.managers():
        before = old_managers.get(manager["staff_no"], {}).get("tiers", [])
        changes = _tier_changes(before, manager["tiers"])
        if changes:
            tiers.append({"staff_no": manager["staff_no"], "changes": changes})

    # Attribution moves only where a handover's base moved (a different base window).
    span = new_reader.balance_span()
    moved: list[dict[str, Any]] = []
    if span is not None:
        start, end = span
        old_docs = {d["no"]: d for d in old_reader.customers_in_branch(None)}
        changed_old, changed_new = [], []
        for doc in new_reader.customers_in_branch(None):
            before = old_docs.get(doc["no"])
            if before is not None and _bases(before) != _bases(doc):
                changed_old.append(before)
                changed_new.append(doc)
        days = (end - start).days + 1
        before_days = party_balance_days(old_reader, changed_old, start, end)
        after_days = party_balance_days(new_reader, changed_new, start, end)
        for party in sorted(set(before_days) | set(after_days)):
            delta = after_days.get(party, Fraction(0)) - before_days.get(party, Fraction(0))
            if delta:
                moved.append({"party": party, "from": start, "to": end,
                              "daily_average_change": format_exact_fen(delta / days)})
    return {"tiers": tiers, "attribution": moved}


def _bases(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(t.get("base_balance_days"), t.get("base_days")) for t in doc["chain"]
            if t["mode"] == "handover"]
