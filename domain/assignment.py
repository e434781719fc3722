"""Custody (管户): exactly one custodian per customer, from first assignment to closure.

[S0 §6, §11] every settlement customer is assigned to an individual (分田到户).
[S0 §12] the custodian is credited `claim_ratio` of the customer's business,
the branch keeps the rest; on a handover (他人移交) the stock stays with the
outgoing custodian and only the increment is shared; on a full transfer
(整体移交) the incoming custodian takes the whole customer.

One Assignment aggregate per customer holds the custody chain. Commands take
the customer, the managers and the rulebook in force, check every rule, then
record the change on the assignment and on both managers' books together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain import identity
from domain.aggregate import BookAggregate
from domain.custody_rules import (
    book_must_stay_within_cap,
    claim_ratio_must_meet_floor,
    custodian_must_be_eligible,
    handover_ratios_must_meet_floors,
)
from domain.customer import Customer
from domain.dating import not_after_today, not_before
from domain.errors import (
    CustodianDeparted,
    CustomerClosed,
    DateOutOfRange,
    InvalidInput,
    SameCustodian,
)
from domain.manager import Manager
from domain.rulebook import Rulebook
from domain.rules.base_window import Base, handover_base
from domain.values import Basis, ReassignmentMode

INITIAL = "initial"


@dataclass(frozen=True)
class CustodyTerm:
    """One link of the custody chain, in force from `effective_on`."""

    effective_on: date
    mode: str  # "initial" | "handover" | "full"
    custodian: str
    claim_ratio: int | None = None  # initial / full (ten-thousandths)
    outgoing: str | None = None  # handover
    deposit_ratio: int | None = None  # handover: incoming share of deposit increment
    non_deposit_ratio: int | None = None  # handover: incoming share of non-deposit business
    base_balance_days: int | None = None  # handover: stock as computed when recorded
    base_days: int | None = None

    @property
    def base_daily_average(self) -> Fraction | None:
        if self.base_balance_days is None or not self.base_days:
            return None
        return Fraction(self.base_balance_days, self.base_days)


class Assignment(BookAggregate):
    TOPIC = "rmbook/Assignment"

    class Event(Aggregate.Event):
        TOPIC = "rmbook/Assignment/Event"
        on: date
        actor: str
        reason: str | None

    class Assigned(Event, Aggregate.Created):
        TOPIC = "rmbook/Assignment/Assigned"
        customer_no: str
        branch: str
        staff_no: str
        basis: Basis
        claim_ratio: int
        rulebook_version: str

    class Reassigned(Event):
        """改派. `mode` handover: ratios of the increment and the base; full: claim ratio."""

        TOPIC = "rmbook/Assignment/Reassigned"
        mode: ReassignmentMode
        from_staff_no: str
        to_staff_no: str
        claim_ratio: int | None
        deposit_ratio: int | None
        non_deposit_ratio: int | None
        base_start: date | None
        base_end: date | None
        base_balance_days: int | None
        base_days: int | None
        rulebook_version: str

        def apply(self, a: Assignment) -> None:
            a.terms.append(CustodyTerm(
                effective_on=self.on, mode=ReassignmentMode(self.mode).value,
                custodian=self.to_staff_no, claim_ratio=self.claim_ratio,
                outgoing=self.from_staff_no if self.mode == ReassignmentMode.HANDOVER else None,
                deposit_ratio=self.deposit_ratio, non_deposit_ratio=self.non_deposit_ratio,
                base_balance_days=self.base_balance_days, base_days=self.base_days,
            ))

    class Ended(Event):
        """Custody ends with the customer's closure."""

        TOPIC = "rmbook/Assignment/Ended"

        def apply(self, a: Assignment) -> None:
            a.ended_on = self.on

    @staticmethod
    def create_id(customer_no: str) -> UUID:
        return identity.assignment_id(customer_no)

    def __init__(self, customer_no: str, branch: str, staff_no: str, basis: Basis,
                 claim_ratio: int, rulebook_version: str, on: date, actor: str,
                 reason: str | None) -> None:
        self.customer_no = customer_no
        self.branch = branch
        self.basis = Basis(basis)
        self.terms: list[CustodyTerm] = [
            CustodyTerm(effective_on=on, mode=INITIAL, custodian=staff_no, claim_ratio=claim_ratio)
        ]
        self.ended_on: date | None = None

    # ---- commands ----------------------------------------------------------

    @classmethod
    def assign(cls, *, customer: Customer, manager: Manager, basis: Basis, claim_ratio: int,
               effective_on: date, rulebook: Rulebook, counted_now: int, counts: bool,
               today: date, actor: str, reason: str | None = None) -> Assignment:
        """First assignment [S0 §12]: the basis must be the customer's, the ratio meet its floor."""
        _check_customer_open(customer, effective_on, today)
        if basis is not customer.basis:
            raise InvalidInput(
                f"basis must be {customer.basis.value} for a {customer.origin.value} customer",
                field="basis", rule="S0 §11-12")
        _check_incoming(manager, customer, rulebook, effective_on, counted_now, counts,
                        "staff_no")
        claim_ratio_must_meet_floor(rulebook, basis, claim_ratio)
        assignment = cls(customer_no=customer.customer_no, branch=customer.branch,
                         staff_no=manager.staff_no, basis=basis, claim_ratio=claim_ratio,
                         rulebook_version=rulebook.version, on=effective_on, actor=actor,
                         reason=reason)
        manager.take_custody(customer_no=customer.customer_no, segment=customer.segment,
                             on=effective_on, actor=actor, reason=reason)
        return assignment

    def hand_over(self, *, customer: Customer, outgoing: Manager, incoming: Manager,
                  deposit_ratio: int, non_deposit_ratio: int, effective_on: date,
                  rulebook: Rulebook, counted_now: int, counts: bool, today: date,
                  actor: str, reason: str | None = None) -> Base:
        """他人移交 [S0 §12(3)]: stock stays with the outgoing custodian; the increment is shared."""
        self._check_reassignment(customer, incoming, effective_on, today)
        if outgoing.departed_on is not None:
            raise CustodianDeparted(
                f"{outgoing.staff_no} departed on {outgoing.departed_on}: their stock cannot "
                "stay with them; use a full transfer", field="mode", rule="DOMAIN §4.2")
        _check_incoming(incoming, customer, rulebook, effective_on, counted_now, counts,
                        "to_staff_no")
        handover_ratios_must_meet_floors(rulebook, deposit_ratio, non_deposit_ratio)
        base = handover_base(customer.deposits(), effective_on, rulebook.base_window)
        self.trigger_event(
            self.Reassigned, mode=ReassignmentMode.HANDOVER, from_staff_no=outgoing.staff_no,
            to_staff_no=incoming.staff_no, claim_ratio=None, deposit_ratio=deposit_ratio,
            non_deposit_ratio=non_deposit_ratio, base_start=base.start, base_end=base.end,
            base_balance_days=base.balance_days, base_days=base.days,
            rulebook_version=rulebook.version, on=effective_on, actor=actor, reason=reason)
        _move_book(customer, outgoing, incoming, effective_on, actor, reason)
        return base

    def transfer_in_full(self, *, customer: Customer, outgoing: Manager, incoming: Manager,
                         claim_ratio: int, effective_on: date, rulebook: Rulebook,
                         counted_now: int, counts: bool, today: date, actor: str,
                         reason: str | None = None) -> None:
        """整体移交: the incoming custodian takes the whole customer at its origin's floor."""
        self._check_reassignment(customer, incoming, effective_on, today)
        _check_incoming(incoming, customer, rulebook, effective_on, counted_now, counts,
                        "to_staff_no")
        claim_ratio_must_meet_floor(rulebook, self.basis, claim_ratio)
        self.trigger_event(
            self.Reassigned, mode=ReassignmentMode.FULL, from_staff_no=outgoing.staff_no,
            to_staff_no=incoming.staff_no, claim_ratio=claim_ratio, deposit_ratio=None,
            non_deposit_ratio=None, base_start=None, base_end=None, base_balance_days=None,
            base_days=None, rulebook_version=rulebook.version, on=effective_on, actor=actor,
            reason=reason)
        _move_book(customer, outgoing, incoming, effective_on, actor, reason)

    def end(self, *, custodian: Manager, on: date, actor: str, reason: str | None) -> None:
        """The customer closed: custody ends and the customer leaves the book."""
        self.trigger_event(self.Ended, on=on, actor=actor, reason=reason)
        custodian.release_custody(customer_no=self.customer_no, on=on, actor=actor,
                                  reason=reason)

    def _check_reassignment(self, customer: Customer, incoming: Manager, effective_on: date,
                            today: date) -> None:
        _check_customer_open(customer, effective_on, today)
        if self.ended_on is not None:
            raise CustomerClosed(f"custody of {self.customer_no} ended on {self.ended_on}")
        current = self.terms[-1]
        not_before(effective_on, current.effective_on, "the current custody began",
                   "effective_on")
        if incoming.staff_no == current.custodian:
            raise SameCustodian(f"{incoming.staff_no} already holds {self.customer_no}",
                                field="to_staff_no")

    # ---- queries -----------------------------------------------------------

    @property
    def custodian(self) -> str:
        return self.terms[-1].custodian

    def term_on(self, on: date) -> CustodyTerm | None:
        if self.ended_on is not None and on >= self.ended_on:
            return None
        term = None
        for t in self.terms:
            if t.effective_on <= on:
                term = t
        return term

    def custodian_on(self, on: date) -> str | None:
        term = self.term_on(on)
        return term.custodian if term else None

    def as_dict(self, on: date) -> dict[str, Any]:
        term = self.term_on(on)
        return {
            "customer_no": self.customer_no,
            "custodian": term.custodian if term else None,
            "since": term.effective_on if term else None,
            "mode": term.mode if term else None,
            "chain": [t for t in self.terms if t.effective_on <= on],
            "ended_on": self.ended_on if self.ended_on and self.ended_on <= on else None,
        }


