"""A customer's state at one version, in plain JSON values: a snapshot (ADR 0024).

A snapshot is not a fact. It is what the customer's events up to one version
decide, written down so that a process loading the customer cold folds only the
events after it instead of a year of balances. The events stay the record: a
snapshot can be deleted at any time and the customer is the same, folded from
its events alone.

The state is encoded field by field, not as the aggregate's `__dict__`: a year
of balances is keyed by date, and accounts, visits and enums would come back from
JSON as strings and dicts. `FORMAT` names this encoding. A snapshot of any other
format is stale (`StaleSnapshot`): its reader folds the events from the start
and the next cold load writes a snapshot in the current format.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Snapshot
from eventsourcing.utils import register_topic  # the registry aggregates use for theirs

from domain.customer import Account, CreditLine, Customer, Visit
from domain.dating import parse_date
from domain.values import AccountType, ActivityStatus, Channel, Origin, Purpose, Segment, Service

FORMAT = 1  # bump when `encode`, Customer's state or how its events apply changes (tested)


class StaleSnapshot(Exception):
    """A snapshot written in another format: fold the customer from its events."""


def _day(text: str | None) -> date | None:
    return None if text is None else parse_date(text)


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def encode(customer: Customer) -> dict[str, Any]:
    """Every field of the customer's state, as JSON values (lists, strings, numbers)."""
    return {
        "format": FORMAT,
        "created_on": customer.created_on.isoformat(),
        "modified_on": customer.modified_on.isoformat(),
        "customer_no": customer.customer_no, "name": customer.name,
        "segment": customer.segment.value, "branch": customer.branch,
        "origin": customer.origin.value, "marketed_by": customer.marketed_by,
        "used_branch_resources": customer.used_branch_resources,
        "onboarded_on": customer.onboarded_on.isoformat(),
        "accounts": [[a.account_no, a.type.value, a.currency, a.opened_on.isoformat(),
                      _iso(a.closed_on)] for a in customer.accounts.values()],
        "credit_lines": [[c.limit_fen, c.granted_on.isoformat(), _iso(c.closed_on)]
                         for c in customer.credit_lines],
        # A year of balances as three flat lists: reading nested pairs back cost more than
        # the events they replace.
        "balance_days": [on.isoformat() for on in customer.balances],
        "balance_deposits": [deposit for deposit, _ in customer.balances.values()],
        "balance_loans": [loan for _, loan in customer.balances.values()],
        "status_history": [[on.isoformat(), status.value]
                           for on, status in customer.status_history],
        "services": [[service.value, on.isoformat()] for service, on in customer.services.items()],
        "card_spending": [[month, amount] for month, amount in customer.card_spending.items()],
        "repayment_defaults": [on.isoformat() for on in customer.repayment_defaults],
        "visits": [[v.on.isoformat(), v.staff_no, v.channel.value, v.purpose.value, v.notes]
                   for v in customer.visits],
        "vip_grants": [[on.isoformat(), level, approver]
                       for on, level, approver in customer.vip_grants],
        "closed_on": _iso(customer.closed_on),
    }


def decode(customer_id: UUID, version: int, state: dict[str, Any]) -> Customer:
    """The customer `encode` wrote, at `version`: equal, field by field, to the fold of its
    events up to that version (tested)."""
    if state.get("format") != FORMAT:
        raise StaleSnapshot(f"customer snapshot format {state.get('format')!r}, not {FORMAT}")
    c: Customer = object.__new__(Customer)
    c.__dict__.update(
        _id=customer_id, _version=version,
        _created_on=datetime.fromisoformat(state["created_on"]),
        _modified_on=datetime.fromisoformat(state["modified_on"]),
        _pending_events=[],
        customer_no=state["customer_no"], name=state["name"],
        segment=Segment(state["segment"]), branch=state["branch"],
        origin=Origin(state["origin"]), marketed_by=state["marketed_by"],
        used_branch_resources=state["used_branch_resources"],
        onboarded_on=parse_date(state["onboarded_on"]),
        accounts={no: Account(no, AccountType(kind), currency, parse_date(opened), _day(closed))
                  for no, kind, currency, opened, closed in state["accounts"]},
        credit_lines=[CreditLine(limit, parse_date(granted), _day(closed))
                      for limit, granted, closed in state["credit_lines"]],
        balances=dict(zip(map(parse_date, state["balance_days"]),
                          zip(state["balance_deposits"], state["balance_loans"], strict=True),
                          strict=True)),
        status_history=[(parse_date(on), ActivityStatus(status))
                        for on, status in state["status_history"]],
        services={Service(service): parse_date(on) for service, on in state["services"]},
        card_spending=dict(state["card_spending"]),
        repayment_defaults=[parse_date(on) for on in state["repayment_defaults"]],
        visits=[Visit(parse_date(on), staff, Channel(channel), Purpose(purpose), notes)
                for on, staff, channel, purpose, notes in state["visits"]],
        vip_grants=[(parse_date(on), level, approver) for on, level, approver in state["vip_grants"]],
        closed_on=_day(state["closed_on"]),
    )
    return c


class CustomerSnapshot(Snapshot):
    """The library's snapshot, with the customer's state encoded as above."""

    TOPIC = "rmbook/CustomerSnapshot"

    @classmethod
    def take(cls, aggregate: Any) -> CustomerSnapshot:
        if not isinstance(aggregate, Customer):
            raise TypeError(f"a customer snapshot of {type(aggregate).__name__}")
        if aggregate.pending_events:
            # A snapshot describes stored events only: never changes not yet saved.
            raise ValueError("a customer with unsaved changes is not snapshotted")
        return cls(originator_id=aggregate.id,
                   originator_version=aggregate.version,
                   timestamp=cls.create_timestamp(),
                   topic=Customer.TOPIC, state=encode(aggregate))

    def mutate(self, _: Any) -> Customer:
        return decode(self.originator_id, self.originator_version, self.state)


# Aggregates register their events' topics as they are defined; a snapshot class is not an
# aggregate's event, so its stored topic is registered here, where the class is defined.
register_topic(CustomerSnapshot.TOPIC, CustomerSnapshot)
