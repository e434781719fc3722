"""An account number belongs to one customer, bank-wide.

A tiny index aggregate whose id is derived from the account number: saved in
the same transaction as the account's opening, it makes a second opening of
the same number anywhere collide in the store instead of slipping through.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain import identity
from domain.aggregate import BookAggregate


class AccountNumber(BookAggregate, created_event_name="Claimed"):
    TOPIC = "rmbook/AccountNumber"

    class Event(Aggregate.Event):
        TOPIC = "rmbook/AccountNumber/Event"

    class Claimed(Aggregate.Created):
        TOPIC = "rmbook/AccountNumber/Claimed"
        account_no: str
        customer_no: str
        on: date
        actor: str
        reason: str | None

    @staticmethod
    def create_id(account_no: str) -> UUID:
        return identity.account_number_id(account_no)

    def __init__(self, account_no: str, customer_no: str, on: date, actor: str,
                 reason: str | None) -> None:
        self.account_no = account_no
        self.customer_no = customer_no
