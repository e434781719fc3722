"""VIP customers (individuals) [S2 §6–8]: route → here → `domain.rules.vip` (the rule).

Definitions:

- **Who is assessed**: individual customers on the book on D — onboarded on
  or before D and not closed by D. Customers reaching no level are omitted.
- **Figures** (see `domain.rules.vip`): the mean of the 12 complete calendar
  months' daily-average deposits before D's month and the loan balance on D,
  from the recorded balances (carried forward); repayment defaults and card
  spending from the customer document.
- **Levels**: `head_office` when any criterion meets the head-office
  thresholds, else `branch` by the thresholds of the customer's own branch,
  both from the rulebook in force on D. `criterion` is the first criterion met
  at that level, `criteria_met` all of them.
- **Manual grants** [S2 §7]: the latest grant on or before D lifts the
  computed level (never lowers it); `granted` says a grant decided the level,
  with its `approver`. A granted customer is listed even when no criterion is met.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from domain.errors import NotFound
from domain.money import format_exact_fen, format_fen
from domain.rulebook import Rulebook
from domain.rules.vip import LEVELS, VipAssessment, assess_vip, higher_level
from domain.values import Segment
from projections.reader import BookReader

Doc = dict[str, Any]


def on_book(doc: Doc, on: date) -> bool:
    day = on.isoformat()
    return bool(doc["onboarded_on"] <= day and not (doc["closed_on"] and doc["closed_on"] <= day))


def assessment(reader: BookReader, doc: Doc, on: date, rulebook: Rulebook) -> VipAssessment:
    """One individual's VIP level on `on` under `rulebook`."""
    balances = reader.balances(doc["no"], on)
    return assess_vip(
        on, rulebook, doc["branch"],
        deposits={d: deposit for d, (deposit, _loan) in balances.items()},
        loans={d: loan for d, (_deposit, loan) in balances.items()},
        defaults=[date.fromisoformat(d) for d in doc["defaults"]],
        card_spending=doc["card"])


def _row(reader: BookReader, doc: Doc, on: date, found: VipAssessment) -> dict[str, Any]:
    figures = found.figures
    return {
        "customer_no": doc["no"], "name": doc["name"], "branch": doc["branch"],
        "custodian": reader.custodian_on(doc, on.isoformat()),
        "level": found.level, "criterion": found.criterion,
        "criteria_met": list(found.criteria_met), "granted": False, "approver": None,
        "avg_monthly_deposit": format_exact_fen(figures.avg_monthly_deposit),
        "loan_balance": format_fen(figures.loan_balance),
        "repayment_default": figures.defaulted,
        "card_spending_12m": format_fen(figures.card_spending_12m),
    }


def latest_grant(doc: Doc, on: date) -> list[str] | None:
    """The manual grant [S2 §7] in force on `on`: [on, level, approver], or None."""
    grants = [g for g in doc.get("vip_grants", []) if g[0] <= on.isoformat()]
    return max(grants, key=lambda g: g[0]) if grants else None


def vip_customers(reader: BookReader, branch: str | None, on: date) -> dict[str, Any]:
    """GET /v1/vip: VIP individuals on `on`, head office first, with the criterion met."""
    if branch is not None and not reader.has_branch(branch):
        raise NotFound(f"branch {branch} not found", field="branch")
    rulebook = reader.history.effective_on(on)
    rows = []
    for doc in reader.customers_in_branch(branch):
        if doc["segment"] != Segment.INDIVIDUAL or not on_book(doc, on):
            continue
        found = assessment(reader, doc, on, rulebook)
        grant = latest_grant(doc, on)
        level = higher_level(found.level, grant[1] if grant else None)
        if level is not None:
            row = _row(reader, doc, on, found)
            if grant is not None and level != found.level:
                row.update(level=level, granted=True, approver=grant[2])
            rows.append(row)
    rows.sort(key=lambda r: (-LEVELS.index(r["level"]), r["customer_no"]))
    counts = Counter(r["level"] for r in rows)
    return {"branch": branch, "as_of": on, "rulebook_version": rulebook.version,
            "counts": {"head_office": counts["head_office"], "branch": counts["branch"]},
            "customers": rows}
