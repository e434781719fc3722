"""Where a request's blocking work runs: on the event loop, in a narrow lane, or the pool.

Short reads are those of the serving views (reports, timelines) and of a customer's
or manager's current state; each route opts in with `@view_read`. Short writes are
the commands on one customer or manager (a balance, a visit, a grade…); each opts in
with `@short_write`.

Threads cost a Python server more than they give it: the GIL lets one thread run at
a time, and `sqlite3` lets go of it for every row it steps, so every worker thread
beside the event loop turns each row into a futex hand-off (ADR 0014). Hence:

- **On the loop** (`RMBOOK_HTTP_ON_LOOP`, default on SQLite): short reads and short
  writes run on the event loop itself, one at a time, with no hand-off at all. An
  embedded store answers in microseconds without a network between (ADR 0017). A
  read that finds the views behind the store (they would be caught up first, behind
  the projector's lock) and a report over every branch go to the lane instead.
- **Otherwise** (default on PostgreSQL, whose round trips would hold the loop):
  short reads queue for a lane of `RMBOOK_HTTP_READ_THREADS` threads, short writes
  run in the general pool.

What may run long — replays at `known_at`, imports, rebuilds, waits for
`min_position` — always runs in the general pool, so it never holds the loop or
the readers' lane.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar, overload

from anyio import CapacityLimiter, to_thread
from anyio.lowlevel import RunVar

from interfaces.http.access import Access
from interfaces.http.config import HttpSettings
from projections.waiting import WouldWait, without_waiting

P = ParamSpec("P")
R = TypeVar("R")

# Per event loop (as anyio keeps its own default pool): a limiter belongs to a loop.
_READS: RunVar[CapacityLimiter] = RunVar("rmbook_reads_lane")
_ON_LOOP: RunVar[bool] = RunVar("rmbook_on_loop")


def open_lanes(read_threads: int, on_loop: bool = False) -> None:
    """Set up the running event loop (the server's lifespan): the readers' lane's width,
    and whether short reads and writes run on the loop itself."""
    _READS.set(CapacityLimiter(read_threads))
    _ON_LOOP.set(on_loop)


def _reads_lane() -> CapacityLimiter:
    try:
        return _READS.get()
    except LookupError:  # an app used without its lifespan (some tests): the default width
        lane = CapacityLimiter(HttpSettings.read_threads)
        _READS.set(lane)
        return lane


def _on_loop() -> bool:
    return _ON_LOOP.get(False)  # without a lifespan: threads, the conservative default


@overload
def view_read(route: Callable[P, R]) -> Callable[P, Awaitable[R]]: ...


@overload
def view_read(*, every_branch_without: str
              ) -> Callable[[Callable[P, R]], Callable[P, Awaitable[R]]]: ...


def view_read(route: Callable[P, R] | None = None, *, every_branch_without: str | None = None
              ) -> Any:
    """Run a blocking read route on the loop or in the readers' lane; at `known_at` (a
    replay, seconds long) in the general pool instead, so a replay never stalls either.
    The routes take their `Access` (access.py) as the parameter `access`.

    `@view_read(every_branch_without="branch")`: a report that reads the whole bank when
    that parameter is omitted — seconds, not microseconds — so then never on the loop."""

    def wrap(route: Callable[P, R]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(route)  # FastAPI reads the route's own signature via __wrapped__
        async def in_lane(*args: P.args, **kwargs: P.kwargs) -> R:
            access = kwargs["access"]
            assert isinstance(access, Access), "a @view_read route takes `access: Access`"
            if access.known_at is not None:
                return await _in_thread(route, args, kwargs)
            whole_bank = every_branch_without is not None and \
                kwargs.get(every_branch_without) is None
            if _on_loop() and not whole_bank:
                try:
                    with without_waiting():
                        return route(*args, **kwargs)
                except WouldWait:
                    pass  # the views are behind: they are caught up in the lane, off the loop
            return await _in_thread(route, args, kwargs, _reads_lane())

        return in_lane

    return wrap if route is None else wrap(route)


def short_write(route: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """Run a command on one customer or manager on the loop, or else in the general pool.
    (Wrapping it as a coroutine also spares the pool hop FastAPI would add to validate
    a plain `def` route's response.)"""

    @functools.wraps(route)
    async def written(*args: P.args, **kwargs: P.kwargs) -> R:
        if _on_loop():
            return route(*args, **kwargs)
        return await _in_thread(route, args, kwargs)

    return written


async def _in_thread(route: Callable[..., R], args: tuple[Any, ...], kwargs: dict[str, Any],
                     lane: CapacityLimiter | None = None) -> R:
    """The route run in a worker thread: of `lane`, or of the general pool."""
    return await to_thread.run_sync(functools.partial(route, *args, **kwargs), limiter=lane)
