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
from application.service import BookOfBusiness, mutate_in_turn
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
    assert vars(make_app().customer("A")) == vars(folded(third, "A"))


def test_a_short_history_is_not_snapshotted(make_app: Callable[..., BookOfBusiness],
                                            today: date) -> None:
    first = make_app(on=today + timedelta(days=400))
    onboard(first, "A")
    first.import_balances(nights(3))
    second = make_app(on=today + timedelta(days=400))
    second.import_balances(nights(1, FIRST + timedelta(days=3)))
    assert snapshot_versions(second, "A") == []


def test_a_snapshot_of_another_format_is_passed_over(make_app: Callable[..., BookOfBusiness],
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     today: date) -> None:
    app = make_app(on=today + timedelta(days=400))
    onboard(app, "A")
    app.import_balances(nights(5))
    customer = folded(app, "A")
    wrong = {**encode(customer), "format": FORMAT + 1, "balance_days": []}
    stale = CustomerSnapshot(originator_id=customer.id, originator_version=customer.version,
                             timestamp=CustomerSnapshot.create_timestamp(), topic=Customer.TOPIC,
                             state=wrong)
    assert app.snapshots is not None
    app.snapshots.recorder.insert_events([app.mapper.to_stored_event(stale)])

    reads = cold_reads(monkeypatch)
    fresh = make_app(on=today + timedelta(days=400))
    again = fresh.import_balances(nights(5))
    assert (again.recorded, again.unchanged) == (0, 5)
    assert reads == [{}]  # from the first event
    assert vars(fresh.warm_customers.get(["A"])["A"]) == vars(customer)
    assert vars(make_app().customer("A")) == vars(customer)  # the repository's path


def test_the_same_snapshot_written_twice_is_not_an_error(
        make_app: Callable[..., BookOfBusiness], today: date) -> None:
    app = make_app(on=today + timedelta(days=400))
    onboard(app, "A")
    app.import_balances(nights(warm_customers.SNAPSHOT_AFTER))
    one, other = make_app(), make_app()  # two cold processes race to write it
    one.warm_customers.get(["A"])
    other.warm_customers._snapshot([folded(other, "A")])
    assert snapshot_versions(other, "A") == [folded(other, "A").version]
