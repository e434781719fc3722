"""Manager scorecard (DOMAIN §8 [S0 §16]): route → here → the pure rules named below.

S0 §16 sorts a customer manager's indicators into business expansion (业务拓展),
customer maintenance (客户维护) and work quality (工作质量). Over a period
(`2026-03`, `2026-Q1`, `2026-H1`, `2026`) measured from its first day to its
last day or `today`, whichever is earlier ("measured_to"), and counting only
what happened to customers **in the manager's custody on the day it happened**
(the custody chain, `BookReader.custodian_on`):

Business expansion [S0 §16(一)] — corporate settlement accounts opened in the
period (all types are settlement accounts; closing one later does not undo
its opening):
- `new_accounts` (新开户数量): every such account;
- `new_basic_accounts` (新开基本户数量): those of type `basic`;
- `new_usd_settlement_accounts` (新增美元结算户): those in currency `USD`.

Customer maintenance [S0 §16(二)]:
- `dormant_to_normal` / `normal_to_dormant` (睡眠户转正常户 / 正常户转睡眠户):
  status changes dated in the period, read from the customer document's
  `status` entries `[on, status, previous]`;
- `closures` (销户): customers closed in the period whose custodian on the day
  before closure (custody ends on the closure date) was the manager;
  `held_at_start`: customers in custody on the period's first day;
  `closure_rate` (销户率) = closures / held_at_start, 4 decimals, `None` when
  nothing was held (it counts every closure, also of customers taken on
  during the period, so it can exceed 1);
- `attributed_new_deposits` (新增存款): the manager's attributed daily-average
  deposits over the period (DOMAIN §5, `projections.reports.attribution`)
  minus those over the previous period of the same kind (a quarter against
  the quarter before). Each average is rounded half-even to the fen first, so
  the three figures shown reconcile;
- `new_payroll` / `new_e_banking` (新增代发工资户 / 新增企业网银): customers whose
  first signing of the service (document `services`) is dated in the period.

Work quality [S0 §16, §14]: the period's visit compliance for the manager
(`projections.reports.visits`: units due, compliant, rate, overdue customers).

S0 §16(二) also names 新增有效结算户, 新增优质结算户 and 派生零售指标; the
seeds do not define them and no event records them, so they are not shown.
"""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction
from typing import Any

from domain.errors import NotFound
from domain.money import format_fen, round_fen
from domain.rules.calendar import days_between
from domain.rules.visits import Period, previous_period
from domain.values import AccountType, ActivityStatus, Segment, Service
from projections.reader import BookReader
from projections.reports.attribution import party_balance_days
from projections.reports.visits import (
    answered_for,
    format_rate,
    held_on,
    manager_compliance,
    reporting_period,
    rulebook_versions,
)

Doc = dict[str, Any]
_DAY = timedelta(days=1)
USD = "USD"


class Custody:
    """The manager's customers over a period, and whether one was held on a given day."""

    def __init__(self, reader: BookReader, manager: Doc, start: date, end: date) -> None:
        self.reader = reader
        self.staff_no: str = manager["staff_no"]
        self.start, self.end = start, end
        # From the day before: a customer closed on the first day was held until then.
        self.docs = reader.customers(sorted(answered_for(manager, start - _DAY, end)))

    def held(self, doc: Doc, day: str) -> bool:
        return self.reader.custodian_on(doc, day) == self.staff_no

    def in_period(self, day: str | None) -> bool:
        return day is not None and self.start.isoformat() <= day <= self.end.isoformat()


def business_expansion(custody: Custody) -> dict[str, Any]:
    """[S0 §16(一)] accounts opened in the period by customers in custody that day."""
    branches = sorted({doc["branch"] for doc in custody.docs.values()})
    opened = [a for branch in branches
              for a in custody.reader.accounts(branch, custody.start, custody.end)
              if a["customer_no"] in custody.docs and a["segment"] == Segment.CORPORATE
              and custody.held(custody.docs[a["customer_no"]], a["opened_on"])]
    return {
        "new_accounts": len(opened),
        "new_basic_accounts": sum(a["type"] == AccountType.BASIC for a in opened),
        "new_usd_settlement_accounts": sum(a["currency"] == USD for a in opened),
        "accounts": [a["account_no"] for a in opened],
    }


