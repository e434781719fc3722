"""Customer snapshots on both backends (ADR 0024): written by cold loads, read by the next
ones, never changing what a customer is.

The customer a process loads from a snapshot and the events after it must equal the
customer folded from all its events; a snapshot of another format is passed over; two
processes writing the same snapshot is not an error.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from application import warm_customers
from application.bulk_reads import _Table
from application.service import BookOfBusiness, mutate_in_turn
from application.snapshot_store import put_snapshots
from domain import identity
from domain.customer import Customer
from domain.customer_snapshot import FORMAT, CustomerSnapshot, encode
from tests.integration.test_bulk_write import feed
from tests.projection_support import onboard

pytestmark = pytest.mark.integration

FIRST = date(2026, 1, 2)


def nights(n: int, start: date = FIRST) -> bytes:
    """`n` nights of A's balance from `start`, each day's amount fixed by the day."""
    offset = (start - FIRST).days
    return feed([("A", start + timedelta(days=i), f"{100 + offset + i}.00") for i in range(n)])


def folded(app: BookOfBusiness, no: str) -> Customer:
    """The customer from its events alone, as the library's repository folds without snapshots."""
    customer: Customer = mutate_in_turn(None, app.events.get(identity.customer_id(no)))
    return customer


def snapshot_versions(app: BookOfBusiness, no: str) -> list[int]:
    assert app.snapshots is not None
    return [s.originator_version
            for s in app.snapshots.recorder.select_events(identity.customer_id(no))]


def cold_reads(monkeypatch: pytest.MonkeyPatch) -> list[dict[Any, int] | None]:
    """The `after` versions each cold read of the feed asked the store for."""
    seen: list[dict[Any, int] | None] = []
    real = warm_customers.stored_streams

    def spy(recorder: Any, ids: Any, after: Any = None) -> Any:
        seen.append(dict(after) if after is not None else None)
        return real(recorder, ids, after)

    monkeypatch.setattr(warm_customers, "stored_streams", spy)
    return seen


def test_a_cold_feed_snapshots_a_long_history_and_the_next_cold_feed_starts_from_it(
        make_app: Callable[..., BookOfBusiness], monkeypatch: pytest.MonkeyPatch,
        today: date) -> None:
    count = warm_customers.SNAPSHOT_AFTER + 5
    first = make_app(on=today + timedelta(days=400))
    onboard(first, "A")
    assert first.import_balances(nights(count)).recorded == count  # warm: no snapshot
    assert snapshot_versions(first, "A") == []
    version = folded(first, "A").version

    second = make_app(on=today + timedelta(days=400))  # a fresh process: A is cold
    night = second.import_balances(nights(1, FIRST + timedelta(days=count)))
    assert night.recorded == 1
    assert snapshot_versions(second, "A") == [version]  # as stored, before the night

    reads = cold_reads(monkeypatch)
    third = make_app(on=today + timedelta(days=400))
    again = third.import_balances(nights(count + 1))  # every night again: nothing new
    assert (again.recorded, again.unchanged, again.corrections) == (0, count + 1, 0)
    assert reads == [{identity.customer_id("A"): version}]  # only the events after it
    assert vars(third.warm_customers.get(["A"])["A"]) == vars(folded(third, "A"))
    # The library's repository starts from the snapshot too, and folds the same customer.
    api = make_app()
    asked = events_asked(api, monkeypatch)
    assert vars(api.customer("A")) == vars(folded(third, "A"))
    assert asked == [version]  # the events after the snapshot, not from the first


def events_asked(app: BookOfBusiness, monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """The version each of the repository's reads of the event store started after."""
    seen: list[int | None] = []
    real = app.events.get

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("gt"))
        return real(*args, **kwargs)

    monkeypatch.setattr(app.events, "get", spy)
    return seen


def long_history(make_app: Callable[..., BookOfBusiness], today: date) -> BookOfBusiness:
    """A store where A has just enough nights to be snapshotted when read cold."""
    app = make_app(on=today + timedelta(days=400))
    onboard(app, "A")
    app.import_balances(nights(warm_customers.SNAPSHOT_AFTER))
    return app


def test_a_short_history_is_not_snapshotted(make_app: Callable[..., BookOfBusiness],
                                            today: date) -> None:
    first = make_app(on=today + timedelta(days=400))
    onboard(first, "A")
    first.import_balances(nights(3))
    second = make_app(on=today + timedelta(days=400))
    second.import_balances(nights(1, FIRST + timedelta(days=3)))
    assert snapshot_versions(second, "A") == []


