"""PostgreSQL's balance feed copied to the store as its rows are decided (ADR 0028).

A night's file streams its events into one `COPY` while the next rows are decided, and
commits only once the whole file is decided. It must store exactly what the decide-
then-write path stores, write nothing for a file refused whole, and lose nothing when
the connection fails midway or another writer races it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import OperationalError

from application import commands as c
from application.recorders import CopyStream
from application.service import BookOfBusiness
from domain import identity
from domain.customer import Customer
from domain.values import Origin, Segment
from tests.projection_support import JAN1, onboard

pytestmark = pytest.mark.integration

DAY = date(2026, 1, 2)
ROWS = 120  # above the 64 valid rows from which a feed streams


@pytest.fixture
def pg_app(app: BookOfBusiness) -> BookOfBusiness:
    if app.settings.backend != "postgres":
        pytest.skip("only PostgreSQL streams the feed; SQLite inserts in-process")
    return app


@pytest.fixture
def commits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of events of each streamed transaction committed."""
    committed: list[int] = []
    commit = CopyStream.commit

    def counted(self: CopyStream) -> list[int]:
        opened = self._stack is not None
        positions = commit(self)
        if opened:
            committed.append(len(positions))
        return positions

    monkeypatch.setattr(CopyStream, "commit", counted)
    return committed


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A 1 for each streamed transaction opened (the table lock taken)."""
    found: list[int] = []
    open_ = CopyStream._open

    def counted(self: CopyStream) -> Any:
        found.append(1)
        return open_(self)

    monkeypatch.setattr(CopyStream, "_open", counted)
    return found


def feed(rows: list[tuple[str, date, str]]) -> bytes:
    lines = ["customer_no,on,deposit,loan",
             *(f"{no},{on},{amount},0.00" for no, on, amount in rows)]
    return ("\n".join(lines) + "\n").encode()


def night(prefix: str, on: date = DAY, cents: int = 0) -> bytes:
    return feed([(f"{prefix}{i:03d}", on, f"{100 + i}.{cents:02d}") for i in range(ROWS)])


def onboard_all(app: BookOfBusiness, prefix: str) -> None:
    for i in range(ROWS):
        onboard(app, f"{prefix}{i:03d}")


def stored(app: BookOfBusiness, customer_no: str) -> list[tuple[int, str, dict[str, Any]]]:
    """A customer's events as (version, topic, state) with the recorded instant left out."""
    found = []
    for event in app.events.get(identity.customer_id(customer_no)):
        state = {k: v for k, v in vars(event).items()
                 if k not in ("timestamp", "originator_id", "originator_version")}
        found.append((event.originator_version, type(event).__name__, state))
    return found


