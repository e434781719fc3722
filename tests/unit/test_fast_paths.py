"""The write side's fast paths make exactly what the library's general paths make (ADR 0010).

- events built by `BookAggregate.trigger_event` equal events built by their constructor;
- a deep copy of an aggregate shares no mutable object with the original;
- `EventMapper` stores the same bytes as the library's `Mapper`;
- the feed parser's fast path reads a row exactly as the general path does.
"""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.compressor import ZlibCompressor
from eventsourcing.persistence import Mapper
from hypothesis import given
from hypothesis import strategies as st

from application import balance_import
from application.balance_import import BalanceRow, InvalidRow, _fast_row, _row, parse_feed
from application.transcoding import EventMapper, OrjsonTranscoder
from domain.aggregate import build_event
from domain.customer import Customer
from domain.values import Channel, Purpose
from tests.support import TODAY, make_assignment, make_customer, make_manager

pytestmark = pytest.mark.unit


def test_built_event_equals_constructed_event() -> None:
    fields = {"originator_id": uuid4(), "originator_version": 7,
              "timestamp": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "on": date(2026, 1, 1),
              "actor": "feed", "reason": None, "deposit_fen": 12_345, "loan_fen": 0}
    built = build_event(Customer.BalanceRecorded, dict(fields))
    constructed = Customer.BalanceRecorded(**fields)
    assert type(built) is Customer.BalanceRecorded
    assert built == constructed
    assert vars(built) == vars(constructed)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.deposit_fen = 1  # type: ignore[misc]


def test_building_refuses_what_the_constructor_refuses() -> None:
    with pytest.raises(TypeError):  # a missing field: the constructor's own message
        build_event(Customer.BalanceRecorded, {"originator_id": uuid4()})
    fields = {"originator_id": "not-a-uuid", "originator_version": 1,
              "timestamp": datetime.now(UTC), "on": date(2026, 1, 1), "actor": "a",
              "reason": None, "deposit_fen": 1, "loan_fen": 0}
    with pytest.raises(TypeError, match="non-UUID"):
        build_event(Customer.BalanceRecorded, fields)


def _mutable_objects(root: Any) -> dict[int, Any]:
    """Every mutable object reachable from `root` (containers, non-frozen instances)."""
    found: dict[int, Any] = {}
    stack = [root]
    while stack:
        value = stack.pop()
        if id(value) in found or isinstance(value, Enum):  # enum members are singletons
            continue
        if isinstance(value, (dict, list, set)):
            found[id(value)] = value
            stack.extend(value.values() if isinstance(value, dict) else value)
            if isinstance(value, dict):
                stack.extend(value.keys())
        elif isinstance(value, tuple):
            stack.extend(value)
        elif hasattr(value, "__dict__") and not isinstance(value, type):
            params = getattr(type(value), "__dataclass_params__", None)
            if params is None or not params.frozen:
                found[id(value)] = value
            stack.extend(vars(value).values())
    return found


def _full_customer() -> Customer:
    customer = make_customer("C1")
    customer.open_account(account_no="A1", type="basic", currency="CNY", on=date(2026, 1, 2),
                          today=TODAY, actor="t")
    customer.grant_credit(limit_fen=100, on=date(2026, 1, 3), today=TODAY, actor="t")
    for day in range(4, 20):
        customer.record_balance(on=date(2026, 1, day), deposit_fen=day * 100, loan_fen=day,
                                today=TODAY, actor="feed")
    customer.log_visit(staff_no="M1", on=date(2026, 2, 1), channel=Channel.PHONE,
                       purpose=Purpose.ROUTINE, notes="", today=TODAY, actor="M1")
    customer.collect_events()
    return customer


def test_deep_copies_share_nothing_mutable() -> None:
    customer = _full_customer()
    manager = make_manager("M1")
    assignment = make_assignment(make_customer("C2"), manager)
    for original in (customer, manager, assignment):
        clone = copy.deepcopy(original)
        assert vars(clone).keys() == vars(original).keys()
        shared = _mutable_objects(vars(original)).keys() & _mutable_objects(vars(clone)).keys()
        assert not shared, f"{type(original).__name__} shares {len(shared)} mutable objects"
    assert vars(copy.deepcopy(customer)) == vars(customer)


def test_a_copy_changes_alone() -> None:
    customer = _full_customer()
    clone = copy.deepcopy(customer)
    clone.close_account(account_no="A1", on=date(2026, 3, 1), today=TODAY, actor="t")
    clone.record_balance(on=date(2026, 3, 1), deposit_fen=1, loan_fen=0, today=TODAY,
                         actor="feed")
    assert customer.accounts["A1"].closed_on is None
    assert date(2026, 3, 1) not in customer.balances
    assert customer.closed_on is None
    assert clone.closed_on == date(2026, 3, 1)


