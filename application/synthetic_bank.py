"""The synthetic bank of BENCHMARKS.md: a deterministic year (2025) of a bank's book of business.

`generate(scale, seed)` yields **operations in business-date order**: the
application's own command models (`application.commands`) and `FeedBalance`
rows of the core-banking feed. Applying them in order through the real
application service (see `application.demo`) passes every rule: branch
matching, eligibility, caps, claim floors, handover floors, no handover from a
departed custodian, dates after onboarding and hiring.

To make that possible the generator simulates the bank day by day and keeps
its own model of what the store will hold (who holds whom, open credit lines,
closures), deciding each custody change from the state of that day.

Determinism: every random draw comes from `random.Random` instances seeded
from `seed` (string seeds are hashed with SHA-512, stable across processes);
nothing reads the clock, and nothing iterates a `set` (string hashing is
salted per process, so set order would differ between runs).

Shape of the data (BENCHMARKS.md "Synthetic bank"):
- customers onboarded over earlier years ("stock") plus ~12 % new in 2025;
  month-end balances for 2024H2 migrated from the core ledger, so that a
  handover early in 2025 has a real base (previous half-year window);
- custody of the stock opened on 2025-01-01 (rmbook go-live);
- log-normal deposits, a quarter of corporates with credit and loan balances,
  visits by cadence with gaps, ~5 % of customers reassigned (mostly handovers),
  a few departures followed by full transfers, dormancy flips, account and
  customer closures, non-deposit business, service signings, card spending,
  repayment defaults, grade changes, and rulebook 2025.2 from 2025-07-01.
"""

from __future__ import annotations

import copy
import heapq
import itertools
import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from importlib import resources
from random import Random
from typing import Any, TypeAlias

from application import commands as c
from application.synthetic_population import (
    ONE_DAY,
    PUBLIC_SCALES,
    ROLE_WEIGHT,
    SCALES,
    YEAR_END,
    YEAR_START,
    Account,
    Client,
    Scale,
    Staff,
    day_between,
    plan_population,
    scale_of,
    weekday_on_or_after,
)
from domain.money import RATIO_ONE, format_fen
from domain.rulebook import Rulebook, parse_rulebook
from domain.values import (
    BANDS,
    AccountType,
    ActivityStatus,
    Basis,
    Channel,
    Grade,
    Purpose,
    ReassignmentMode,
    Service,
)

__all__ = ["PUBLIC_SCALES", "SCALES", "FeedBalance", "Operation", "Scale", "estimate_operations",
           "generate", "mid_year_rulebook", "plan_population", "scale_of"]

# Month-end balances of 2024H2 come from the core ledger's migration: with them the base of
# a handover in early 2025 (previous half-year window) is a real stock, not mostly zeros.
HISTORY_MONTH_ENDS = tuple(date(2024, m, d) for m, d in
                           ((6, 30), (7, 31), (8, 31), (9, 30), (10, 31), (11, 30), (12, 31)))
MID_YEAR_VERSION = "2025.2"
MID_YEAR_EFFECTIVE = date(2025, 7, 1)
MID_YEAR_PUBLISHED = date(2025, 6, 16)  # announced two weeks ahead, as head office does

FEED_ACTOR = "core-banking-feed"
MIGRATION_ACTOR = "core-banking-migration"
HR_ACTOR = "hr-system"
CREDIT_ACTOR = "credit-system"
CARD_ACTOR = "card-system"
POLICY_ACTOR = "head-office-policy"

# Order of operations within one business day.
HR, POLICY, ONBOARD, CUSTOMER, DEPART, CUSTODY, BUSINESS, CLOSE = range(8)


@dataclass(frozen=True, slots=True)
class FeedBalance:
    """One end-of-day row of the core-banking balance feed (fen)."""

    customer_no: str
    on: date
    deposit_fen: int
    loan_fen: int
    actor: str


Operation: TypeAlias = c.Command | FeedBalance
Action: TypeAlias = Callable[[date], Iterable[Operation]]


def estimate_operations(scale: Scale) -> int:
    """About how many operations `generate` yields (for progress bars, not exact)."""
    per_customer = 365 * scale.change_rate * 0.93 + len(HISTORY_MONTH_ENDS) + 21
    return int(scale.customers * per_customer + scale.managers * 1.2)


