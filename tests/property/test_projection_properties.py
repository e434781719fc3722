"""Properties of the read side over random but valid histories [DOMAIN §9].

A history is written through the real application: a few managers and customers,
then a random sequence of balances (repeats on a recorded date are corrections),
handovers, full transfers, credit grants and closures, visits, non-deposit
business and accounts. Commands the domain refuses write nothing and are skipped,
so what is stored is always a valid history. Then:

- live = rebuild: projecting event by event while the history is written (every event
  folded in Python) equals a fresh build with a big batch and equals a `rebuild()`
  (balances copied by the database) — every table;
- interrupted after k events, resumed by a new Projector, equals uninterrupted;
- two rebuilds produce identical views;
- a replay at instant T equals the live report as it stood at T;
- two projectors taking turns, each catching up on what the other wrote, equal a fresh
  build (ADR 0027);
- tier boundaries (10/11, 20/21, 30/31, 40/41 credit customers) through the projection.

Hypothesis runs on a SQLite file per example (it does not mix with function-scoped
fixtures); each property also runs once as a plain test on the `app` fixture, so
PostgreSQL is covered with a fixed history that exercises every kind of event.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from application.service import BookOfBusiness
from application.settings import Settings
from domain.errors import Refusal
from domain.rulebook import RulebookHistory
from projections.reader import BookReader
from projections.rebuild import build_fresh, rebuild
from projections.replay import book_reader, replayed_book
from projections.reports.attribution import customer_attribution, manager_attribution
from projections.reports.tiers import branch_tiers, manager_tier, tier_history
from projections.runner import Projector
from tests.projection_support import (
    active,
    assign,
    balance,
    close_credit,
    dump,
    grant,
    handover,
    non_deposit,
    onboard,
    open_account,
    projector,
    register,
    transfer,
    visit,
)
from tests.support import default_rulebook

pytestmark = pytest.mark.property

TODAY = date(2026, 11, 1)
JAN1 = date(2026, 1, 1)
MANAGERS = ("M1", "M2", "M3")
CUSTOMERS = ("C1", "C2", "C3", "C4")
DAYS = (date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 15), date(2026, 5, 1),
        date(2026, 6, 30), date(2026, 7, 1), date(2026, 8, 1), date(2026, 9, 15),
        date(2026, 10, 31))
AMOUNTS = ("0.00", "150000.00", "1000000.00", "1234567.89", "2500000.00")
REPORT_DAYS = (date(2026, 1, 31), date(2026, 6, 30), date(2026, 8, 15), date(2026, 10, 31))
PERIODS = ((JAN1, date(2026, 10, 31)), (date(2026, 7, 1), date(2026, 7, 31)),
           (date(2026, 8, 1), date(2026, 9, 30)))
EXAMPLES = settings(max_examples=10, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

Op = tuple[Any, ...]


@dataclass(frozen=True)
class History:
    """Who first holds each customer (index into MANAGERS), then the operations."""

    custodians: tuple[int, ...]
    ops: tuple[Op, ...]


# ---- generating and writing histories ---------------------------------------------------------

_c = st.integers(0, len(CUSTOMERS) - 1)
_m = st.integers(0, len(MANAGERS) - 1)
_d = st.integers(0, len(DAYS) - 1)
_a = st.integers(0, len(AMOUNTS) - 1)
OPS = st.one_of(
    st.tuples(st.just("balance"), _c, _d, _a),
    st.tuples(st.just("balance"), _c, st.just(0), _a),  # corrections of the opening balance
    st.tuples(st.just("handover"), _c, _m, _d, st.sampled_from(["0.60", "0.75", "1.00"])),
    st.tuples(st.just("transfer"), _c, _m, _d, st.sampled_from(["0.50", "0.80"])),
    st.tuples(st.just("grant"), _c, _d),
    st.tuples(st.just("close_credit"), _c, _d),
    st.tuples(st.just("visit"), _c, _m, _d),
    st.tuples(st.just("non_deposit"), _c, _d, _a),
    st.tuples(st.just("account"), _c, _d),
)
HISTORIES = st.builds(
    History,
    custodians=st.tuples(*([_m] * len(CUSTOMERS))),
    ops=st.lists(OPS, min_size=3, max_size=16).map(tuple),
)

# A fixed history touching every kind of event, including the ones that are easy to get
# wrong incrementally: a handover whose base window starts after the opening balance;
# corrections after the handover of a balance inside its base window and of one before
# it that is carried into it; a backdated balance inside a window; a credit line closed
# and granted again; a full transfer after a handover; a repeated balance (a no-op).
FIXED = History(custodians=(0, 0, 1, 2), ops=(
    ("balance", 0, 5, 4),      # C1 2026-07-01 2,500,000
    ("grant", 0, 1),           # C1 credit from 2026-02-01
    ("balance", 0, 3, 3),      # C1 2026-05-01 (inside the window of the handover below)
    ("grant", 1, 0),           # C2 credit from 2026-01-01
    ("handover", 0, 1, 6, "0.60"),  # C1 → M2 on 2026-08-01 (window 02-01 … 07-31)
    ("visit", 0, 1, 7),
    ("non_deposit", 0, 7, 1),
    ("balance", 0, 3, 1),      # correct C1's 2026-05-01 balance (inside the window)
    ("balance", 0, 0, 1),      # correct C1's 2026-01-01 opening balance: before the window,
                               # carried into it until 05-01, so it moves the base too
    ("account", 1, 2),
    ("close_credit", 1, 4),    # C2 credit closed 2026-06-30
    ("grant", 1, 7),           # and granted again 2026-09-15
    ("handover", 2, 0, 4, "0.75"),  # C3 M2 → M1 on 2026-06-30
    ("transfer", 2, 2, 7, "0.80"),  # C3 M1 → M3 in full on 2026-09-15
    ("balance", 2, 6, 4),
    ("visit", 3, 2, 8),
    ("non_deposit", 2, 8, 2),
    ("balance", 3, 2, 3),
    ("grant", 3, 3),
    ("handover", 3, 0, 8, "1.00"),  # C4 M3 → M1 on 2026-10-31
    ("balance", 1, 0, 2),      # C2 repeat of the opening balance: a no-op
    ("balance", 2, 0, 4),      # C3 opening balance corrected (inside the 06-30 window)
))


def setup(app: BookOfBusiness, history: History) -> None:
    for staff_no in MANAGERS:
        register(app, staff_no)
    for no, custodian in zip(CUSTOMERS, history.custodians, strict=True):
        onboard(app, no)
        open_account(app, no, f"A{no}0")
        assign(app, no, MANAGERS[custodian], ratio="0.60")
        balance(app, no, JAN1, "1000000.00")


def apply(app: BookOfBusiness, op: Op) -> bool:
    """Write one operation; False if the domain refused it (nothing written)."""
    kind, no = op[0], CUSTOMERS[op[1]]
    try:
        if kind == "balance":
            balance(app, no, DAYS[op[2]], AMOUNTS[op[3]])
        elif kind == "handover":
            handover(app, no, MANAGERS[op[2]], DAYS[op[3]], deposit=op[4])
        elif kind == "transfer":
            transfer(app, no, MANAGERS[op[2]], DAYS[op[3]], ratio=op[4])
        elif kind == "grant":
            grant(app, no, DAYS[op[2]])
        elif kind == "close_credit":
            close_credit(app, no, DAYS[op[2]])
        elif kind == "visit":
            visit(app, no, MANAGERS[op[2]], DAYS[op[3]])
        elif kind == "non_deposit":
            non_deposit(app, no, DAYS[op[2]], AMOUNTS[op[3]])
        elif kind == "account":
            count = len(app.customer(no).accounts)
            open_account(app, no, f"A{no}{count}", on=DAYS[op[2]], type="general")
        else:  # pragma: no cover - the strategy only makes the kinds above
            raise AssertionError(kind)
    except Refusal:
        return False
    return True


def write(app: BookOfBusiness, history: History, live: Projector | None = None,
          ops: tuple[Op, ...] | None = None) -> None:
    """Write the operations; a live projector follows after every command."""
    for op in history.ops if ops is None else ops:
        apply(app, op)
        if live is not None:
            live.catch_up_all()


@contextmanager
def sqlite_app() -> Iterator[BookOfBusiness]:
    """A fresh SQLite store for one hypothesis example."""
    with tempfile.TemporaryDirectory(prefix="rmbook-prop-") as folder:
        app = BookOfBusiness(Settings(database_url=f"sqlite:///{folder}/rmbook.db", today=TODAY))
        try:
            yield app
        finally:
            app.close()


def instant() -> datetime:
    """An instant strictly between what was recorded before and what is recorded after."""
    time.sleep(0.005)
    moment = datetime.now(UTC)
    time.sleep(0.005)
    return moment


def report(reader: BookReader) -> dict[str, Any]:
    """Tiers of every manager and attribution of every customer, as a user would see them."""
    return {
        "tiers": [branch_tiers(reader, None, on) for on in REPORT_DAYS],
        "tier_history": {m: tier_history(reader, m) for m in MANAGERS},
        "attribution": {no: [customer_attribution(reader, no, start, end)
                             for start, end in PERIODS] for no in CUSTOMERS},
        "managers": {m: [manager_attribution(reader, m, start, end) for start, end in PERIODS]
                     for m in MANAGERS},
    }


# ---- property 1: live = fresh build = rebuild ---------------------------------------------------


def check_live_equals_rebuild(app: BookOfBusiness, history: History) -> None:
    # Live: a transaction per event, every event folded in Python. Fresh builds and the
    # rebuild: the long catch-up's path — batches of 3 read ahead, written 7 events or
    # more at a time, balances copied by the database (ADR 0016).
    with projector(app, batch_size=1) as live, \
            projector(app, batch_size=3, flush_events=7) as big:
        live.copy_in_database = False
        live.catch_up_all()  # the serving generations exist before the first event
        setup(app, history)
        write(app, history, live)
        live.catch_up_all()
        live_book = dump(live, active(live, "book"))
        live_audit = dump(live, active(live, "audit"))

        fresh = build_fresh(big, "book", status="fresh")
        fresh_audit = build_fresh(big, "audit", status="fresh")
        assert dump(big, fresh) == live_book
        assert dump(big, fresh_audit) == live_audit
        big.drop(fresh)
        big.drop(fresh_audit)

        result = rebuild(big)
        assert result.status == "finished"
        assert result.diff == {"tiers": [], "attribution": []}
        assert dump(big, active(big, "book")) == live_book
        assert dump(big, active(big, "audit")) == live_audit


@EXAMPLES
@given(history=HISTORIES)
@example(history=FIXED)
def test_live_projection_equals_fresh_build_and_rebuild(history: History) -> None:
    with sqlite_app() as app:
        check_live_equals_rebuild(app, history)


def test_live_projection_equals_fresh_build_and_rebuild_on_each_backend(
        app: BookOfBusiness) -> None:
    check_live_equals_rebuild(app, FIXED)


# ---- property 2: interrupted after k events, resumed by a new Projector -------------------------


def check_interrupted(app: BookOfBusiness, k: int) -> None:
    head = app.max_position()
    with projector(app, batch_size=3) as first:
        generations = first.ensure()
        for generation in generations:
            first.catch_up(generation, stop=k)
        assert [g.position for g in generations] == [min(k, head)] * 2
    # `first` is gone with whatever it held in memory; a new process resumes.
    with projector(app) as second:
        resumed = [active(second, "book"), active(second, "audit")]
        assert [g.position for g in resumed] == [min(k, head)] * 2
        second.catch_up_all()
        book, audit = active(second, "book"), active(second, "audit")
        assert (book.position, audit.position) == (head, head)
        fresh_book = build_fresh(second, "book", status="fresh")
        fresh_audit = build_fresh(second, "audit", status="fresh")
        assert dump(second, book) == dump(second, fresh_book)
        assert dump(second, audit) == dump(second, fresh_audit)
        for generation in (fresh_book, fresh_audit, book, audit):
            second.drop(generation)


@EXAMPLES
@given(history=HISTORIES, data=st.data())
def test_interrupted_and_resumed_equals_uninterrupted(history: History, data: st.DataObject
                                                      ) -> None:
    with sqlite_app() as app:
        setup(app, history)
        write(app, history)
        k = data.draw(st.integers(0, app.max_position()), label="k")
        check_interrupted(app, k)


def test_interrupted_and_resumed_equals_uninterrupted_on_each_backend(
        app: BookOfBusiness) -> None:
    setup(app, FIXED)
    correction_at = FIXED.ops.index(("balance", 0, 3, 1))
    write(app, FIXED, ops=FIXED.ops[:correction_at])
    correction = app.max_position() + 1
    write(app, FIXED, ops=FIXED.ops[correction_at:])
    head = app.max_position()
    # mid-setup (7 splits the Assigned + CustodyTaken transaction), mid-history (between
    # the handover of C1 and the corrections of its base), the last but one
    for k in sorted({7, correction - 1, head - 1}):
        check_interrupted(app, k)


# ---- property 3: rebuild determinism --------------------------------------------------------------


def check_rebuilds_identical(app: BookOfBusiness) -> None:
    with projector(app) as read_side:
        read_side.catch_up_all()
        first = rebuild(read_side)
        book_1, audit_1 = dump(read_side, active(read_side)), dump(read_side,
                                                                   active(read_side, "audit"))
        second = rebuild(read_side)
        book_2, audit_2 = dump(read_side, active(read_side)), dump(read_side,
                                                                   active(read_side, "audit"))
    assert first.generations["book"][1] != second.generations["book"][1]  # new tables
    assert book_1 == book_2
    assert audit_1 == audit_2
    assert first.diff == second.diff == {"tiers": [], "attribution": []}


@EXAMPLES
@given(history=HISTORIES)
def test_two_rebuilds_produce_identical_views(history: History) -> None:
    with sqlite_app() as app:
        setup(app, history)
        write(app, history)
        check_rebuilds_identical(app)


def test_two_rebuilds_produce_identical_views_on_each_backend(app: BookOfBusiness) -> None:
    setup(app, FIXED)
    write(app, FIXED)
    check_rebuilds_identical(app)


# ---- property 4: replay at T = the live view as it was at T -------------------------------------


def check_replay(app: BookOfBusiness, history: History, split: int) -> tuple[Any, Any, Any]:
    """Returns (live report at T, replayed report at T, live report now)."""
    with projector(app, batch_size=1) as live:
        setup(app, history)
        write(app, history, live, history.ops[:split])
        moment = instant()
        with book_reader(live) as reader:
            then = report(reader)
        write(app, history, live, history.ops[split:])
        with book_reader(live) as reader:
            now = report(reader)
        with projector(app) as replaying, replayed_book(replaying, moment) as reader:
            replayed = report(reader)
        assert [g.status for g in live.registry.all()] == ["active", "active"]  # replay dropped
    return then, replayed, now


@EXAMPLES
@given(history=HISTORIES, data=st.data())
def test_replay_at_an_instant_equals_the_live_view_then(history: History, data: st.DataObject
                                                        ) -> None:
    split = data.draw(st.integers(0, len(history.ops)), label="split")
    with sqlite_app() as app:
        then, replayed, _now = check_replay(app, history, split)
    assert replayed == then


def test_replay_at_an_instant_equals_the_live_view_then_on_each_backend(
        app: BookOfBusiness) -> None:
    then, replayed, now = check_replay(app, FIXED, split=len(FIXED.ops) // 2)
    assert replayed == then
    assert now != then  # the second phase changed the figures: the replay is not vacuous


# ---- property 4b: two processes taking turns = one fresh build (ADR 0027) ------------------------


def check_taking_turns(app: BookOfBusiness, history: History, turns: list[int]) -> None:
    """After each operation projector `turns[i]` (0 or 1; 2: neither) catches up, each on
    what the other wrote since: the views equal a fresh build. Batches of 2 make a catch-up
    of more than one batch a long one, which copies the balances (ADR 0016, 0026)."""
    with projector(app, batch_size=2, flush_events=2) as one, \
            projector(app, batch_size=2, flush_events=2) as other:
        pair = (one, other)
        one.catch_up_all()
        setup(app, history)
        for op, turn in zip(history.ops, turns, strict=True):
            apply(app, op)
            if turn < 2:
                pair[turn].catch_up_all()
        for read_side in pair:
            read_side.catch_up_all()
        fresh = build_fresh(one, "book", status="fresh")
        fresh_audit = build_fresh(one, "audit", status="fresh")
        for read_side in pair:
            assert dump(read_side, active(read_side, "book")) == dump(one, fresh)
            assert dump(read_side, active(read_side, "audit")) == dump(one, fresh_audit)


@EXAMPLES
@given(history=HISTORIES, data=st.data())
@example(history=FIXED, data=None)
def test_two_processes_taking_turns_equal_a_fresh_build(history: History,
                                                         data: st.DataObject | None) -> None:
    turns = [i % 2 for i in range(len(history.ops))] if data is None else data.draw(
        st.lists(st.integers(0, 2), min_size=len(history.ops), max_size=len(history.ops)),
        label="turns")
    with sqlite_app() as app:
        check_taking_turns(app, history, turns)


def test_two_processes_taking_turns_equal_a_fresh_build_on_each_backend(
        app: BookOfBusiness) -> None:
    check_taking_turns(app, FIXED, [i % 2 for i in range(len(FIXED.ops))])


# ---- property 5: tier boundaries through the projection -----------------------------------------

RULEBOOK = default_rulebook()
BOUNDARIES = {10: "E", 11: "D", 20: "D", 21: "C", 30: "C", 31: "B", 40: "B", 41: "A"}
POOL = 45
FIRST = date(2026, 2, 1)


def expected_tier(count: int) -> str:
    """DOMAIN §6 table, written out: A > 40 ≥ B > 30 ≥ C > 20 ≥ D > 10 ≥ E."""
    if count > 40:
        return "A"
    if count > 30:
        return "B"
    if count > 20:
        return "C"
    if count > 10:
        return "D"
    return "E"


def book_of(app: BookOfBusiness, staff_no: str, customers: int) -> None:
    register(app, staff_no)
    for i in range(customers):
        no = f"{staff_no}C{i:02d}"
        onboard(app, no)
        assign(app, no, staff_no)


def test_tier_boundaries_on_each_backend(app: BookOfBusiness) -> None:
    """One manager, 41 corporate customers: credit granted to one more each day from
    2026-02-02 (1 … 41 credit customers), then closed one a day from 2026-06-02
    (40 … 0). On the day the count is exactly 10/11, 20/21, 30/31, 40/41 the
    projected tier is E/D, D/C, C/B, B/A — going up and coming down."""
    book_of(app, "T1", 41)
    register(app, "T2")  # no customers at all: E with 0
    up = {n: FIRST + timedelta(days=n) for n in range(1, 42)}
    down = {n: date(2026, 6, 1) + timedelta(days=41 - n) for n in range(0, 41)}
    for i in range(41):
        grant(app, f"T1C{i:02d}", up[i + 1])
    for i in range(41):
        close_credit(app, f"T1C{i:02d}", down[40 - i])
    with projector(app) as read_side, book_reader(read_side) as reader:
        for n, tier in BOUNDARIES.items():
            for on in (up[n], down.get(n, up[n])):
                found = manager_tier(reader, "T1", on)
                assert found is not None
                assert (found["credit_customers"], found["tier"]) == (n, tier), on
                assert found["rulebook_version"] == "2024.1"
                assert found["focus"] == RULEBOOK.tier_for(n).focus
        # every day in between agrees with the table too
        for n in range(0, 42):
            on = up.get(n, FIRST)
            found = manager_tier(reader, "T1", on)
            assert found is not None
            assert found["tier"] == expected_tier(n)
        nobody = manager_tier(reader, "T2", date(2026, 4, 1))
        assert nobody is not None
        assert (nobody["tier"], nobody["credit_customers"]) == ("E", 0)
        assert branch_tiers(reader, None, up[41])["distribution"] == {
            "A": 1, "B": 0, "C": 0, "D": 0, "E": 1}


@cache
def _tier_template() -> Path:
    """A SQLite store holding a manager with POOL corporate customers and no credit yet,
    written once and copied per example (writing it costs more than the example)."""
    folder = Path(tempfile.mkdtemp(prefix="rmbook-tiers-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)  # cached for the whole run
    app = BookOfBusiness(Settings(database_url=f"sqlite:///{folder}/rmbook.db", today=TODAY))
    try:
        book_of(app, "T1", POOL)
    finally:
        app.close()
    return folder


@contextmanager
def tier_store() -> Iterator[BookOfBusiness]:
    template = _tier_template()
    with tempfile.TemporaryDirectory(prefix="rmbook-tiers-") as folder:
        for path in template.iterdir():
            shutil.copy(path, Path(folder) / path.name)
        app = BookOfBusiness(Settings(database_url=f"sqlite:///{folder}/rmbook.db", today=TODAY))
        try:
            yield app
        finally:
            app.close()


CREDIT_LINES = st.lists(
    st.tuples(st.integers(0, 20), st.one_of(st.none(), st.integers(1, 40))),
    min_size=8, max_size=POOL)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=CREDIT_LINES)
@example(lines=[(0, None)] * 41)  # 41 at once: A
@example(lines=[(0, None)] * 31 + [(0, 5)] * 10)  # 41, then 31 from day 5: A then B
@example(lines=[(i % 3, None) for i in range(21)] + [(5, 1)] * 10)  # 7,14,21 then 31 … 21
def test_projected_tier_is_the_table_tier_of_the_count_every_day(
        lines: list[tuple[int, int | None]]) -> None:
    """Customer i gets credit on FIRST + g days and (maybe) loses it d days later; on
    every day the projected tier is the table's tier of the count on that day."""
    with tier_store() as app:
        counts: dict[date, int] = {}
        for i, (granted, lasts) in enumerate(lines):
            no = f"T1C{i:02d}"
            start = FIRST + timedelta(days=granted)
            grant(app, no, start)
            counts[start] = counts.get(start, 0) + 1
            if lasts is not None:
                end = start + timedelta(days=lasts)
                close_credit(app, no, end)
                counts[end] = counts.get(end, 0) - 1
        with projector(app) as read_side, book_reader(read_side) as reader:
            running = 0
            for on in sorted(counts):
                running += counts[on]
                found = manager_tier(reader, "T1", on)
                assert found is not None
                assert (found["credit_customers"], found["tier"]) == (running,
                                                                      expected_tier(running))
                yesterday = manager_tier(reader, "T1", on - timedelta(days=1))
                assert yesterday is not None
                assert yesterday["credit_customers"] == running - counts[on]


def test_expected_tier_is_the_rulebook_table() -> None:
    """The hand-written table above is the shipped rulebook's (so the tests check the spec)."""
    history = RulebookHistory.of([RULEBOOK])
    for n in range(0, 60):
        assert history.effective_on(JAN1).tier_for(n).tier == expected_tier(n)