def test_event_mapper_stores_what_the_library_mapper_stores() -> None:
    customer = _full_customer()
    manager = make_manager("M1")
    assignment = make_assignment(make_customer("C2"), manager)
    assignment.end(custodian=manager, on=date(2026, 5, 1), actor="t", reason="closed")
    customer.record_balance(on=date(2026, 1, 4), deposit_fen=5, loan_fen=0, today=TODAY,
                            actor="feed")  # a correction
    events = [*customer.collect_events(), *assignment.collect_events(),
              *manager.collect_events()]
    assert events
    for compressor in (None, ZlibCompressor()):  # as rmbook stores, and compressed
        ours = EventMapper(OrjsonTranscoder(), compressor=compressor)
        theirs = Mapper(transcoder=OrjsonTranscoder(), compressor=compressor)
        for event in events:
            assert ours.to_stored_event(event) == theirs.to_stored_event(event)
            assert vars(ours.to_domain_event(ours.to_stored_event(event))) == vars(event)


amounts = st.one_of(
    st.integers(0, 10**14).map(lambda f: f"{f // 100}.{f % 100:02d}"),
    st.integers(0, 10**6).map(str),
    st.sampled_from(["", "-1.00", "1.234", "abc", " 5.00", "1e3", "0.5", "007.10"]))
cells = st.lists(st.one_of(
    st.from_regex(r"[A-Za-z0-9_-]{1,32}", fullmatch=True),
    st.sampled_from(["", "C 1", "C1\n", "x" * 33, "2026-01-31", "2026-02-30", "20260131"]),
    amounts), min_size=4, max_size=4)


@given(cells)
def test_fast_row_reads_a_row_as_the_general_path_does(record: list[str]) -> None:
    fast = _fast_row(2, record)
    general = _row(2, dict(zip(["customer_no", "on", "deposit", "loan"],
                               (c.strip() for c in record), strict=True)))
    if fast is not None:
        assert fast == general
    else:  # declined: the general path decides (and words any error)
        assert isinstance(general, (BalanceRow, InvalidRow))


def test_parse_feed_mixes_fast_and_general_rows() -> None:
    text = ("customer_no,on,deposit,loan\n"
            "C1,2026-01-02,100.00,0.00\n"
            "C2, 2026-01-02 ,5,\n"  # spaces and a blank loan: the general path
            "C3,2026-01-02,-1.00,0.00\n")
    rows = parse_feed(text.encode())
    assert rows[0] == BalanceRow(2, "C1", date(2026, 1, 2), 10_000, 0)
    assert rows[1] == BalanceRow(3, "C2", date(2026, 1, 2), 500, 0)
    assert isinstance(rows[2], InvalidRow)
    assert rows[2].code == "validation_error"
    assert rows[2].row == 4


valid_records = st.lists(st.tuples(
    st.from_regex(r"[A-Za-z0-9_-]{1,32}", fullmatch=True),
    st.dates().map(date.isoformat),
    st.integers(0, 10**14).map(lambda f: f"{f // 100}.{f % 100:02d}"),
    st.one_of(st.integers(0, 10**6).map(str), st.sampled_from(["0.5", "12.30", "0.00"]))
).map(list), max_size=8)


@given(valid_records, st.one_of(st.none(), cells), st.integers(0, 8),
       st.sampled_from(["\n", "\r\n"]), st.booleans())
def test_a_plain_file_reads_as_the_csv_path_reads_it(
        records: list[list[str]], odd: list[str] | None, at: int, newline: str,
        final_newline: bool) -> None:
    """The whole-file pattern (one match a line) and the csv module agree on every file;
    any line the pattern does not take sends the whole file to the csv path."""
    if odd is not None:
        records.insert(at, odd)
    lines = ["customer_no,on,deposit,loan", *(",".join(r) for r in records)]
    text = newline.join(lines) + (newline if final_newline else "")
    plain = balance_import._plain_file(text)
    general = balance_import._csv_rows(text)
    if plain is not None:
        assert plain == general
        assert all(isinstance(r, BalanceRow) for r in plain)


def test_the_usual_file_takes_the_plain_path() -> None:
    text = "customer_no,on,deposit,loan\r\nC1,2026-01-02,100.5,0\r\nC2,2026-01-03,7.05,1.00\r\n"
    assert balance_import._plain_file(text) == [
        BalanceRow(2, "C1", date(2026, 1, 2), 10_050, 0),
        BalanceRow(3, "C2", date(2026, 1, 3), 705, 100)]
    assert balance_import._plain_file(text.replace("C2", "C 2")) is None
    assert balance_import._plain_file(text.replace("01-03", "02-30")) is None
