"""One-line human summaries of events, for timelines (DOMAIN §9)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.money import format_fen, format_ratio

Summary = Callable[[dict[str, Any]], str]


def _ratio(value: int | None) -> str:
    return format_ratio(value) if value is not None else "?"


def _reassigned(s: dict[str, Any]) -> str:
    if s["mode"] == "handover":
        base = ""
        if s.get("base_days"):
            base = f", base {format_fen(s['base_balance_days'] // s['base_days'])}"
        return (f"handed over from {s['from_staff_no']} to {s['to_staff_no']}: increment "
                f"{_ratio(s['deposit_ratio'])} deposits / {_ratio(s['non_deposit_ratio'])} "
                f"non-deposit to the incoming{base}")
    return (f"transferred in full from {s['from_staff_no']} to {s['to_staff_no']} "
            f"at claim ratio {_ratio(s['claim_ratio'])}")


SUMMARIES: dict[str, Summary] = {
    "Customer/Onboarded": lambda s: f"{s['segment']} customer {s['customer_no']} onboarded at "
                                    f"branch {s['branch']} ({s['origin']})",
    "Customer/AccountOpened": lambda s: f"{s['type']} account {s['account_no']} opened "
                                        f"({s['currency']})",
    "Customer/AccountClosed": lambda s: f"account {s['account_no']} closed",
    "Customer/CreditGranted": lambda s: f"credit granted, limit {format_fen(s['limit_fen'])}",
    "Customer/CreditClosed": lambda s: "credit line closed",
    "Customer/BalanceRecorded": lambda s: f"balance deposit {format_fen(s['deposit_fen'])}, "
                                          f"loan {format_fen(s['loan_fen'])}",
    "Customer/BalanceCorrected": lambda s: (
        f"balance corrected: deposit {format_fen(s['previous_deposit_fen'])} → "
        f"{format_fen(s['deposit_fen'])}, loan {format_fen(s['previous_loan_fen'])} → "
        f"{format_fen(s['loan_fen'])}"),
    "Customer/NonDepositBusinessRecorded": lambda s: f"non-deposit business {s['kind']} "
                                                     f"{format_fen(s['amount_fen'])}",
    "Customer/StatusChanged": lambda s: f"status {s['previous']} → {s['status']}",
    "Customer/ServiceSigned": lambda s: f"signed {s['service']}",
    "Customer/CardSpendingRecorded": lambda s: f"card spending {s['month']}: "
                                               f"{format_fen(s['amount_fen'])}",
    "Customer/RepaymentDefaultRecorded": lambda s: "repayment default recorded",
    "Customer/VisitLogged": lambda s: f"{s['purpose']} visit by {s['staff_no']} ({s['channel']})",
    "Customer/VipGranted": lambda s: f"VIP level {s['level']} granted, approved by "
                                     f"{s['approver']}",
    "Customer/Closed": lambda s: "customer closed",
    "Manager/Registered": lambda s: f"{s['role']} {s['staff_no']} registered at branch "
                                    f"{s['branch']}, {s['grade']} band {s['band']}",
    "Manager/GradeChanged": lambda s: f"grade changed to {s['grade']} band {s['band']}",
    "Manager/Departed": lambda s: "departed",
    "Manager/CustodyTaken": lambda s: f"took custody of {s['customer_no']}",
    "Manager/CustodyReleased": lambda s: f"released custody of {s['customer_no']}",
    "Assignment/Assigned": lambda s: f"assigned to {s['staff_no']} ({s['basis']}, claim ratio "
                                     f"{_ratio(s['claim_ratio'])})",
    "Assignment/Reassigned": _reassigned,
    "Assignment/Ended": lambda s: "custody ended",
    "RulebookRegistry/Opened": lambda s: "rulebook registry opened",
    "RulebookRegistry/Published": lambda s: f"rulebook {s['version']} published",
    "AccountNumber/Claimed": lambda s: f"account number {s['account_no']} claimed by "
                                       f"{s['customer_no']}",
}


def summarize(kind: str, state: dict[str, Any]) -> str:
    summary = SUMMARIES.get(kind)
    return summary(state) if summary else kind
