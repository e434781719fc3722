"""Shaping what the application returns into the API's shapes.

Inside rmbook money is fen and ratios are ten-thousandths (integers); the API
speaks decimal strings. Nothing else is computed here.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from domain.assignment import CustodyTerm
from domain.money import format_exact_fen, format_fen, format_ratio


def ratio(value: int | None) -> str | None:
    return format_ratio(value) if value is not None else None


def term(t: CustodyTerm) -> dict[str, Any]:
    base = t.base_daily_average
    return {"effective_on": t.effective_on, "mode": t.mode, "custodian": t.custodian,
            "claim_ratio": ratio(t.claim_ratio), "outgoing": t.outgoing,
            "deposit_ratio": ratio(t.deposit_ratio),
            "non_deposit_ratio": ratio(t.non_deposit_ratio),
            "base_daily_average": format_exact_fen(base) if base is not None else None}


def custody(view: dict[str, Any]) -> dict[str, Any]:
    return {"customer_no": view["customer_no"], "custodian": view["custodian"],
            "since": view.get("since"), "mode": view.get("mode"),
            "ended_on": view.get("ended_on"), "chain": [term(t) for t in view["chain"]]}


def reassignment(view: dict[str, Any]) -> dict[str, Any]:
    base = view.get("base_daily_average")
    return {**custody(view), "base_daily_average": format_exact_fen(base)
            if base is not None else None}


def customer(view: dict[str, Any], as_of: date) -> dict[str, Any]:
    shaped = {k: v for k, v in view.items() if k not in ("deposit_fen", "loan_fen", "custody")}
    shaped.update(as_of=as_of, deposit=format_fen(view["deposit_fen"]),
                  loan=format_fen(view["loan_fen"]), custody=custody(view["custody"]))
    return shaped


def manager(view: dict[str, Any], as_of: date) -> dict[str, Any]:
    return {**view, "as_of": as_of}


def book(report: dict[str, Any]) -> dict[str, Any]:
    """Manager's book: ratios from the projection's integers to decimal strings."""
    customers = [{**entry, **{k: ratio(entry[k]) for k in
                              ("claim_ratio", "deposit_ratio", "non_deposit_ratio")}}
                 for entry in report["customers"]]
    return {**report, "customers": customers}