def test_a_streamed_feed_stores_what_the_written_feed_stores(
        pg_app: BookOfBusiness, commits: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    onboard_all(pg_app, "S")
    onboard_all(pg_app, "W")
    streamed = [pg_app.import_balances(night("S")),  # recorded …
                pg_app.import_balances(night("S", cents=5)),  # … corrected …
                pg_app.import_balances(night("S", cents=5))]  # … and unchanged
    assert commits == [ROWS, ROWS]  # the third changed nothing: no transaction at all
    with monkeypatch.context() as m:
        m.setattr(pg_app, "_streams", lambda *_: False)
        written = [pg_app.import_balances(night("W")),
                   pg_app.import_balances(night("W", cents=5)),
                   pg_app.import_balances(night("W", cents=5))]
    assert commits == [ROWS, ROWS]

    def counts(reports: list[Any]) -> list[tuple[int, int, int, bool]]:
        return [(r.recorded, r.corrections, r.unchanged, r.written) for r in reports]

    assert counts(streamed) == counts(written) == [
        (ROWS, 0, 0, True), (0, ROWS, 0, True), (0, 0, ROWS, False)]
    for i in range(ROWS):
        s, w = stored(pg_app, f"S{i:03d}"), stored(pg_app, f"W{i:03d}")
        assert s[1:] == w[1:] and len(s) == 3  # the feed's events (after the onboarding)
    assert pg_app.customer("S007").balances[DAY] == (10705, 0)
    # positions: consecutive, and the report's is the last one written
    assert streamed[1].position is not None and streamed[0].position is not None
    assert streamed[1].position - streamed[0].position == ROWS
    # one recorded instant per file, the store's
    instants = [{e.timestamp for e in pg_app.events.get(identity.customer_id(f"S{i:03d}"))
                 if e.originator_version == version} for i in range(ROWS) for version in (2, 3)]
    first, second = set().union(*instants[0::2]), set().union(*instants[1::2])
    assert len(first) == len(second) == 1 and first.pop() < second.pop() <= datetime.now(UTC)


def test_a_file_refused_whole_writes_nothing_and_leaves_no_trace_in_memory(
        pg_app: BookOfBusiness, commits: list[int], opened: list[int]) -> None:
    onboard_all(pg_app, "R")
    head = pg_app.max_position()
    late = f"R050,{DAY}".encode()
    bad = night("R").replace(late, b"R050,2099-01-01")  # refused by a rule, deciding row 52
    refused = pg_app.import_balances(bad)
    assert [(i.row, i.code) for i in refused.invalid] == [(52, "date_out_of_range")]
    assert (refused.written, pg_app.max_position(), opened, commits) == (False, head, [1], [])
    assert DAY not in pg_app.customer("R001").balances
    # the events decided before the refusal were not kept by the warm customers either
    again = pg_app.import_balances(night("R"))
    assert (again.recorded, again.unchanged, commits) == (ROWS, 0, [ROWS])
    # a file known to be refused before deciding (a customer not found) takes no lock
    onboard_all(pg_app, "K")
    unknown = night("K").replace(b"K050,", b"NOPE,")
    assert [i.code for i in pg_app.import_balances(unknown).invalid] == ["not_found"]
    assert (opened, commits) == ([1, 1], [ROWS])
    # skipping the invalid row writes the rest, streamed
    skipped = pg_app.import_balances(unknown, skip_invalid=True)
    assert (skipped.recorded, len(skipped.invalid), commits) == (ROWS - 1, 1, [ROWS, ROWS - 1])


def test_a_failure_while_deciding_rolls_back_what_was_sent(
        pg_app: BookOfBusiness, monkeypatch: pytest.MonkeyPatch) -> None:
    onboard_all(pg_app, "F")
    head = pg_app.max_position()
    write = CopyStream.write
    sent: list[int] = []

    def failing(self: CopyStream, event: Any) -> None:
        if len(sent) == ROWS // 2:
            raise ValueError("cannot encode")
        write(self, event)
        sent.append(1)

    monkeypatch.setattr(CopyStream, "write", failing)
    with pytest.raises(ValueError, match="cannot encode"):
        pg_app.import_balances(night("F"))
    monkeypatch.undo()
    assert pg_app.max_position() == head  # the half already copied was rolled back
    assert pg_app.import_balances(night("F")).recorded == ROWS  # decided afresh, all of it


LOST_ROWS = 2_500  # enough rows after the cut that sending them fails, not only the commit


@pytest.mark.parametrize(("lost_after", "surfaces"), [(100, "send"), (LOST_ROWS, "commit")])
def test_a_connection_lost_midway_falls_back_and_writes_each_event_once(
        pg_app: BookOfBusiness, monkeypatch: pytest.MonkeyPatch, lost_after: int,
        surfaces: str) -> None:
    """The server ends the feed's connection (as a restart or a network cut would): nothing
    was committed, so the file is decided again and written the other way, once."""
    numbers = [f"L{i:04d}" for i in range(LOST_ROWS)]
    pg_app._store(*(Customer.onboard(
        customer_no=no, name=f"{no} Co", segment=Segment.CORPORATE, branch="B1",
        origin=Origin.NATURAL, marketed_by=None, used_branch_resources=False, on=JAN1,
        today=pg_app.today(), actor="system", reason=None) for no in numbers))
    head = pg_app.max_position()
    write, commit, fail = CopyStream.write, CopyStream.commit, CopyStream._fail
    lost: list[int] = []
    failed: list[str] = []

    def cut(self: CopyStream, event: Any) -> None:
        write(self, event)
        if self.count == lost_after and not lost:
            assert self._cursor is not None
            lost.append(self._cursor.connection.info.backend_pid)
            with pg_app.recorder.datastore.get_connection() as other:
                other.execute("SELECT pg_terminate_backend(%s)", [lost[0]])

    def sent(self: CopyStream, error: psycopg.Error) -> None:
        failed.append("send")
        fail(self, error)

    def committed(self: CopyStream) -> list[int]:
        try:
            return commit(self)
        except OperationalError:
            failed.append("commit")
            raise

    monkeypatch.setattr(CopyStream, "write", cut)
    monkeypatch.setattr(CopyStream, "_fail", sent)
    monkeypatch.setattr(CopyStream, "commit", committed)
    report = pg_app.import_balances(feed([(no, DAY, "100.00") for no in numbers]))
    assert lost and failed == [surfaces]
    assert (report.recorded, report.written) == (LOST_ROWS, True)
    # each customer's balance once, none lost (the lost transaction left a gap in positions)
    rows = pg_app.recorder.select_notifications(head + 1, 10 * LOST_ROWS)
    assert len(rows) == LOST_ROWS == len({r.originator_id for r in rows})


def test_a_send_that_fails_midway_falls_back_too(pg_app: BookOfBusiness,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """psycopg's own error from a row sent (a socket that failed) is the library's lost
    connection, so the file is written the other way, as above."""
    onboard_all(pg_app, "P")
    write = CopyStream.write

    class FailingCopy:
        def write_row(self, row: object) -> None:
            raise psycopg.OperationalError("server closed the connection unexpectedly")

    def failing(self: CopyStream, event: Any) -> None:
        if self.count == ROWS // 2:
            self._copy = FailingCopy()
        write(self, event)

    monkeypatch.setattr(CopyStream, "write", failing)
    head = pg_app.max_position()
    report = pg_app.import_balances(night("P"))
    assert (report.recorded, report.written) == (ROWS, True)
    assert len(pg_app.recorder.select_notifications(head + 1, 10_000)) == ROWS


def test_a_write_racing_a_streamed_feed_is_retried_not_lost(
        make_app: Callable[..., BookOfBusiness], monkeypatch: pytest.MonkeyPatch,
        commits: list[int]) -> None:
    feed_process, api_process = make_app(), make_app()
    if feed_process.settings.backend != "postgres":
        pytest.skip("only PostgreSQL streams the feed; SQLite inserts in-process")
    onboard_all(feed_process, "A")
    feed_process.import_balances(night("A"))
    warm_get = feed_process.warm_customers.get
    raced: list[date] = []
    attempts: list[int] = []

    def get_then_race(numbers: list[str]) -> Any:
        attempts.append(1)
        found = warm_get(numbers)  # checked fresh … then another process writes
        if not raced:
            raced.append(date(2026, 1, 9))
            api_process.record_balance(c.RecordBalance(customer_no="A100", on=raced[-1],
                                                       deposit="50.00", loan="0.00",
                                                       actor="ops"))
        return found

    monkeypatch.setattr(feed_process.warm_customers, "get", get_then_race)
    report = feed_process.import_balances(night("A", on=date(2026, 1, 3)))
    monkeypatch.undo()
    assert (report.recorded, raced) == (ROWS, [date(2026, 1, 9)])
    assert (len(attempts), commits) == (2, [ROWS, ROWS])  # lost once, then decided afresh
    balances = feed_process.customer("A100").balances
    assert balances[date(2026, 1, 9)] == (5000, 0) and balances[date(2026, 1, 3)] == (20000, 0)
