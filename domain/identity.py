"""Deterministic aggregate ids: the business key *is* the identity.

Two processes creating the same customer derive the same id, so the store's
(originator_id, version=1) uniqueness refuses the second one — uniqueness of
customer_no, staff_no and account_no without a lock or a race (ADR 0004).
"""

from __future__ import annotations

from functools import lru_cache
from uuid import UUID, uuid5

NAMESPACE = UUID("6f1c2a4e-2b1d-5a43-9d7e-2f0c6b1a9e55")


@lru_cache(maxsize=65536)
def customer_id(customer_no: str) -> UUID:
    return uuid5(NAMESPACE, f"customer:{customer_no}")


@lru_cache(maxsize=65536)
def manager_id(staff_no: str) -> UUID:
    return uuid5(NAMESPACE, f"manager:{staff_no}")


@lru_cache(maxsize=65536)
def assignment_id(customer_no: str) -> UUID:
    return uuid5(NAMESPACE, f"assignment:{customer_no}")


@lru_cache(maxsize=65536)
def account_number_id(account_no: str) -> UUID:
    return uuid5(NAMESPACE, f"account:{account_no}")


RULEBOOKS_ID = uuid5(NAMESPACE, "rulebooks")
