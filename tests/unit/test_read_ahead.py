"""The read-ahead of a long catch-up: batches in order, bounded, stoppable, errors handed on."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from projections.envelopes import UNDECODED, Batch, Envelope
from projections.read_ahead import ReadAhead


def batch(after: int, size: int, head: int) -> Batch:
    rows = [Envelope(p, "s", 1, "t", UNDECODED, b"", "t")
            for p in range(after + 1, min(after + size, head) + 1)]
    return Batch(rows, rows[-1].position if rows else after)


def test_batches_come_in_order_up_to_the_target_and_no_further() -> None:
    reads: list[int] = []

    def read(after: int) -> Batch:
        reads.append(after)
        return batch(after, 3, head=100)

    with ThreadPoolExecutor(1) as pool:
        ahead = ReadAhead(pool, read, 0, target=10)
        got: list[int] = []
        while not got or got[-1] < 10:
            got += [e.position for e in ahead.next()]
            assert ahead.next_after == got[-1]
        ahead.close()
    assert got == list(range(1, 13))  # the last batch may pass the target; none after it
    assert reads == [0, 3, 6, 9]


def test_reads_at_most_depth_batches_ahead_and_close_stops_it() -> None:
    reads: list[int] = []

    def read(after: int) -> Batch:
        reads.append(after)
        return batch(after, 1, 10**6)

    with ThreadPoolExecutor(1) as pool:
        ahead = ReadAhead(pool, read, 0, target=10**6, depth=2)
        time.sleep(0.2)
        # two queued, one read and waiting for room
        assert len(reads) == 3
        ahead.close()
        done = len(reads)
        time.sleep(0.1)
        assert len(reads) == done


def test_an_error_in_the_read_reaches_the_reader() -> None:
    calls = threading.Event()

    def read(after: int) -> Batch:
        if after > 0:
            calls.set()
            raise RuntimeError("disk gone")
        return batch(after, 2, 10)

    with ThreadPoolExecutor(1) as pool:
        ahead = ReadAhead(pool, read, 0, target=10)
        assert [e.position for e in ahead.next()] == [1, 2]
        with pytest.raises(RuntimeError, match="disk gone"):
            ahead.next()
        ahead.close()
    assert calls.is_set()
