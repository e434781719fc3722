"""The customer (客户) and every fact the bank records about it [DOMAIN §2].

State is kept as dated histories, so the aggregate answers "as of" questions
(`credit_customer_on`, `status_on`, `open_accounts_on`) for any business date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain import identity
from domain.aggregate import BookAggregate
from domain.dating import not_after_today, not_before
from domain.errors import (
    AccountClosed,
    AccountsOpen,
    AlreadyExists,
    CustomerClosed,
    InvalidInput,
    NotFound,
    SecondBasicAccount,
)
from domain.values import (
    NOTES_MAX,
    AccountType,
    ActivityStatus,
    Basis,
    Channel,
    Origin,
    Purpose,
    Segment,
    Service,
    basis_for,
)


@dataclass
class Account:
    account_no: str
    type: AccountType
    currency: str
    opened_on: date
    closed_on: date | None = None

    def open_on(self, on: date) -> bool:
        return self.opened_on <= on and (self.closed_on is None or on < self.closed_on)


@dataclass
class CreditLine:
    limit_fen: int
    granted_on: date
    closed_on: date | None = None

    def open_on(self, on: date) -> bool:
        return self.granted_on <= on and (self.closed_on is None or on < self.closed_on)


@dataclass(frozen=True)
class Visit:
    on: date
    staff_no: str
    channel: Channel
    purpose: Purpose
    notes: str


VIP_LEVELS = ("branch", "head_office")  # lowest first [S2 §6-8]


class BalanceOutcome:
    RECORDED = "recorded"
    UNCHANGED = "unchanged"
    CORRECTED = "corrected"


class Customer(BookAggregate):
    TOPIC = "rmbook/Customer"
    _flat_containers = frozenset({"balances", "status_history", "services", "card_spending",
                                  "repayment_defaults", "visits", "vip_grants"})

    class Event(Aggregate.Event):
        TOPIC = "rmbook/Customer/Event"
        on: date
        actor: str
        reason: str | None

    class Onboarded(Event, Aggregate.Created):
        TOPIC = "rmbook/Customer/Onboarded"
        customer_no: str
        name: str
        segment: Segment
        branch: str
        origin: Origin
        marketed_by: str | None
        used_branch_resources: bool

    class AccountOpened(Event):
        TOPIC = "rmbook/Customer/AccountOpened"
        account_no: str
        type: AccountType
        currency: str

        def apply(self, c: Customer) -> None:
            c.accounts[self.account_no] = Account(
                self.account_no, AccountType(self.type), self.currency, self.on
            )

    class AccountClosed(Event):
        TOPIC = "rmbook/Customer/AccountClosed"
        account_no: str

        def apply(self, c: Customer) -> None:
            c.accounts[self.account_no].closed_on = self.on

    class CreditGranted(Event):
        TOPIC = "rmbook/Customer/CreditGranted"
        limit_fen: int

        def apply(self, c: Customer) -> None:
            c.credit_lines.append(CreditLine(self.limit_fen, self.on))

    class CreditClosed(Event):
        TOPIC = "rmbook/Customer/CreditClosed"

        def apply(self, c: Customer) -> None:
            c.credit_lines[-1].closed_on = self.on

    class BalanceRecorded(Event):
        """End-of-day balances from the core-banking feed."""

        TOPIC = "rmbook/Customer/BalanceRecorded"
        deposit_fen: int
        loan_fen: int

        def apply(self, c: Customer) -> None:
            c.balances[self.on] = (self.deposit_fen, self.loan_fen)

    class BalanceCorrected(Event):
        """Different values for a date already recorded: kept as its own fact."""

        TOPIC = "rmbook/Customer/BalanceCorrected"
        deposit_fen: int
        loan_fen: int
        previous_deposit_fen: int
        previous_loan_fen: int

        def apply(self, c: Customer) -> None:
            c.balances[self.on] = (self.deposit_fen, self.loan_fen)

    class NonDepositBusinessRecorded(Event):
        TOPIC = "rmbook/Customer/NonDepositBusinessRecorded"
        kind: str
        amount_fen: int

    class StatusChanged(Event):
        TOPIC = "rmbook/Customer/StatusChanged"
        status: ActivityStatus
        previous: ActivityStatus

        def apply(self, c: Customer) -> None:
            c.status_history.append((self.on, ActivityStatus(self.status)))
            c.status_history.sort(key=lambda item: item[0])

    class ServiceSigned(Event):
        TOPIC = "rmbook/Customer/ServiceSigned"
        service: Service

        def apply(self, c: Customer) -> None:
            c.services.setdefault(Service(self.service), self.on)

    class CardSpendingRecorded(Event):
        """Spending on the customer's cards in one calendar month (`on` = its first day)."""

        TOPIC = "rmbook/Customer/CardSpendingRecorded"
        month: str
        amount_fen: int

        def apply(self, c: Customer) -> None:
            c.card_spending[self.month] = self.amount_fen

    class RepaymentDefaultRecorded(Event):
        TOPIC = "rmbook/Customer/RepaymentDefaultRecorded"

        def apply(self, c: Customer) -> None:
            c.repayment_defaults.append(self.on)

    class VisitLogged(Event):
        TOPIC = "rmbook/Customer/VisitLogged"
        staff_no: str
        channel: Channel
        purpose: Purpose
        notes: str

        def apply(self, c: Customer) -> None:
            c.visits.append(Visit(self.on, self.staff_no, Channel(self.channel),
                                  Purpose(self.purpose), self.notes))

    class VipGranted(Event):
        """[S2 §7] a manual grant lifts an individual to a VIP level, with its approver."""

        TOPIC = "rmbook/Customer/VipGranted"
        level: str
        approver: str

        def apply(self, c: Customer) -> None:
            c.vip_grants.append((self.on, self.level, self.approver))

    class Closed(Event):
        """销户: the customer leaves every book from this date."""

        TOPIC = "rmbook/Customer/Closed"

        def apply(self, c: Customer) -> None:
            c.closed_on = self.on

    @staticmethod
    def create_id(customer_no: str) -> UUID:
        return identity.customer_id(customer_no)

    def __init__(self, customer_no: str, name: str, segment: Segment, branch: str,
                 origin: Origin, marketed_by: str | None, used_branch_resources: bool,
                 on: date, actor: str, reason: str | None) -> None:
        self.customer_no = customer_no
        self.name = name
        self.segment = Segment(segment)
        self.branch = branch
        self.origin = Origin(origin)
        self.marketed_by = marketed_by
        self.used_branch_resources = used_branch_resources
        self.onboarded_on = on
        self.accounts: dict[str, Account] = {}
        self.credit_lines: list[CreditLine] = []
        self.balances: dict[date, tuple[int, int]] = {}
        self.status_history: list[tuple[date, ActivityStatus]] = [(on, ActivityStatus.NORMAL)]
        self.services: dict[Service, date] = {}
        self.card_spending: dict[str, int] = {}
        self.repayment_defaults: list[date] = []
        self.visits: list[Visit] = []
        self.vip_grants: list[tuple[date, str, str]] = []
        self.closed_on: date | None = None

    # ---- commands --------------------------------------------------------

    @classmethod
    def onboard(cls, *, customer_no: str, name: str, segment: Segment, branch: str,
                origin: Origin, marketed_by: str | None, used_branch_resources: bool,
                on: date, today: date, actor: str, reason: str | None) -> Customer:
        not_after_today(on, today, "onboarded_on")
        if not name.strip() or len(name) > 200:
            raise InvalidInput("name must be 1-200 characters", field="name")
        if origin is Origin.MARKETED and not marketed_by:
            raise InvalidInput("a marketed customer names who marketed it", field="marketed_by",
                               rule="S0 §11")
        if origin is not Origin.MARKETED and (marketed_by or used_branch_resources):
            raise InvalidInput("only a marketed customer has marketed_by/used_branch_resources",
                               field="marketed_by")
        return cls(customer_no=customer_no, name=name, segment=segment, branch=branch,
                   origin=origin, marketed_by=marketed_by,
                   used_branch_resources=used_branch_resources, on=on, actor=actor,
                   reason=reason)

    def _check_dated(self, on: date, today: date, field: str = "on") -> None:
        not_after_today(on, today, field)
        not_before(on, self.onboarded_on, "the customer was onboarded", field)
        if self.closed_on is not None and on > self.closed_on:
            raise CustomerClosed(f"customer {self.customer_no} was closed on {self.closed_on}",
                                 field=field)

    def open_account(self, *, account_no: str, type: AccountType, currency: str, on: date,
                     today: date, actor: str, reason: str | None = None) -> None:
        self._check_dated(on, today, "opened_on")
        if self.closed_on is not None:
            raise CustomerClosed(f"customer {self.customer_no} was closed on {self.closed_on}",
                                 field="opened_on")
        if account_no in self.accounts:
            raise AlreadyExists(f"account {account_no} already exists", field="account_no")
        if not (len(currency) == 3 and currency.isalpha() and currency.isupper()):
            raise InvalidInput("currency must be an ISO 4217 code like CNY", field="currency")
        if type is AccountType.BASIC and any(
            a.type is AccountType.BASIC and a.closed_on is None for a in self.accounts.values()
        ):
            raise SecondBasicAccount("a customer holds at most one open basic account",
                                     field="type", rule="PBoC account rules")
        self.trigger_event(self.AccountOpened, account_no=account_no, type=type,
                           currency=currency, on=on, actor=actor, reason=reason)

    def close_account(self, *, account_no: str, on: date, today: date, actor: str,
                      reason: str | None = None) -> bool:
        """Close an account; returns True when it was the last open one (the customer closes)."""
        self._check_dated(on, today)
        account = self.accounts.get(account_no)
        if account is None:
            raise NotFound(f"account {account_no} not found", field="account_no")
        if account.closed_on is not None:
            raise AccountClosed(f"account {account_no} was closed on {account.closed_on}",
                                field="account_no")
        not_before(on, account.opened_on, "the account was opened")
        closing_on = self.closing_date(account_no, on)
        self.trigger_event(self.AccountClosed, account_no=account_no, on=on, actor=actor,
                           reason=reason)
        if closing_on is not None:
            self.trigger_event(self.Closed, on=closing_on, actor=actor,
                               reason=reason or "all accounts closed")
            return True
        return False

    def closing_date(self, account_no: str, on: date) -> date | None:
        """If closing `account_no` on `on` closes the customer, the date it closes: the day
        its last open account closed, whatever order the closures are recorded in."""
        others = [a for a in self.accounts.values() if a.account_no != account_no]
        if self.closed_on is not None or any(a.closed_on is None for a in others):
            return None
        return max([on, *(a.closed_on for a in others if a.closed_on is not None)])

    def close(self, *, on: date, today: date, actor: str, reason: str | None = None) -> None:
        self._check_dated(on, today)
        if self.closed_on is not None:
            raise CustomerClosed(f"customer {self.customer_no} is already closed")
        open_accounts = [a.account_no for a in self.accounts.values() if a.closed_on is None]
        if open_accounts:
            raise AccountsOpen(f"close accounts {', '.join(open_accounts)} first", field="on")
        self.trigger_event(self.Closed, on=on, actor=actor, reason=reason)

    def grant_credit(self, *, limit_fen: int, on: date, today: date, actor: str,
                     reason: str | None = None) -> None:
        self._check_dated(on, today, "granted_on")
        if limit_fen <= 0:
            raise InvalidInput("a credit limit is positive", field="limit")
        if self.credit_lines and self.credit_lines[-1].closed_on is None:
            raise AlreadyExists("a credit line is already open", field="granted_on")
        if self.credit_lines and on < self.credit_lines[-1].closed_on:  # type: ignore[operator]
            raise InvalidInput("a new credit line starts after the last one closed",
                               field="granted_on")
        self.trigger_event(self.CreditGranted, limit_fen=limit_fen, on=on, actor=actor,
                           reason=reason)

    def close_credit(self, *, on: date, today: date, actor: str,
                     reason: str | None = None) -> None:
        self._check_dated(on, today)
        if not self.credit_lines or self.credit_lines[-1].closed_on is not None:
            raise NotFound("no open credit line to close", field="on")
        not_before(on, self.credit_lines[-1].granted_on, "the credit was granted")
        self.trigger_event(self.CreditClosed, on=on, actor=actor, reason=reason)

    def record_balance(self, *, on: date, deposit_fen: int, loan_fen: int, today: date,
                       actor: str, reason: str | None = None) -> str:
        """Idempotent: same values again → unchanged; different values → a correction."""
        if deposit_fen < 0:
            raise InvalidInput("a deposit balance is never negative", field="deposit")
        if loan_fen < 0:
            raise InvalidInput("a loan balance is never negative", field="loan")
        self._check_dated(on, today)
        previous = self.balances.get(on)
        if previous is None:
            self.trigger_event(self.BalanceRecorded, deposit_fen=deposit_fen, loan_fen=loan_fen,
                               on=on, actor=actor, reason=reason)
            return BalanceOutcome.RECORDED
        if previous == (deposit_fen, loan_fen):
            return BalanceOutcome.UNCHANGED
        self.trigger_event(self.BalanceCorrected, deposit_fen=deposit_fen, loan_fen=loan_fen,
                           previous_deposit_fen=previous[0], previous_loan_fen=previous[1],
                           on=on, actor=actor, reason=reason or "corrected by the balance feed")
        return BalanceOutcome.CORRECTED

    def record_non_deposit(self, *, on: date, kind: str, amount_fen: int, today: date,
                           actor: str, reason: str | None = None) -> None:
        self._check_dated(on, today)
        if not kind or len(kind) > 64:
            raise InvalidInput("kind names the business (1-64 chars)", field="kind")
        if amount_fen <= 0:
            raise InvalidInput("a non-deposit business amount is positive", field="amount")
        self.trigger_event(self.NonDepositBusinessRecorded, kind=kind, amount_fen=amount_fen,
                           on=on, actor=actor, reason=reason)

    def change_status(self, *, status: ActivityStatus, on: date, today: date, actor: str,
                      reason: str | None = None) -> bool:
        """Returns False (and records nothing) when the status already holds on that date."""
        self._check_dated(on, today)
        current = self.status_on(on)
        if current is status:
            return False
        self.trigger_event(self.StatusChanged, status=status, previous=current, on=on,
                           actor=actor, reason=reason)
        return True

    def sign_service(self, *, service: Service, on: date, today: date, actor: str,
                     reason: str | None = None) -> bool:
        self._check_dated(on, today)
        if service in self.services:
            return False
        self.trigger_event(self.ServiceSigned, service=service, on=on, actor=actor, reason=reason)
        return True

    def record_card_spending(self, *, month: date, amount_fen: int, today: date, actor: str,
                             reason: str | None = None) -> bool:
        key = f"{month.year:04d}-{month.month:02d}"
        if self.segment is not Segment.INDIVIDUAL:
            raise InvalidInput("card spending is recorded for individual customers",
                               field="month", rule="S2 §6")
        if amount_fen < 0:
            raise InvalidInput("card spending is never negative", field="amount")
        first = month.replace(day=1)
        not_after_today(first, today, "month")
        if self.closed_on is not None and first > self.closed_on:
            raise CustomerClosed(f"customer {self.customer_no} was closed on {self.closed_on}",
                                 field="month")
        if (first.year, first.month) < (self.onboarded_on.year, self.onboarded_on.month):
            raise InvalidInput(f"month {key} is before onboarding", field="month")
        if self.card_spending.get(key) == amount_fen:
            return False
        self.trigger_event(self.CardSpendingRecorded, month=key, amount_fen=amount_fen,
                           on=first, actor=actor, reason=reason)
        return True

    def record_repayment_default(self, *, on: date, today: date, actor: str,
                                 reason: str | None = None) -> None:
        self._check_dated(on, today)
        self.trigger_event(self.RepaymentDefaultRecorded, on=on, actor=actor, reason=reason)

    def log_visit(self, *, staff_no: str, on: date, channel: Channel, purpose: Purpose,
                  notes: str, today: date, actor: str, reason: str | None = None) -> Visit:
        self._check_dated(on, today)
        if len(notes) > NOTES_MAX:
            raise InvalidInput(f"notes are at most {NOTES_MAX} characters", field="notes")
        self.trigger_event(self.VisitLogged, staff_no=staff_no, channel=channel,
                           purpose=purpose, notes=notes, on=on, actor=actor, reason=reason)
        return self.visits[-1]

    def grant_vip(self, *, level: str, approver: str, on: date, today: date, actor: str,
                  reason: str | None) -> None:
        """[S2 §7] a manual VIP grant needs an approver and a reason; it lifts, never lowers."""
        self._check_dated(on, today)
        if self.segment is not Segment.INDIVIDUAL:
            raise InvalidInput("VIP levels are for individual customers", field="customer_no",
                               rule="S2 §6")
        if level not in VIP_LEVELS:
            raise InvalidInput(f"level must be one of {', '.join(VIP_LEVELS)}", field="level")
        if not approver.strip() or len(approver) > 64:
            raise InvalidInput("a manual grant names its approver", field="approver",
                               rule="S2 §7")
        if not reason or not reason.strip():
            raise InvalidInput("a manual grant gives its reason", field="reason", rule="S2 §7")
        self.trigger_event(self.VipGranted, level=level, approver=approver, on=on, actor=actor,
                           reason=reason)

    # ---- queries (as of a business date) -----------------------------------

    @property
    def basis(self) -> Basis:
        return basis_for(self.origin, self.used_branch_resources)

    def credit_customer_on(self, on: date) -> bool:
        """[S0 §2] a credit customer on D has a credit line open on D."""
        return any(line.open_on(on) for line in self.credit_lines)

    def status_on(self, on: date) -> ActivityStatus:
        status = ActivityStatus.NORMAL
        for since, value in self.status_history:
            if since <= on:
                status = value
        return status

    def open_accounts_on(self, on: date) -> list[Account]:
        return [a for a in self.accounts.values() if a.open_on(on)]

    def closed_by(self, on: date) -> bool:
        return self.closed_on is not None and self.closed_on <= on

    def deposits(self) -> dict[date, int]:
        return {on: deposit for on, (deposit, _) in self.balances.items()}

    def balance_on(self, on: date) -> tuple[int, int]:
        known = [d for d in self.balances if d <= on]
        return self.balances[max(known)] if known else (0, 0)

    def as_dict(self, on: date) -> dict[str, Any]:
        deposit, loan = self.balance_on(on)
        return {
            "customer_no": self.customer_no, "name": self.name, "segment": self.segment.value,
            "branch": self.branch, "origin": self.origin.value, "marketed_by": self.marketed_by,
            "used_branch_resources": self.used_branch_resources,
            "onboarded_on": self.onboarded_on, "closed_on": self.closed_on,
            "status": self.status_on(on).value, "credit_customer": self.credit_customer_on(on),
            "accounts": [
                {"account_no": a.account_no, "type": a.type.value, "currency": a.currency,
                 "opened_on": a.opened_on, "closed_on": a.closed_on}
                for a in self.accounts.values() if a.opened_on <= on
            ],
            "deposit_fen": deposit, "loan_fen": loan,
            "services": {s.value: d for s, d in self.services.items() if d <= on},
        }
