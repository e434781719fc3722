"""Reads that must not wait: the HTTP event loop's (ADR 0017).

A read on the loop is served while every other request waits for it. It may still
catch the views up when that is short — a few events behind, the projector's lock free
within moments, SQLite's write lock free — because that is the common case right after
a write, and a thread would cost more. Anything longer raises WouldWait, and the read
is run again in a thread, where waiting holds no one else up.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

SHORT_LAG_EVENTS = 500  # a catch-up this short takes milliseconds
LOCK_WAIT_SECONDS = 0.05  # for the projector's lock, held by the follower a moment
BUSY_WAIT_MS = 50  # for SQLite's write lock


class WouldWait(Exception):
    """The read would have to wait for a long catch-up or a lock; its caller must not."""


_MUST_NOT_WAIT: ContextVar[bool] = ContextVar("rmbook_must_not_wait", default=False)


def must_not_wait() -> bool:
    return _MUST_NOT_WAIT.get()


@contextmanager
def without_waiting() -> Iterator[None]:
    """Reads inside raise WouldWait where they would wait for long."""
    token = _MUST_NOT_WAIT.set(True)
    try:
        yield
    finally:
        _MUST_NOT_WAIT.reset(token)
