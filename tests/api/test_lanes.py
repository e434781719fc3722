"""Where a route's blocking work runs: reads of the views in their own narrow lane or on
the event loop, short writes in the pool or on the loop; replays at known_at in the pool."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any, cast

import anyio
import pytest
from fastapi.routing import APIRoute

from interfaces.http.access import Access
from interfaces.http.auth import Principal, Role
from interfaces.http.config import HttpSettings, HttpSettingsError
from interfaces.http.lanes import open_lanes, short_write, view_read
from interfaces.http.runtime import Runtime
from projections.waiting import WouldWait


def _access(known_at: datetime | None = None) -> Access:
    """A read's access as the routes get it; only its `known_at` matters to the lanes."""
    auditor = Principal("auditor", Role.AUDITOR, frozenset({"*"}), None, b"")
    return Access(auditor, cast(Runtime, None), known_at)


class Overlap:
    """How many calls ran at once, at most."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0

    def route(self, no: str, access: Access) -> dict[str, Any]:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(0.05)  # a blocking read: long enough for the others to be waiting
        with self.lock:
            self.now -= 1
        return {"no": no, "thread": threading.get_ident()}


def _run_six(lane_width: int, known_at: datetime | None, on_loop: bool = False,
             wrap: Any = view_read) -> tuple[Overlap, list[Any]]:
    overlap = Overlap()
    routed = wrap(overlap.route)
    answers: list[Any] = []

    async def main() -> None:
        open_lanes(lane_width, on_loop)

        async def one(i: int) -> None:
            answers.append(await routed(no=f"C{i}", access=_access(known_at)))

        async with anyio.create_task_group() as group:
            for i in range(6):
                group.start_soon(one, i)

    anyio.run(main)
    return overlap, answers


@pytest.mark.parametrize("width", [1, 2])
def test_reads_of_the_views_run_at_most_lane_width_at_once(width: int) -> None:
    overlap, answers = _run_six(width, known_at=None)
    assert overlap.most == width
    assert sorted(a["no"] for a in answers) == [f"C{i}" for i in range(6)]
    assert all(a["thread"] != threading.get_ident() for a in answers)  # never on the loop


def test_a_replay_at_known_at_runs_in_the_general_pool_not_the_lane() -> None:
    overlap, _ = _run_six(1, known_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert overlap.most > 1


def test_on_the_loop_reads_run_one_at_a_time_on_the_loop_thread() -> None:
    overlap, answers = _run_six(2, known_at=None, on_loop=True)
    assert overlap.most == 1
    assert {a["thread"] for a in answers} == {threading.get_ident()}


def test_on_the_loop_a_replay_at_known_at_still_runs_in_the_pool() -> None:
    overlap, answers = _run_six(1, known_at=datetime(2026, 1, 1, tzinfo=UTC), on_loop=True)
    assert overlap.most > 1
    assert threading.get_ident() not in {a["thread"] for a in answers}


@pytest.mark.parametrize("on_loop", [False, True])
def test_short_writes_run_on_the_loop_or_else_in_the_general_pool(on_loop: bool) -> None:
    overlap, answers = _run_six(1, known_at=None, on_loop=on_loop, wrap=short_write)
    on_loop_thread = {a["thread"] for a in answers} == {threading.get_ident()}
    assert on_loop_thread is on_loop
    assert (overlap.most == 1) is on_loop  # in the pool, not the readers' lane of one


def test_the_wrapped_route_keeps_its_signature_for_fastapi() -> None:
    import inspect

    for wrap in (view_read, short_write):
        routed = wrap(Overlap().route)
        assert inspect.iscoroutinefunction(routed)
        assert list(inspect.signature(routed).parameters) == ["no", "access"]


def test_lane_width_is_read_from_the_environment_and_checked() -> None:
    assert HttpSettings.from_env({"RMBOOK_HTTP_READ_THREADS": "3"}).read_threads == 3
    assert HttpSettings.from_env({}).read_threads == 2
    with pytest.raises(HttpSettingsError):
        HttpSettings.from_env({"RMBOOK_HTTP_READ_THREADS": "0"})


def test_on_the_loop_by_default_on_sqlite_only_and_settable() -> None:
    default = HttpSettings.from_env({})
    assert default.serves_on_loop("sqlite") and not default.serves_on_loop("postgres")
    forced = HttpSettings.from_env({"RMBOOK_HTTP_ON_LOOP": "1"})
    assert forced.serves_on_loop("postgres")
    assert not HttpSettings.from_env({"RMBOOK_HTTP_ON_LOOP": "off"}).serves_on_loop("sqlite")
    with pytest.raises(HttpSettingsError):
        HttpSettings.from_env({"RMBOOK_HTTP_ON_LOOP": "sometimes"})


def test_without_a_lifespan_reads_take_the_lane_of_the_default_width() -> None:
    overlap = Overlap()
    routed = view_read(overlap.route)
    answers: list[Any] = []

    async def main() -> None:  # no open_lanes: an app driven without its lifespan
        async def one(i: int) -> None:
            answers.append(await routed(no=f"C{i}", access=_access()))

        async with anyio.create_task_group() as group:
            for i in range(6):
                group.start_soon(one, i)

    anyio.run(main)
    assert overlap.most == HttpSettings().read_threads == 2
    assert threading.get_ident() not in {a["thread"] for a in answers}  # threads, not the loop


def test_on_the_loop_a_read_that_would_wait_is_run_again_in_the_lane() -> None:
    loop_thread = threading.get_ident()
    calls: list[int] = []

    def route(no: str, access: Access) -> dict[str, Any]:
        calls.append(threading.get_ident())
        if threading.get_ident() == loop_thread:
            raise WouldWait("book")  # the views are behind: catching up would wait
        return {"no": no}

    async def main() -> dict[str, Any]:
        open_lanes(2, on_loop=True)
        return await view_read(route)(no="C1", access=_access())

    assert anyio.run(main) == {"no": "C1"}
    assert calls[0] == loop_thread and calls[1] != loop_thread


@pytest.mark.parametrize(("branch", "on_loop_thread"), [("B01", True), (None, False)])
def test_on_the_loop_a_report_over_every_branch_runs_in_the_lane(
        branch: str | None, on_loop_thread: bool) -> None:
    def report(access: Access, branch: str | None = None) -> int:
        return threading.get_ident()

    async def main() -> int:
        open_lanes(2, on_loop=True)
        return await view_read(every_branch_without="branch")(report)(access=_access(),
                                                                       branch=branch)

    assert (anyio.run(main) == threading.get_ident()) is on_loop_thread


def test_the_routes_that_may_run_long_are_never_on_the_loop() -> None:
    from interfaces.http.routes import (
        audit,
        custody,
        customers,
        feed,
        managers,
        operations,
        reports,
        rulebooks,
    )

    placed = {(route.path, *sorted(route.methods)): hasattr(route.endpoint, "__wrapped__")
              for module in (audit, custody, customers, feed, managers, operations, reports,
                             rulebooks)
              for route in module.router.routes if isinstance(route, APIRoute)}
    long_ones = [("/v1/balances/import", "POST"), ("/v1/projections/rebuild", "POST"),
                 ("/v1/projections/rebuilds/{rebuild_id}", "GET"), ("/v1/ready", "GET"),
                 ("/v1/projections", "GET"), ("/v1/audit/verify", "GET"),
                 ("/v1/rulebooks", "POST")]
    assert not any(placed[key] for key in long_ones)
    short_ones = [("/v1/customers/{no}/balances", "POST"), ("/v1/customers/{no}/visits", "POST"),
                  ("/v1/managers/{staff_no}/tier", "GET"), ("/v1/tiers", "GET"),
                  ("/v1/customers/{no}/timeline", "GET")]
    assert all(placed[key] for key in short_ones)
