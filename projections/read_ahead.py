"""Reading a long catch-up's next batches while the current ones are applied and written.

The reads run in the projector's read-ahead thread, on its own connection, up to
`depth` batches ahead. Most of a write is the database's work with the GIL let
go (the balances copy, ADR 0016; the commit); one batch of read-ahead was read
in a fraction of it and the thread then sat idle. With several, the reading
and decoding of what follows fills that time (ADR 0013).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from contextlib import suppress

from projections.envelopes import Batch

Read = Callable[[int], Batch]  # the batch after a position
DEPTH = 8  # batches read ahead at most (a batch of balances read undecoded: ~5 MB)


class ReadAhead:
    """The batches after `after` up to `target`, in order, read ahead in `executor`."""

    def __init__(self, executor: Executor, read: Read, after: int, target: int,
                 depth: int = DEPTH) -> None:
        self.next_after = after  # where the next batch handed out starts
        self._batches: queue.Queue[Batch | BaseException] = queue.Queue(depth)
        self._stop = threading.Event()
        self._future = executor.submit(self._run, read, after, target)

    def _run(self, read: Read, after: int, target: int) -> None:
        while not self._stop.is_set():
            try:
                rows = read(after)
            except BaseException as e:  # handed to the reader of the batch
                self._put(e)
                return
            self._put(rows)
            if rows.covers <= after or rows.covers >= target:
                return
            after = rows.covers

    def _put(self, item: Batch | BaseException) -> None:
        while not self._stop.is_set():
            with suppress(queue.Full):
                self._batches.put(item, timeout=0.05)
                return

    def next(self) -> Batch:
        """The next batch (waiting for it if it is not read yet)."""
        item = self._batches.get()
        if isinstance(item, BaseException):
            raise item
        self.next_after = max(self.next_after, item.covers)
        return item

    def close(self) -> None:
        """Stop reading; batches read and not handed out are dropped."""
        self._stop.set()
        with suppress(Exception):
            self._future.result()
        while not self._batches.empty():
            self._batches.get_nowait()