def _check_customer_open(customer: Customer, effective_on: date, today: date) -> None:
    not_after_today(effective_on, today, "effective_on")
    not_before(effective_on, customer.onboarded_on, "the customer was onboarded",
               "effective_on")
    if customer.closed_on is not None:
        raise CustomerClosed(f"customer {customer.customer_no} was closed on "
                             f"{customer.closed_on}", field="customer_no")


def _check_incoming(manager: Manager, customer: Customer, rulebook: Rulebook, on: date,
                    counted_now: int, counts: bool, field: str) -> None:
    if manager.departed_on is not None:
        raise CustodianDeparted(f"{manager.staff_no} departed on {manager.departed_on} and "
                                "receives no new customers", field=field, rule="DOMAIN §3")
    if on < manager.hired_on:
        raise DateOutOfRange(f"{manager.staff_no} was hired on {manager.hired_on}",
                             field="effective_on")
    if manager.branch != customer.branch:
        raise InvalidInput(f"{manager.staff_no} serves branch {manager.branch}, the customer "
                           f"belongs to {customer.branch}", field=field)
    custodian_must_be_eligible(rulebook, customer.segment, manager.role, field)
    book_must_stay_within_cap(rulebook, manager.role, counted_now, 1 if counts else 0, field)


def _move_book(customer: Customer, outgoing: Manager, incoming: Manager, on: date, actor: str,
               reason: str | None) -> None:
    outgoing.release_custody(customer_no=customer.customer_no, on=on, actor=actor, reason=reason)
    incoming.take_custody(customer_no=customer.customer_no, segment=customer.segment, on=on,
                          actor=actor, reason=reason)
