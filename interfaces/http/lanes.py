"""Which threads run a request: short reads in a small lane of their own.

Short reads are those of the serving views (reports, timelines) and of a customer's
or manager's current state; each route opts in with `@view_read`.

A blocking route runs in a worker thread. Many worker threads in one process fight
over the GIL, and the fight is expensive: `sqlite3` lets go of the GIL for every row
it steps, and each let-go with another thread waiting is a futex hand-off (strace of
the timeline under load: ~135 futex calls a request, 37 % of the server's CPU in
the kernel). A read of the views is short and bounded, so reads queue for a lane of
a thread or two instead of fanning out over the whole pool (docs/performance.md,
HTTP; RMBOOK_HTTP_READ_THREADS). What may run long or wait on the disk — writes
(an fsync each), replays at `known_at`, imports, rebuilds — stays in the general
pool, so it never holds the readers' lane.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from anyio import CapacityLimiter, to_thread
from anyio.lowlevel import RunVar

from interfaces.http.config import HttpSettings

P = ParamSpec("P")
R = TypeVar("R")

# One lane per event loop (as anyio keeps its own default pool): a limiter belongs to a loop.
_READS: RunVar[CapacityLimiter] = RunVar("rmbook_reads_lane")


def open_lanes(read_threads: int) -> None:
    """Size the readers' lane of the running event loop (the server's lifespan)."""
    _READS.set(CapacityLimiter(read_threads))


def _reads_lane() -> CapacityLimiter:
    try:
        return _READS.get()
    except LookupError:  # an app used without its lifespan (some tests): the default width
        lane = CapacityLimiter(HttpSettings.read_threads)
        _READS.set(lane)
        return lane


def view_read(route: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """Run a blocking read route in the readers' lane; at `known_at` (a replay, seconds
    long) in the general pool instead, so a replay never stalls the lane. The routes name
    that parameter `known_at` (the shared `KnownAt` dependency)."""

    @functools.wraps(route)  # FastAPI reads the route's own signature through __wrapped__
    async def in_lane(*args: P.args, **kwargs: P.kwargs) -> R:
        lane = None if kwargs.get("known_at") is not None else _reads_lane()
        return await to_thread.run_sync(functools.partial(route, *args, **kwargs),
                                        limiter=lane)

    return in_lane