# ---- rulebooks ----------------------------------------------------------------------


def default_rulebook_document() -> dict[str, Any]:
    text = resources.files("application").joinpath("default_rulebook.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def mid_year_rulebook() -> dict[str, Any]:
    """Rulebook 2025.2: lower tier boundaries and monthly visits from a 200k loan.

    Floors, eligibility and caps stay as they were, so every custody decision
    of the year is valid under either version.
    """
    document = copy.deepcopy(default_rulebook_document())
    document["version"] = MID_YEAR_VERSION
    document["effective_from"] = MID_YEAR_EFFECTIVE.isoformat()
    lowered = {"A": 35, "B": 25, "C": 15, "D": 5}
    for tier in document["tiers"]:
        tier["more_than"] = lowered.get(tier["tier"], tier["more_than"])
    document["visits"]["large_credit_loan_at_least"] = "200000.00"
    return document


# ---- the year -------------------------------------------------------------------------

VISIT_NOTES = ("了解企业近期经营和资金情况", "走访财务负责人，核对账户信息", "推介代发工资和企业网银",
               "贷后检查，查看生产经营现场", "沟通续贷安排", "节前走访，了解结算需求",
               "电话回访，确认联系方式", "介绍理财和结算产品", "")
NON_DEPOSIT_KINDS = ("fee_income", "settlement_income", "fx_income", "wealth_sales")
HANDOVER_REASONS = ("支行客户结构调整", "客户经理岗位调整", "按片区重新分配客户", "客户要求更换客户经理")
FULL_REASONS = ("客户整体划转至对公团队", "分田到户调整", "客户经营地址变更，整体移交")
CLAIM_CHOICES: dict[Basis, tuple[str, ...]] = {
    Basis.NATURAL: ("0.50", "0.60", "0.70"),
    Basis.PUBLIC: ("0.30", "0.40", "0.50", "0.60"),
    Basis.MARKETED_WITH_BRANCH_RESOURCES: ("0.80", "0.90", "1.00"),
    Basis.MARKETED_WITHOUT_BRANCH_RESOURCES: ("1.00",),
}
DEPOSIT_RATIOS = ("0.60", "0.65", "0.70", "0.75", "0.80")
NON_DEPOSIT_RATIOS = ("0.80", "0.85", "0.90", "1.00")
# Keep books a little below the caps: a cap is a ceiling, not a target.
CAP_HEADROOM = {"corporate_credit_customers": 5, "customers": 3}


def _appetite(member: Staff, client: Client) -> float:
    """How likely a member is to get this customer: credit customers cluster on a few
    strong managers (so tiers A-E all occur); individuals go mostly to retail staff."""
    if not client.corporate:
        return member.weight * ROLE_WEIGHT.get(member.role, 1.0)
    return member.weight ** 2 if client.credit_limit_fen else member.weight


def _ratio(text: str) -> int:
    return round(float(text) * RATIO_ONE)


class _Year:
    """Simulates the bank day by day and yields what happened, in business-date order."""

    def __init__(self, scale: Scale, seed: int) -> None:
        population = plan_population(scale, seed)
        self.rng = Random(f"rmbook-synthetic/{seed}/events")
        self.flow = Random(f"rmbook-synthetic/{seed}/balances")
        self.rulebook: Rulebook = parse_rulebook(default_rulebook_document())
        self.large_loan_from_mid_year = parse_rulebook(mid_year_rulebook()) \
            .visits.large_credit_loan_at_least
        self.staff = population.staff
        self.clients = population.clients
        self.branch_staff = {b: [s for s in self.staff if s.branch == b]
                             for b in population.branches}
        self.branch_clients = {b: [cl for cl in self.clients if cl.branch == b]
                               for b in population.branches}
        self.agenda: dict[date, list[tuple[int, int, Action]]] = {}
        self.changes: dict[date, list[Client]] = {}
        self.dirty: dict[str, Client] = {}
        self.today = date.min
        self.today_heap: list[tuple[int, int, Action]] = []
        self.sequence = itertools.count()
        self.account_numbers = itertools.count(1)
        self._plan()

    # ---- the calendar ------------------------------------------------------------------

    def schedule(self, day: date, phase: int, action: Action) -> None:
        if day > YEAR_END:
            return
        entry = (phase, next(self.sequence), action)
        if day == self.today:
            heapq.heappush(self.today_heap, entry)
        else:
            assert day > self.today, "the simulation never schedules into the past"
            self.agenda.setdefault(day, []).append(entry)

    def run(self) -> Iterator[Operation]:
        day = min(self.agenda)
        while day <= YEAR_END:
            if day in self.agenda or day in self.changes:
                yield from self._run_day(day)
            day += ONE_DAY

    def _run_day(self, day: date) -> Iterator[Operation]:
        self.today = day
        self.today_heap = heap = self.agenda.pop(day, [])
        heapq.heapify(heap)
        while heap and heap[0][0] <= BUSINESS:
            yield from heapq.heappop(heap)[2](day)
        for client in self.changes.pop(day, ()):
            self._change_balance(client, day)
        while heap:
            yield from heapq.heappop(heap)[2](day)
        yield from self._feed(day)

    def _feed(self, day: date) -> Iterator[Operation]:
        """End of day: one feed row per customer whose balances moved today."""
        actor = FEED_ACTOR if day >= YEAR_START else MIGRATION_ACTOR
        for client in self.dirty.values():
            yield FeedBalance(client.customer_no, day, client.deposit_fen, client.loan_fen, actor)
        self.dirty.clear()

    def _touch(self, client: Client, day: date) -> None:
        if day >= HISTORY_MONTH_ENDS[0]:
            self.dirty[client.customer_no] = client

    # ---- planning ----------------------------------------------------------------------

    def _plan(self) -> None:
        for member in self.staff:
            self.schedule(member.hired_on, HR, partial(self._register, member))
            if member.departs_on is not None:
                self.schedule(member.departs_on, DEPART, partial(self._depart, member))
        self._plan_grade_changes()
        self.schedule(MID_YEAR_PUBLISHED, POLICY, self._publish_rulebook)
        for client in self.clients:
            self.schedule(client.onboarded_on, ONBOARD, partial(self._onboard, client))
            self._plan_client_life(client)
        for month_end in HISTORY_MONTH_ENDS:
            self.schedule(month_end, BUSINESS, self._migrate_month_end)
        self.schedule(YEAR_START, CUSTODY, self._go_live)
        for month in range(1, 13):
            first_next = date(2026, 1, 1) if month == 12 else date(2025, month + 1, 1)
            self.schedule(first_next - ONE_DAY, BUSINESS, self._card_spending)
        self._plan_reassignments()
        self._plan_closures()

    def _plan_grade_changes(self) -> None:
        for member in self.staff:
            if self.rng.random() < 0.15:
                on = self.rng.choice([date(2025, 4, 1), date(2025, 7, 1), date(2025, 10, 1)])
                if on > member.hired_on:
                    up = self.rng.random() < 0.75
                    self.schedule(on, HR, partial(self._change_grade, member, up))

    def _plan_client_life(self, client: Client) -> None:
        if client.credit_granted_on is not None:
            self.schedule(client.credit_granted_on, CUSTOMER, partial(self._grant_credit, client))
        if client.credit_closes_on is not None:
            self.schedule(client.credit_closes_on, CUSTOMER, partial(self._close_credit, client))
        if client.corporate:
            self._plan_services(client)
            self._plan_accounts(client)
            if client.credit_limit_fen == 0 and self.rng.random() < 0.04:
                self._plan_dormancy(client)
        elif client.personal_loan_fen and self.rng.random() < 0.15:
            on = day_between(self.rng, max(client.onboarded_on, date(2025, 2, 3)), YEAR_END)
            self.schedule(on, BUSINESS, partial(self._default, client))

    def _plan_services(self, client: Client) -> None:
        """Most companies signed e-banking (some payroll) in earlier years; a few sign in 2025."""
        rng = self.rng
        for service, share, share_2025 in ((Service.E_BANKING, 0.55, 0.06),
                                           (Service.PAYROLL, 0.20, 0.04)):
            if rng.random() < share:
                on = client.onboarded_on + timedelta(days=rng.randint(0, 300))
            elif rng.random() < share_2025:
                on = day_between(rng, max(client.onboarded_on, YEAR_START), YEAR_END)
            else:
                continue
            self.schedule(weekday_on_or_after(on), CUSTOMER,
                          partial(self._sign, client, service))

    def _plan_accounts(self, client: Client) -> None:
        """Second accounts: some opened before 2025, some in 2025 (temporary ones close again)."""
        rng = self.rng
        if client.onboarded_on < YEAR_START and rng.random() < 0.35:
            kind = rng.choice([AccountType.GENERAL, AccountType.GENERAL, AccountType.SPECIAL])
            on = day_between(rng, client.onboarded_on, date(2024, 12, 31))
            self.schedule(on, CUSTOMER, partial(self._open_account, client, kind, None))
        first = max(client.onboarded_on + ONE_DAY, YEAR_START)
        if rng.random() < 0.10 and first <= date(2025, 11, 28):
            kind = rng.choices([AccountType.GENERAL, AccountType.SPECIAL, AccountType.TEMPORARY],
                               [0.7, 0.15, 0.15])[0]
            on = day_between(rng, first, date(2025, 11, 28))
            closes = on + timedelta(days=rng.randint(60, 150)) \
                if kind is AccountType.TEMPORARY else None
            self.schedule(on, CUSTOMER, partial(self._open_account, client, kind, closes))

    def _plan_dormancy(self, client: Client) -> None:
        start = max(client.onboarded_on + timedelta(days=90), date(2025, 2, 3))
        if start > date(2025, 10, 31):
            return
        on = day_between(self.rng, start, date(2025, 10, 31))
        self.schedule(on, CUSTOMER, partial(self._status, client, ActivityStatus.DORMANT))
        if self.rng.random() < 0.4:
            back = weekday_on_or_after(on + timedelta(days=self.rng.randint(30, 120)))
            self.schedule(back, CUSTOMER, partial(self._status, client, ActivityStatus.NORMAL))

    def _plan_reassignments(self) -> None:
        """~5 % of customers change custodian: departures (below) plus these slots."""
        customers = len(self.clients)
        slots = [(ReassignmentMode.HANDOVER, max(2, round(customers * 0.035))),
                 (ReassignmentMode.FULL, max(1, round(customers * 0.005)))]
        branches = list(self.branch_clients)
        for mode, count in slots:
            for _ in range(count):
                on = day_between(self.rng, date(2025, 2, 3), date(2025, 12, 19))
                branch = self.rng.choice(branches)
                self.schedule(on, CUSTODY, partial(self._reassign_slot, branch, mode))

    def _plan_closures(self) -> None:
        """A few closures: some close a secondary account, some the last one (the customer)."""
        for client in self.clients:
            if client.onboarded_on >= YEAR_START or client.credit_limit_fen:
                continue
            if self.rng.random() < (0.025 if client.corporate else 0.01):
                on = day_between(self.rng, date(2025, 3, 3), date(2025, 12, 19))
                self.schedule(on, CLOSE, partial(self._closure, client))

    # ---- managers and policy -----------------------------------------------------------

    def _register(self, member: Staff, day: date) -> Iterator[Operation]:
        yield c.RegisterManager(
            staff_no=member.staff_no, name=member.name, branch=member.branch, role=member.role,
            grade=member.grade, band=member.band, hired_on=day, actor=HR_ACTOR)

    def _change_grade(self, member: Staff, up: bool, day: date) -> Iterator[Operation]:
        if member.departed:
            return
        grades = list(BANDS)
        grade, band = member.grade, member.band + (1 if up else -1)
        if band > BANDS[grade]:
            if grade is Grade.SENIOR:
                return
            grade, band = grades[grades.index(grade) + 1], 1
        elif band < 1:
            if grade is Grade.TRAINEE:
                return
            grade = grades[grades.index(grade) - 1]
            band = BANDS[grade]
        member.grade, member.band = grade, band
        yield c.ChangeGrade(staff_no=member.staff_no, grade=grade, band=band, effective_on=day,
                            actor=HR_ACTOR, reason="年度考核晋级" if up else "年度考核降级")

    def _depart(self, member: Staff, day: date) -> Iterator[Operation]:
        member.departed = True
        yield c.RecordDeparture(staff_no=member.staff_no, on=day, actor=HR_ACTOR,
                                reason=self.rng.choice(["个人原因离职", "调往其他机构"]))
        # The branch moves the leaver's customers one by one over the next days.
        for client in list(member.book.values()):
            on = weekday_on_or_after(day + timedelta(days=self.rng.randint(0, 10)))
            self.schedule(on, CUSTODY, partial(self._transfer_from_leaver, client, member))

    def _publish_rulebook(self, day: date) -> Iterator[Operation]:
        yield c.PublishRulebook(document=mid_year_rulebook(), actor=POLICY_ACTOR,
                                reason="2025年中客户经理管理办法修订：下调分级标准，调整拜访频次")

    # ---- customers ---------------------------------------------------------------------

    def _admin(self, client: Client) -> str:
        return f"branch-admin-{client.branch}"

    def _onboard(self, client: Client, day: date) -> Iterator[Operation]:
        marketer = client.marketed_by
        yield c.OnboardCustomer(
            customer_no=client.customer_no, name=client.name, segment=client.segment,
            branch=client.branch, origin=client.origin, onboarded_on=day,
            marketed_by=marketer.staff_no if marketer else None,
            used_branch_resources=client.used_branch_resources, actor=self._admin(client))
        if client.corporate:
            # Some companies keep their basic account elsewhere and settle here on a general one.
            first = AccountType.BASIC if self.rng.random() < 0.92 else AccountType.GENERAL
            yield from self._open_account(client, first, None, day)
        client.deposit_fen = round(client.level_yuan * self.flow.uniform(0.2, 0.8) * 100)
        client.loan_fen = client.personal_loan_fen
        self._touch(client, day)
        if day >= YEAR_START:
            self.schedule(day, CUSTODY, partial(self._assign_new, client))

    def _open_account(self, client: Client, kind: AccountType, closes_on: date | None,
                      day: date) -> Iterator[Operation]:
        if client.closed:
            return
        number = f"6{int(client.branch[1:]):02d}{next(self.account_numbers):09d}"
        account = Account(number, kind)
        client.accounts.append(account)
        currency = "USD" if kind is AccountType.GENERAL and self.rng.random() < 0.06 else "CNY"
        yield c.OpenAccount(customer_no=client.customer_no, account_no=number, type=kind,
                            currency=currency, opened_on=day, actor=self._admin(client))
        if closes_on is not None:
            self.schedule(closes_on, CLOSE, partial(self._close_account, client, account))

    def _close_account(self, client: Client, account: Account, day: date) -> Iterator[Operation]:
        if client.closed or not account.open:
            return
        account.open = False
        last = not any(a.open for a in client.accounts)
        yield c.CloseAccount(customer_no=client.customer_no, account_no=account.account_no,
                             on=day, actor=self._admin(client),
                             reason="企业注销" if last else "账户撤销")
        if last:
            self._closed(client, day)

    def _closure(self, client: Client, day: date) -> Iterator[Operation]:
        """Close a secondary account if there is one, else the customer (its last account)."""
        if client.closed:
            return
        open_accounts = [a for a in client.accounts if a.open]
        if not client.corporate:
            yield c.CloseCustomer(customer_no=client.customer_no, on=day,
                                  actor=self._admin(client), reason="客户申请销户")
            self._closed(client, day)
            return
        secondary = [a for a in open_accounts if a.type is not AccountType.BASIC]
        target = secondary[0] if len(open_accounts) > 1 and secondary else open_accounts[0]
        yield from self._close_account(client, target, day)

    def _closed(self, client: Client, day: date) -> None:
        client.closed = True
        client.deposit_fen = 0  # the last feed row of a closed customer: emptied on the day
        self._touch(client, day)
        if client.custodian is not None:
            client.custodian.book.pop(client.customer_no, None)

    def _grant_credit(self, client: Client, day: date) -> Iterator[Operation]:
        if client.closed:
            return
        holder = client.custodian
        if holder is not None and not self._has_room(holder, client, day, credit_now=True):
            return  # the credit committee waits until the manager's book has room
        yield c.GrantCredit(customer_no=client.customer_no, limit=format_fen(
            client.credit_limit_fen), granted_on=day, actor=CREDIT_ACTOR)
        client.credit_since = day
        client.loan_fen = round(client.credit_limit_fen * self.flow.uniform(0.3, 0.95))
        self._touch(client, day)

    def _close_credit(self, client: Client, day: date) -> Iterator[Operation]:
        if client.closed or client.credit_since is None or client.credit_until is not None:
            return
        yield c.CloseCredit(customer_no=client.customer_no, on=day, actor=CREDIT_ACTOR,
                            reason="授信到期结清")
        client.credit_until = day
        client.loan_fen = 0
        self._touch(client, day)

    def _sign(self, client: Client, service: Service, day: date) -> Iterator[Operation]:
        if not client.closed:
            yield c.SignService(customer_no=client.customer_no, service=service, on=day,
                                actor=self._admin(client))

    def _status(self, client: Client, status: ActivityStatus, day: date) -> Iterator[Operation]:
        if client.closed:
            return
        client.dormant = status is ActivityStatus.DORMANT
        yield c.ChangeStatus(customer_no=client.customer_no, status=status, on=day,
                             actor=FEED_ACTOR, reason="一年内无主动交易，转为睡眠户"
                             if client.dormant else "客户恢复主动交易")

    def _default(self, client: Client, day: date) -> Iterator[Operation]:
        if not client.closed:
            yield c.RecordRepaymentDefault(customer_no=client.customer_no, on=day,
                                           actor=CREDIT_ACTOR, reason="个人贷款逾期")

    def _card_spending(self, day: date) -> Iterator[Operation]:
        month = f"{day.year:04d}-{day.month:02d}"
        for client in self.clients:
            if (client.corporate or client.closed or client.onboarded_on > day
                    or int(client.customer_no[1:]) % 10 >= 7):  # 70 % hold a card
                continue
            amount = round(self.flow.lognormvariate(math.log(6_000), 0.9) * 100)
            yield c.RecordCardSpending(customer_no=client.customer_no, month=month,
                                       amount=format_fen(amount), actor=CARD_ACTOR)

    # ---- balances ----------------------------------------------------------------------

    def _migrate_month_end(self, day: date) -> Iterator[Operation]:
        for client in self.clients:
            if client.onboarded_on <= day and not client.closed:
                self._drift(client, steps=8)
                self._touch(client, day)
        return iter(())

    def _schedule_change(self, client: Client, after: date) -> None:
        # Geometric gap: the same law as "changes on p of days", one draw per change.
        gap = 1 + int(math.log(1.0 - self.flow.random()) / client.log_no_change)
        on = after + timedelta(days=gap)
        if on <= YEAR_END:
            self.changes.setdefault(on, []).append(client)

    def _change_balance(self, client: Client, day: date) -> None:
        if client.closed:
            return
        self._schedule_change(client, day)
        if client.dormant:
            return  # a sleeping account does not move
        self._drift(client, steps=1)
        if client.credit_open(day) and self.flow.random() < 0.08:
            client.loan_fen = min(client.credit_limit_fen,
                                  round(client.loan_fen * self.flow.uniform(0.85, 1.15)))
        elif client.personal_loan_fen and self.flow.random() < 0.05:
            client.personal_loan_fen = round(client.personal_loan_fen * 0.99)
            client.loan_fen = client.personal_loan_fen
        self._touch(client, day)

    def _drift(self, client: Client, steps: int) -> None:
        """Log-normal walk pulled towards the customer's level, with rare large moves."""
        target = client.log_level
        log_value = math.log(max(client.deposit_fen / 100, 100.0))
        for _ in range(steps):
            log_value += 0.08 * (target - log_value) + self.flow.gauss(0.0, 0.12)
        if self.flow.random() < 0.03:
            log_value += math.log(self.flow.uniform(0.4, 2.5))
        client.deposit_fen = round(math.exp(log_value) * 100)

    # ---- custody -----------------------------------------------------------------------

    def _has_room(self, member: Staff, client: Client, day: date, credit_now: bool = False
                  ) -> bool:
        """The rulebook cap of the member's role, counted as the application counts it."""
        cap = self.rulebook.caps.get(member.role)
        if cap is None:
            return True
        limit = cap.max - CAP_HEADROOM[cap.counts]
        if cap.counts == "corporate_credit_customers":
            if not client.corporate or not (credit_now or client.credit_open(day)):
                return True
            held = sum(1 for other in member.book.values()
                       if other.corporate and other.credit_open(day))
        else:
            held = len(member.book)
        return held + 1 <= limit

    def _pick_custodian(self, client: Client, day: date, exclude: Staff | None = None
                        ) -> Staff | None:
        allowed = self.rulebook.eligibility[client.segment]
        candidates = [s for s in self.branch_staff[client.branch]
                      if s.role in allowed and s is not exclude and not s.departed
                      and s.hired_on <= day and self._has_room(s, client, day)]
        if not candidates:
            return None
        return self.rng.choices(candidates, [_appetite(s, client) for s in candidates])[0]

    def _claim_ratio(self, client: Client) -> str:
        floor = self.rulebook.floor_for(client.basis)
        choices = [r for r in CLAIM_CHOICES[client.basis] if _ratio(r) >= floor]
        return self.rng.choice(choices or ["1.00"])

    def _go_live(self, day: date) -> Iterator[Operation]:
        """2025-01-01: the stock's custody is registered in rmbook, then the year runs.

        Relationships a cap counts (corporate credit customers, individuals) are
        migrated first, while books are short: each cap check counts the book.
        """
        stock = [cl for cl in self.clients if cl.onboarded_on < YEAR_START and not cl.closed]
        stock.sort(key=lambda cl: 0 if cl.credit_open(day) else 1 if not cl.corporate else 2)
        for client in stock:
            yield from self._assign(client, day, reason="期初管户关系迁移")

    def _assign_new(self, client: Client, day: date) -> Iterator[Operation]:
        yield from self._assign(client, day, reason=None)

    def _assign(self, client: Client, day: date, reason: str | None) -> Iterator[Operation]:
        marketer = client.marketed_by
        # The marketer usually keeps the customer, unless already on the way out: a leaver's
        # book stays thin, so the full transfers after a departure stay "a few".
        custodian = marketer if (
            marketer is not None and marketer.departs_on is None and marketer.hired_on <= day
            and marketer.role in self.rulebook.eligibility[client.segment]
            and self._has_room(marketer, client, day) and self.rng.random() < 0.8
        ) else self._pick_custodian(client, day)
        if custodian is None:
            return
        yield c.Assign(customer_no=client.customer_no, staff_no=custodian.staff_no,
                       effective_on=day, basis=client.basis.value,
                       claim_ratio=self._claim_ratio(client), actor=self._admin(client),
                       reason=reason)
        custodian.book[client.customer_no] = client
        client.custodian, client.custody_since = custodian, day
        self._start_routines(client, day)

    def _move(self, client: Client, incoming: Staff, day: date) -> None:
        assert client.custodian is not None
        client.custodian.book.pop(client.customer_no)
        incoming.book[client.customer_no] = client
        client.custodian, client.custody_since, client.reassigned = incoming, day, True

    def _reassign_slot(self, branch: str, mode: ReassignmentMode,
                       day: date) -> Iterator[Operation]:
        """A branch moves one customer whose custodian is still serving (a handover needs that)."""
        candidates = [cl for cl in self.branch_clients[branch]
                      if cl.custodian is not None and not cl.closed and not cl.reassigned
                      and not cl.custodian.departed and cl.custody_since is not None
                      and cl.custody_since <= day]
        self.rng.shuffle(candidates)
        for client in candidates[:20]:
            incoming = self._pick_custodian(client, day, exclude=client.custodian)
            if incoming is None:
                continue
            if mode is ReassignmentMode.HANDOVER:
                yield c.Reassign(
                    customer_no=client.customer_no, to_staff_no=incoming.staff_no,
                    effective_on=day, mode=mode, deposit_ratio=self._handover_ratio(
                        DEPOSIT_RATIOS, self.rulebook.handover_deposit_floor),
                    non_deposit_ratio=self._handover_ratio(
                        NON_DEPOSIT_RATIOS, self.rulebook.handover_non_deposit_floor),
                    actor=self._admin(client), reason=self.rng.choice(HANDOVER_REASONS))
            else:
                yield c.Reassign(customer_no=client.customer_no, to_staff_no=incoming.staff_no,
                                 effective_on=day, mode=mode,
                                 claim_ratio=self._claim_ratio(client), actor=self._admin(client),
                                 reason=self.rng.choice(FULL_REASONS))
            self._move(client, incoming, day)
            return

    def _handover_ratio(self, choices: tuple[str, ...], floor: int) -> str:
        return self.rng.choice([r for r in choices if _ratio(r) >= floor] or ["1.00"])

    def _transfer_from_leaver(self, client: Client, leaver: Staff,
                              day: date) -> Iterator[Operation]:
        """A departed custodian's stock cannot stay with them: the whole customer moves."""
        if client.closed or client.custodian is not leaver:
            return
        incoming = self._pick_custodian(client, day, exclude=leaver)
        if incoming is None:  # nobody has room yet: the customer stays flagged a while longer
            self.schedule(weekday_on_or_after(day + timedelta(days=7)), CUSTODY,
                          partial(self._transfer_from_leaver, client, leaver))
            return
        yield c.Reassign(customer_no=client.customer_no, to_staff_no=incoming.staff_no,
                         effective_on=day, mode=ReassignmentMode.FULL,
                         claim_ratio=self._claim_ratio(client), actor=self._admin(client),
                         reason=f"原客户经理{leaver.staff_no}离职，整体移交")
        self._move(client, incoming, day)

    # ---- the routine of a custodian ----------------------------------------------------

    def _start_routines(self, client: Client, day: date) -> None:
        self._schedule_change(client, day)
        self.schedule(self._next_visit(client, day, first=True), BUSINESS,
                      partial(self._visit, client))
        if self.rng.random() < (0.6 if client.corporate else 0.4):
            self.schedule(day + timedelta(days=self.rng.randint(5, 90)), BUSINESS,
                          partial(self._non_deposit, client))

    def _next_visit(self, client: Client, day: date, first: bool = False) -> date:
        """Cadence by the rulebook's classes, with an occasional missed month (a gap)."""
        threshold = (self.rulebook.visits.large_credit_loan_at_least if day < MID_YEAR_EFFECTIVE
                     else self.large_loan_from_mid_year)
        if client.credit_open(day) and client.loan_fen >= threshold:
            low, high = 18, 34
        elif client.credit_open(day):
            low, high = 35, 85
        elif client.corporate:
            low, high = 50, 160
        else:
            low, high = 40, 110
        gap = self.rng.randint(0 if first else low, high)
        if self.rng.random() < 0.12:
            gap += 30
        return weekday_on_or_after(day + timedelta(days=gap))

    def _visit(self, client: Client, day: date) -> Iterator[Operation]:
        if client.closed:
            return
        self.schedule(self._next_visit(client, day), BUSINESS, partial(self._visit, client))
        custodian = client.custodian
        if custodian is None or custodian.departed:
            return  # nobody visits a customer whose manager has left
        yield c.LogVisit(
            customer_no=client.customer_no, staff_no=custodian.staff_no, on=day,
            channel=self.rng.choices(list(Channel), [0.5, 0.3, 0.08, 0.12])[0],
            purpose=Purpose.BUSINESS if self.rng.random() < 0.3 else Purpose.ROUTINE,
            notes=self.rng.choice(VISIT_NOTES), actor=custodian.staff_no)

    def _non_deposit(self, client: Client, day: date) -> Iterator[Operation]:
        if client.closed:
            return
        self.schedule(day + timedelta(days=self.rng.randint(30, 120)), BUSINESS,
                      partial(self._non_deposit, client))
        kind = self.rng.choice(NON_DEPOSIT_KINDS) if client.corporate else "wealth_sales"
        scale = 3_000 if kind != "wealth_sales" else 200_000
        amount = round(self.flow.lognormvariate(math.log(scale), 0.8) * 100)
        yield c.RecordNonDeposit(customer_no=client.customer_no, on=day, kind=kind,
                                 amount=format_fen(max(amount, 1)), actor=FEED_ACTOR)


def generate(scale: str | Scale, seed: int) -> Iterator[Operation]:
    """The synthetic bank's operations, in business-date order, identical for a seed."""
    year = _Year(scale if isinstance(scale, Scale) else scale_of(scale), seed)
    return year.run()


