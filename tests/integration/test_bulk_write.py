"""The bulk write path on both backends (ADR 0010).

Large batches go through one `executemany` (SQLite) or a binary `COPY` (PostgreSQL):
the positions they report are the positions stored, in order; a clash on (stream,
version) still refuses the whole batch; and the balance feed's warm customers notice
a write made by another process before deciding anything.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from application import commands as c
from application.bulk_reads import _Table
from application.recorders import COPY_FROM, EncodedAsRead
from application.service import BookOfBusiness
from domain import identity
from domain.errors import ConcurrencyConflict
from tests.projection_support import onboard

pytestmark = pytest.mark.integration


def stored(n: int, stream: object | None = None) -> list[StoredEvent]:
    stream = stream or uuid4()
    return [StoredEvent(originator_id=stream, originator_version=v, topic="test/Thing",  # type: ignore[arg-type]
                        state=b'{"n":%d}' % v) for v in range(1, n + 1)]


@pytest.mark.parametrize("size", [1, COPY_FROM - 1, COPY_FROM, 5000])
def test_reported_positions_are_the_stored_positions(app: BookOfBusiness, size: int) -> None:
    onboard(app, "X")  # something before, so positions do not start at 1
    before = app.max_position()
    events = stored(size)
    positions = app.recorder.insert_events(events)
    assert positions is not None
    assert list(positions) == list(range(before + 1, before + size + 1))
    rows = app.recorder.select_notifications(before + 1, size + 1)
    assert [(r.id, r.originator_version, r.state) for r in rows] == [
        (p, e.originator_version, e.state) for p, e in zip(positions, events, strict=True)]


def test_a_clash_refuses_the_whole_batch(app: BookOfBusiness) -> None:
    stream = uuid4()
    app.recorder.insert_events(stored(3, stream))
    head = app.max_position()
    clashing = [*stored(COPY_FROM * 2), *stored(3, stream)]  # version 1..3 again
    with pytest.raises(IntegrityError):
        app.recorder.insert_events(clashing)
    assert app.max_position() == head
    assert app.recorder.insert_events(stored(COPY_FROM))  # and the store still takes writes


@pytest.mark.parametrize("size", [COPY_FROM - 1, 5000])
def test_events_encoded_as_read_store_the_rows_a_list_stores(app: BookOfBusiness,
                                                             size: int) -> None:
    events = stored(size)
    encoded: list[int] = []

    def encode(event: StoredEvent) -> StoredEvent:
        encoded.append(event.originator_version)
        return event

    lazy = EncodedAsRead(events, encode)
    assert encoded == []  # nothing encoded until the recorder reads
    assert len(lazy) == size and lazy[2] == events[2] and list(lazy[1:3]) == events[1:3]
    encoded.clear()
    before = app.max_position()
    positions = app.recorder.insert_events(lazy)
    assert positions is not None and list(positions) == list(range(before + 1, before + size + 1))
    assert sorted(encoded) == [e.originator_version for e in events]  # each one, once
    rows = app.recorder.select_notifications(before + 1, size + 1)
    assert [(r.originator_id, r.originator_version, r.topic, r.state) for r in rows] == [
        (e.originator_id, e.originator_version, e.topic, e.state) for e in events]


@pytest.mark.parametrize("size", [COPY_FROM - 1, 5000])
def test_an_event_that_fails_to_encode_midway_writes_nothing(app: BookOfBusiness,
                                                             size: int) -> None:
    """Rows already sent when a later event fails to encode are rolled back with it."""
    events = stored(size)
    head = app.max_position()

    def encode(event: StoredEvent) -> StoredEvent:
        if event.originator_version == size - 1:
            raise ValueError("cannot encode")
        return event

    with pytest.raises(ValueError, match="cannot encode"):
        app.recorder.insert_events(EncodedAsRead(events, encode))
    assert app.max_position() == head
    assert list(app.recorder.select_notifications(head + 1, size + 1)) == []
    assert app.recorder.insert_events(stored(COPY_FROM))  # and the store still takes writes


def feed(rows: list[tuple[str, date, str]]) -> bytes:
    lines = ["customer_no,on,deposit,loan", *(f"{no},{on},{amount},0.00" for no, on, amount in rows)]
    return ("\n".join(lines) + "\n").encode()


def test_warm_customers_see_another_process_write(make_app: Callable[..., BookOfBusiness]) -> None:
    feed_process, api_process = make_app(), make_app()
    for no in ("A", "B"):
        onboard(feed_process, no)
    first = feed_process.import_balances(feed([("A", date(2026, 1, 2), "10.00"),
                                               ("B", date(2026, 1, 2), "20.00")]))
    assert (first.recorded, first.corrections) == (2, 0)
    # Another process corrects A's balance; the feed process holds A warm at the old version.
    api_process.record_balance(c.RecordBalance(customer_no="A", on=date(2026, 1, 2),
                                               deposit="11.00", loan="0.00", actor="ops"))
    again = feed_process.import_balances(feed([("A", date(2026, 1, 2), "11.00"),
                                               ("B", date(2026, 1, 2), "20.00")]))
    assert (again.recorded, again.unchanged, again.corrections) == (0, 2, 0)
    assert again.written is False
    third = feed_process.import_balances(feed([("A", date(2026, 1, 3), "12.00")]))
    assert third.recorded == 1
    assert feed_process.customer("A").balances[date(2026, 1, 3)] == (1200, 0)


def test_a_write_racing_the_feed_is_retried_and_a_lasting_race_refused_not_lost(
        make_app: Callable[..., BookOfBusiness], monkeypatch: pytest.MonkeyPatch) -> None:
    feed_process, api_process = make_app(), make_app()
    onboard(feed_process, "A")
    feed_process.import_balances(feed([("A", date(2026, 1, 2), "10.00")]))
    warm_get = feed_process.warm_customers.get
    raced: list[date] = []

    def get_then_race(numbers: list[str]) -> object:
        found = warm_get(numbers)  # checked fresh … then another process writes
        raced.append(date(2026, 1, 5 + len(raced)))
        api_process.record_balance(c.RecordBalance(customer_no="A", on=raced[-1],
                                                   deposit="50.00", loan="0.00", actor="ops"))
        return found

    monkeypatch.setattr(feed_process.warm_customers, "get", get_then_race)
    customer_id = feed_process.customer("A").id
    before = len(list(feed_process.events.get(customer_id)))
    with pytest.raises(ConcurrencyConflict):  # lost every attempt: refused, nothing written
        feed_process.import_balances(feed([("A", date(2026, 1, 3), "30.00")]))
    assert len(raced) == 3  # three attempts, each on fresh state
    # only the racer's three balances (positions may have gaps on PostgreSQL: count events)
    assert len(list(feed_process.events.get(customer_id))) == before + 3
    assert date(2026, 1, 3) not in feed_process.customer("A").balances
    # lost once: run again on fresh state without the caller seeing the race
    monkeypatch.setattr(feed_process.warm_customers, "get",
                        lambda numbers: get_then_race(numbers) if len(raced) < 4
                        else warm_get(numbers))
    retried = feed_process.import_balances(feed([("A", date(2026, 1, 3), "30.00")]))
    monkeypatch.undo()
    assert (retried.recorded, len(raced)) == (1, 4)
    balances = feed_process.customer("A").balances
    assert balances[date(2026, 1, 3)] == (3000, 0)
    assert all(balances[d] == (5000, 0) for d in raced)
    recorded = [e.timestamp for e in feed_process.events.get(feed_process.customer("A").id)]
    assert recorded == sorted(recorded)
    assert all(t.tzinfo is UTC or t.utcoffset() is not None for t in recorded)
    assert datetime.now(UTC) >= recorded[-1]


def test_the_feed_reads_back_only_what_others_wrote(
        make_app: Callable[..., BookOfBusiness], monkeypatch: pytest.MonkeyPatch) -> None:
    """The feed's own write moves its warm customers' position on; a write by someone else
    landing between the freshness check and the feed's commit is still read next time."""
    feed_process, api_process = make_app(), make_app()
    for no in ("A", "B"):
        onboard(feed_process, no)
    feed_process.import_balances(feed([("A", date(2026, 1, 2), "10.00"),
                                       ("B", date(2026, 1, 2), "20.00")]))
    warm = feed_process.warm_customers
    assert warm.current_to == feed_process.max_position()  # its own write: nothing to re-read
    warm_get = warm.get

    def get_then_race(numbers: list[str]) -> object:
        found = warm_get(numbers)
        api_process.record_balance(c.RecordBalance(customer_no="B", on=date(2026, 1, 5),
                                                   deposit="55.00", loan="0.00", actor="ops"))
        return found

    monkeypatch.setattr(warm, "get", get_then_race)
    raced = feed_process.import_balances(feed([("A", date(2026, 1, 3), "30.00")]))
    monkeypatch.undo()
    assert raced.recorded == 1
    assert warm.current_to < feed_process.max_position()  # B's change is not skipped …
    assert warm.get(["B"])["B"].balances[date(2026, 1, 5)] == (5500, 0)  # … but read
    assert warm.current_to == feed_process.max_position()


