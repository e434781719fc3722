"""A customer snapshot is the fold of its events, and the fold goes on from it (ADR 0024).

For any history of commands a customer accepts, cut anywhere: the snapshot taken
at the cut decodes to the customer folded up to there, field by field, and the
snapshot with the events after the cut folds to the customer folded from the start.
"""

from __future__ import annotations

import hashlib
import inspect
from contextlib import suppress
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from application.transcoding import EventMapper, OrjsonTranscoder
from domain.customer import Customer
from domain.customer_snapshot import FORMAT, CustomerSnapshot, StaleSnapshot, encode
from domain.errors import Refusal
from domain.values import AccountType, ActivityStatus, Channel, Origin, Purpose, Segment, Service

MAPPER = EventMapper(transcoder=OrjsonTranscoder())
START = date(2024, 1, 1)
TODAY = date(2025, 1, 1)
days = st.integers(0, 365).map(lambda n: START + timedelta(days=n))
fen = st.integers(0, 10**12)

operations = st.one_of(
    st.tuples(st.just("balance"), days, fen, fen),
    st.tuples(st.just("open_account"), st.sampled_from("ABCD"), st.sampled_from(list(AccountType)),
              days),
    st.tuples(st.just("close_account"), st.sampled_from("ABCD"), days),
    st.tuples(st.just("grant_credit"), st.integers(1, 10**9), days),
    st.tuples(st.just("close_credit"), days),
    st.tuples(st.just("status"), st.sampled_from(list(ActivityStatus)), days),
    st.tuples(st.just("service"), st.sampled_from(list(Service)), days),
    st.tuples(st.just("card"), days, fen),
    st.tuples(st.just("default"), days),
    st.tuples(st.just("visit"), days, st.sampled_from(list(Channel)),
              st.sampled_from(list(Purpose)), st.text(max_size=20)),
    st.tuples(st.just("vip"), st.sampled_from(["branch", "head_office"]), days),
    st.tuples(st.just("close"), days),
)


def apply(customer: Customer, op: tuple[Any, ...]) -> None:
    kind, *args = op
    common = {"today": TODAY, "actor": "t"}
    if kind == "balance":
        customer.record_balance(on=args[0], deposit_fen=args[1], loan_fen=args[2], **common)
    elif kind == "open_account":
        customer.open_account(account_no=args[0], type=args[1], currency="CNY", on=args[2],
                              **common)
    elif kind == "close_account":
        customer.close_account(account_no=args[0], on=args[1], **common)
    elif kind == "grant_credit":
        customer.grant_credit(limit_fen=args[0], on=args[1], **common)
    elif kind == "close_credit":
        customer.close_credit(on=args[0], **common)
    elif kind == "status":
        customer.change_status(status=args[0], on=args[1], **common)
    elif kind == "service":
        customer.sign_service(service=args[0], on=args[1], **common)
    elif kind == "card":
        customer.record_card_spending(month=args[0], amount_fen=args[1], **common)
    elif kind == "default":
        customer.record_repayment_default(on=args[0], **common)
    elif kind == "visit":
        customer.log_visit(staff_no="S1", on=args[0], channel=args[1], purpose=args[2],
                           notes=args[3], **common)
    elif kind == "vip":
        customer.grant_vip(level=args[0], approver="boss", on=args[1], reason="test", **common)
    else:
        customer.close(on=args[0], **common)


def history(segment: Segment, ops: list[tuple[Any, ...]]) -> list[Any]:
    """The events of a customer that took every operation it accepted."""
    customer = Customer.onboard(customer_no="C1", name="Test Co", segment=segment, branch="B1",
                                origin=Origin.NATURAL, marketed_by=None,
                                used_branch_resources=False, on=START, today=TODAY, actor="t",
                                reason=None)
    for op in ops:
        with suppress(Refusal):  # refused: no event, as in the service
            apply(customer, op)
    return customer.collect_events()


def fold(events: list[Any], customer: Any = None) -> Any:
    for event in events:
        customer = event.mutate(customer)
    return customer


@settings(max_examples=150, deadline=None)
@given(segment=st.sampled_from(list(Segment)), ops=st.lists(operations, max_size=40),
       cut=st.integers(1, 41))
def test_a_snapshot_is_the_fold_and_the_fold_goes_on_from_it(
        segment: Segment, ops: list[tuple[Any, ...]], cut: int) -> None:
    events = history(segment, ops)
    cut = min(cut, len(events))
    upto = fold(events[:cut])
    snapshot = CustomerSnapshot.take(upto)
    assert snapshot.originator_version == cut
    restored = snapshot.mutate(None)
    assert vars(restored) == vars(upto)
    assert vars(fold(events[cut:], restored)) == vars(fold(events))
    # And as stored: through the store's own mapper and transcoder, bytes and back.
    stored = MAPPER.to_domain_event(MAPPER.to_stored_event(snapshot))
    assert vars(stored.mutate(None)) == vars(upto)


def _customer_state_source() -> str:
    """The code a snapshot's meaning rests on: the customer's state and how events apply."""
    parts = [inspect.getsource(Customer.__init__)]
    for name in sorted(vars(Customer)):
        event = getattr(Customer, name)
        if isinstance(event, type) and "apply" in vars(event):
            parts.append(inspect.getsource(vars(event)["apply"]))
    return "".join(parts)


# The snapshot format and the code it was written for. A change to Customer's state or
# to how one of its events applies fails here: bump FORMAT (stored snapshots become stale
# and are replaced), then pin the new digest beside it.
PINNED = {1: "8945d314fd76d6b3"}


def test_the_snapshot_format_is_bumped_when_the_customer_changes() -> None:
    digest = hashlib.sha256(_customer_state_source().encode()).hexdigest()[:16]
    assert PINNED.get(FORMAT) == digest, (
        "Customer's state or an event's apply changed: bump domain/customer_snapshot.FORMAT "
        f"and pin {{{FORMAT + 1}: '{digest}'}} (or, if snapshots mean the same, the digest)")


def test_a_snapshot_of_another_format_is_stale() -> None:
    customer = fold(history(Segment.CORPORATE, [("balance", START, 100, 0)]))
    state = {**encode(customer), "format": FORMAT + 1}
    stale = CustomerSnapshot(originator_id=customer.id, originator_version=customer.version,
                             timestamp=CustomerSnapshot.create_timestamp(), topic=Customer.TOPIC,
                             state=state)
    with pytest.raises(StaleSnapshot):
        stale.mutate(None)


def test_unsaved_changes_are_never_snapshotted() -> None:
    customer = fold(history(Segment.CORPORATE, []))
    customer.record_balance(on=START, deposit_fen=1, loan_fen=0, today=TODAY, actor="t")
    with pytest.raises(ValueError, match="unsaved"):
        CustomerSnapshot.take(customer)
