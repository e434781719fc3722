"""Read-your-writes: a read given `min_position` waits until it can see that position.

A write answers `X-Event-Position`; a read that passes it back as `min_position`
waits (bounded by `RMBOOK_MIN_POSITION_TIMEOUT`) until every active projection
generation has processed it, else 503 `projection_lagging`. While waiting,
this process catches the projections up itself when the position is in the
store (reads already do: `book_reader` catches up before it reads), so a read
never depends on a worker being quick; a position beyond the store's head is
waited for and then refused. Where `rmbook project` workers own the projections
(PostgreSQL), this process only polls their progress.
"""

from __future__ import annotations

import time

from interfaces.http.errors import ProblemError
from interfaces.http.runtime import Runtime
from projections.runner import NAMES, Projector

_POLL = 0.05


def projections_reached(projector: Projector, position: int) -> bool:
    active = [projector.registry.active(name) for name in NAMES]
    return all(g is not None and g.position >= position for g in active)


def wait_for_projections(runtime: Runtime, position: int) -> None:
    projector, bank = runtime.projector, runtime.bank
    deadline = time.monotonic() + runtime.http.min_position_timeout
    while not projections_reached(projector, position):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _lagging(position)
        if projector.projecting and position <= bank.max_position():
            # The lock is shared with the follower thread and rebuilds: wait for it only
            # as long as the caller is willing to.
            if projector.lock.acquire(timeout=remaining):
                try:
                    projector.catch_up(projector.ensure(), stop=position)
                finally:
                    projector.lock.release()
        else:
            time.sleep(min(_POLL, remaining))


def wait_for_store(runtime: Runtime, position: int) -> None:
    """State reads come from the event store itself: the position only has to exist."""
    deadline = time.monotonic() + runtime.http.min_position_timeout
    while runtime.bank.max_position() < position:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _lagging(position)
        time.sleep(min(_POLL, remaining))


def _lagging(position: int) -> ProblemError:
    return ProblemError("projection_lagging",
                        f"the read side has not reached position {position} yet; retry",
                        headers={"Retry-After": "1"},
                        errors=[{"field": "min_position",
                                 "message": f"position {position} not reached in time"}])