def status_flips(custody: Custody) -> tuple[int, int]:
    """(dormant→normal, normal→dormant) changes in the period, in custody that day."""
    woke = slept = 0
    for doc in custody.docs.values():
        for on, status, previous in doc["status"]:
            if not custody.in_period(on) or not custody.held(doc, on):
                continue
            woke += previous == ActivityStatus.DORMANT and status == ActivityStatus.NORMAL
            slept += previous == ActivityStatus.NORMAL and status == ActivityStatus.DORMANT
    return woke, slept


def closures(custody: Custody, manager: Doc) -> dict[str, Any]:
    closed = sorted(no for no, doc in custody.docs.items() if custody.in_period(doc["closed_on"])
                    and custody.held(doc, _day_before(doc["closed_on"])))
    held = len(held_on(manager, custody.start.isoformat()))
    return {"closures": len(closed), "closed_customers": closed, "held_at_start": held,
            "closure_rate": format_rate(Fraction(len(closed), held) if held else None)}


def _day_before(day: str) -> str:
    return (date.fromisoformat(day) - _DAY).isoformat()


def new_signings(custody: Custody, service: Service) -> int:
    """Customers whose first signing of `service` is in the period, in custody that day."""
    return sum(1 for doc in custody.docs.values()
               if custody.in_period(on := doc["services"].get(service))
               and custody.held(doc, on))


def attributed_daily_average(reader: BookReader, docs: list[Doc], staff_no: str, start: date,
                             end: date) -> Fraction:
    """The manager's exact attributed daily-average deposit over [start, end] (DOMAIN §5)."""
    share = party_balance_days(reader, docs, start, end).get(staff_no, Fraction(0))
    return share / days_between(start, end)


def new_deposits(reader: BookReader, manager: Doc, report: Period, end: date) -> dict[str, Any]:
    """[S0 §16(二) 新增存款] this period's attributed daily average less the previous one's."""
    docs = list(reader.customers(sorted(manager["parties"])).values())
    before = previous_period(report)
    now_fen = round_fen(attributed_daily_average(reader, docs, manager["staff_no"],
                                                 report.start, end))
    before_fen = round_fen(attributed_daily_average(reader, docs, manager["staff_no"],
                                                    before.start, before.end))
    return {"attributed_daily_average": format_fen(now_fen), "previous_period": before.key,
            "previous_daily_average": format_fen(before_fen),
            "attributed_new_deposits": format_fen(now_fen - before_fen)}


def customer_maintenance(reader: BookReader, custody: Custody, manager: Doc,
                         report: Period) -> dict[str, Any]:
    woke, slept = status_flips(custody)
    return {"dormant_to_normal": woke, "normal_to_dormant": slept,
            **closures(custody, manager),
            **new_deposits(reader, manager, report, custody.end),
            "new_payroll": new_signings(custody, Service.PAYROLL),
            "new_e_banking": new_signings(custody, Service.E_BANKING)}


def work_quality(reader: BookReader, manager: Doc, report: Period, today: date
                 ) -> dict[str, Any]:
    row = manager_compliance(reader, manager, report, today)
    return {"visits_due": row["due"], "visits_compliant": row["compliant"],
            "visit_compliance_rate": row["rate"], "non_compliant": row["non_compliant"],
            "overdue": row["overdue"], "needs_reassignment": row["needs_reassignment"]}


def scorecard(reader: BookReader, staff_no: str, period: str, today: date) -> dict[str, Any]:
    """GET /v1/scorecards/{staff_no}: the three groups of S0 §16 for one period."""
    report = reporting_period(period, today)
    with reader.db.snapshot():  # every figure from the views as of one moment
        manager = reader.manager(staff_no)
        if manager is None:
            raise NotFound(f"manager {staff_no} not found", field="staff_no")
        end = min(report.end, today)
        custody = Custody(reader, manager, report.start, end)
        return {
            "staff_no": staff_no, "name": manager["name"], "branch": manager["branch"],
            "role": manager["role"], "departed_on": manager["departed_on"],
            "period": report.key, "from": report.start, "to": report.end, "measured_to": end,
            "rulebook_version": reader.history.effective_on(end).version,
            "rulebook_versions": rulebook_versions(reader.history, report.start, end),
            "business_expansion": business_expansion(custody),
            "customer_maintenance": customer_maintenance(reader, custody, manager, report),
            "work_quality": work_quality(reader, manager, report, today),
        }