def stale_snapshot(app: BookOfBusiness, no: str) -> None:
    """A snapshot of another format, whose state is wrong too, at the customer's version."""
    customer = folded(app, no)
    wrong = {**encode(customer), "format": FORMAT + 1, "balance_days": []}
    stale = CustomerSnapshot(originator_id=customer.id, originator_version=customer.version,
                             timestamp=CustomerSnapshot.create_timestamp(), topic=Customer.TOPIC,
                             state=wrong)
    assert app.snapshots is not None
    assert put_snapshots(app.snapshots.recorder, [app.mapper.to_stored_event(stale)]) == 1


def test_a_snapshot_of_another_format_is_passed_over_and_replaced(
        make_app: Callable[..., BookOfBusiness], monkeypatch: pytest.MonkeyPatch,
        today: date) -> None:
    app = long_history(make_app, today)
    customer = folded(app, "A")
    stale_snapshot(app, "A")

    api = make_app()
    asked = events_asked(api, monkeypatch)
    assert vars(api.customer("A")) == vars(customer)  # the repository's path
    api.customer("A")
    # After the stale snapshot, then from the first event; then, cached, only what followed.
    assert asked == [customer.version, None, customer.version]

    reads = cold_reads(monkeypatch)
    fresh = make_app(on=today + timedelta(days=400))
    again = fresh.import_balances(nights(warm_customers.SNAPSHOT_AFTER))
    assert (again.recorded, again.unchanged) == (0, warm_customers.SNAPSHOT_AFTER)
    assert reads == [{}]  # from the first event
    assert vars(fresh.warm_customers.get(["A"])["A"]) == vars(customer)
    # The stale snapshot at that version was replaced by a current one: the next cold read
    # starts after it.
    assert snapshot_versions(fresh, "A") == [customer.version]
    make_app(on=today + timedelta(days=400)).import_balances(nights(1))
    assert reads[-1] == {customer.id: customer.version}


def test_customers_cold_together_each_start_from_their_own_snapshot(
        make_app: Callable[..., BookOfBusiness], monkeypatch: pytest.MonkeyPatch,
        today: date) -> None:
    """Several streams in one read: each paired with its own snapshot version, or none."""
    later = today + timedelta(days=400)
    app = make_app(on=later)
    long = warm_customers.SNAPSHOT_AFTER + 2
    rows: list[tuple[str, date, str]] = []
    for no, n in (("A", long), ("B", 3), ("C", long), ("D", long + 7)):
        onboard(app, no)
        rows += [(no, FIRST + timedelta(days=i), f"{i + ord(no)}.00") for i in range(n)]
    app.import_balances(feed(rows))
    make_app(on=later).warm_customers.get(["A", "C"])  # a cold process snapshots A and C
    stale_snapshot(app, "C")  # C's own snapshot, replaced by one of another format
    app.import_balances(feed([("A", FIRST + timedelta(days=long), "1.00")]))  # A moves on
    truth = {no: folded(app, no) for no in "ABCD"}

    reads = cold_reads(monkeypatch)
    fresh = make_app(on=later)
    again = fresh.import_balances(feed(rows))
    assert (again.recorded, again.unchanged, again.corrections) == (0, len(rows), 0)
    assert reads == [{truth["A"].id: truth["A"].version - 1}]  # B none, C stale, D none
    loaded = fresh.warm_customers.get(list("ABCD"))
    assert {no: vars(c) for no, c in loaded.items()} == {no: vars(c) for no, c in truth.items()}
    # C and D needed their whole histories: both snapshotted now, as stored.
    assert snapshot_versions(fresh, "C") == [truth["C"].version]
    assert snapshot_versions(fresh, "D") == [truth["D"].version]
    assert snapshot_versions(fresh, "B") == []


def test_a_snapshot_written_twice_is_one_row_and_no_error(
        make_app: Callable[..., BookOfBusiness], today: date) -> None:
    app = long_history(make_app, today)
    customer = folded(app, "A")
    one, other = make_app(), make_app()  # two cold processes race to write it
    one.warm_customers.get(["A"])
    assert snapshot_versions(one, "A") == [customer.version]
    other.warm_customers._snapshot([customer])
    assert snapshot_versions(other, "A") == [customer.version]


def test_snapshots_that_cannot_be_read_or_written_are_logged_and_the_import_goes_on(
        make_app: Callable[..., BookOfBusiness], caplog: pytest.LogCaptureFixture,
        today: date) -> None:
    long_history(make_app, today)
    fresh = make_app(on=today + timedelta(days=400))
    assert fresh.snapshots is not None
    recorder = fresh.snapshots.recorder
    table = _Table(recorder).name
    with recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute(f"DROP TABLE {table}")  # every read and write of a snapshot now fails
    night = fresh.import_balances(nights(1, FIRST + timedelta(days=warm_customers.SNAPSHOT_AFTER)))
    assert night.recorded == 1
    assert "customer snapshots not read" in caplog.text
    assert "customer snapshots not written" in caplog.text