def test_the_feeds_bulk_reads_are_planned_for_a_few_rows(app: BookOfBusiness) -> None:
    """Without statistics the planner once ran a 16-row read with parallel workers and JIT
    (271 ms); the feed's bulk reads switch both off for their own transaction only."""
    if app.settings.backend != "postgres":
        pytest.skip("a PostgreSQL planner matter")
    settings = _Table(app.recorder).rows("SELECT current_setting('jit'), "
                                         "current_setting('max_parallel_workers_per_gather')", [])
    assert settings == [("off", "0")]
    with app.recorder.datastore.transaction(commit=False) as cursor:  # other reads keep theirs
        cursor.execute("SELECT current_setting('max_parallel_workers_per_gather') AS w")
        assert cursor.fetchone()["w"] != "0"


def test_warm_customers_beyond_the_limit_are_dropped_by_stream_and_by_number(
        app: BookOfBusiness) -> None:
    """The warm set is bounded: the oldest go, from both of its indexes at once, and a
    customer dropped comes back from the store, with its balances, when a file names it."""
    for no in ("A", "B", "C"):
        onboard(app, no)
    warm = app.warm_customers
    warm.limit = 2
    app.import_balances(feed([(no, date(2026, 1, 2), "10.00") for no in "ABC"]))

    def held() -> set[str]:
        by_stream = {c.customer_no for key, c in warm.customers.items()
                     if key == identity.customer_id(c.customer_no).hex}
        assert by_stream == set(warm.by_number)  # the two indexes in step
        assert all(warm.by_number[no] is warm.customers[identity.customer_id(no).hex]
                   for no in by_stream)
        return by_stream

    kept = held()
    assert len(kept) == 2
    (dropped,) = set("ABC") - kept
    again = app.import_balances(feed([(dropped, date(2026, 1, 2), "10.00"),
                                      (dropped, date(2026, 1, 3), "11.00")]))
    assert (again.unchanged, again.recorded) == (1, 1)  # read back with its January 2nd
    assert dropped in held() and len(held()) == 2
