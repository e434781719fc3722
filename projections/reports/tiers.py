"""Tier reports (DOMAIN §6 [S0 §8]): route → here → `projections.tier_history` (the rule).

The book projection keeps each customer manager's tier history as date
ranges, computed under the rulebook in force on each date; every figure here
names that rulebook version.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from projections.reader import BookReader
from projections.tier_history import segment_on

Doc = dict[str, Any]


def _focus(reader: BookReader, version: str, tier: str) -> str | None:
    rulebook = next((r for r in reader.history.versions if r.version == version), None)
    rule = next((t for t in rulebook.tiers if t.tier == tier), None) if rulebook else None
    return rule.focus if rule else None


def tier_of(reader: BookReader, manager: Doc, on: date) -> dict[str, Any]:
    segment = segment_on(manager["tiers"], on.isoformat())
    departed = bool(manager["departed_on"] and manager["departed_on"] <= on.isoformat())
    held = [e[0] for e in manager["book"]
            if e[1] <= on.isoformat() and (e[2] is None or on.isoformat() < e[2])]
    result: dict[str, Any] = {
        "staff_no": manager["staff_no"], "branch": manager["branch"], "as_of": on,
        "tier": None, "credit_customers": 0, "focus": None, "rulebook_version": None,
        "departed": departed,
        # [DOMAIN §3] a departed manager's customers need a full transfer.
        "needs_reassignment": len(held) if departed else 0,
    }
    if segment is not None:
        result.update(tier=segment[2], credit_customers=segment[3], rulebook_version=segment[4],
                      focus=_focus(reader, segment[4], segment[2]))
    return result


def manager_tier(reader: BookReader, staff_no: str, on: date) -> dict[str, Any] | None:
    manager = reader.manager(staff_no)
    return tier_of(reader, manager, on) if manager else None


def tier_history(reader: BookReader, staff_no: str) -> list[dict[str, Any]] | None:
    manager = reader.manager(staff_no)
    if manager is None:
        return None
    return [{"from": s[0], "until": s[1], "tier": s[2], "credit_customers": s[3],
             "rulebook_version": s[4]} for s in manager["tiers"]]


def branch_tiers(reader: BookReader, branch: str | None, on: date) -> dict[str, Any]:
    """GET /v1/tiers: each customer manager's tier and the branch's distribution."""
    rows = []
    for manager in reader.managers(branch):
        if not manager["tiers"] or manager["hired_on"] > on.isoformat():
            continue
        rows.append(tier_of(reader, manager, on))
    tiers = [r["tier"] for r in rows if r["tier"]]
    names = [t.tier for t in reader.history.effective_on(on).tiers]
    counts = Counter(tiers)
    return {"branch": branch, "as_of": on, "rulebook_version":
            reader.history.effective_on(on).version,
            "managers": [{k: r[k] for k in ("staff_no", "tier", "credit_customers", "departed")}
                         for r in rows],
            "distribution": {name: counts.get(name, 0) for name in names}}


def manager_book(reader: BookReader, staff_no: str, on: date) -> dict[str, Any] | None:
    """GET /v1/managers/{staff_no}/book: customers in custody on a date, basis and ratios."""
    manager = reader.manager(staff_no)
    if manager is None:
        return None
    day = on.isoformat()
    held = sorted(e[0] for e in manager["book"] if e[1] <= day and (e[2] is None or day < e[2]))
    docs = reader.customers(held)
    customers = []
    for no in held:
        doc = docs[no]
        term = None
        for t in doc["chain"]:
            if t["effective_on"] <= day:
                term = t
        credit = any(g <= day and (c is None or day < c) for g, c, _ in doc["credit"])
        customers.append({
            "customer_no": no, "segment": doc["segment"], "basis": doc.get("basis"),
            "credit_customer": credit, "since": term["effective_on"] if term else None,
            "mode": term["mode"] if term else None,
            "claim_ratio": term["claim_ratio"] if term else None,
            "deposit_ratio": term["deposit_ratio"] if term else None,
            "non_deposit_ratio": term["non_deposit_ratio"] if term else None,
            "outgoing": term["outgoing"] if term else None,
        })
    return {"staff_no": staff_no, "as_of": on, "customers": customers,
            "tier": tier_of(reader, manager, on)}
