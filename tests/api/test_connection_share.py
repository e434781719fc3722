"""A server process over its share of the open connections asks a client to reconnect
(ADR 0025): the rule, its pace, and the answer's header."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from interfaces.cli.connection_share import (
    CLOSE_GAP_SECONDS,
    NO_PROCESS,
    ConnectionShare,
    Message,
    Receive,
    Scope,
    Send,
    over_share,
    spreading,
)


def test_eight_on_one_of_two_processes_is_over_its_share_and_four_each_is_not() -> None:
    assert over_share(8, [8, 0], me=0)
    assert not over_share(0, [8, 0], me=1)
    assert over_share(5, [5, 3], me=0)
    assert not over_share(4, [4, 4], me=0)
    assert not over_share(4, [4, 3], me=0)  # 7 on two: 4 is the share, rounded up
    assert over_share(3, [3, 0, 0], me=0)
    assert not over_share(1, [1, 1, 0], me=0)


def test_a_place_no_process_tells_is_not_a_process() -> None:
    assert not over_share(4, [4, NO_PROCESS, 4, NO_PROCESS], me=0)
    assert over_share(5, [5, NO_PROCESS, 3, NO_PROCESS], me=0)
    # SIGHUP: slot 0's successor (place 2) beside its predecessor (place 0): three processes
    assert over_share(4, [4, 2, 2, NO_PROCESS], me=0)
    assert not over_share(3, [4, 3, 1, NO_PROCESS], me=1)


def test_a_process_counts_itself_as_it_is_now_not_as_it_last_told() -> None:
    assert not over_share(4, [8, 4], me=0)  # it told 8, and has closed 4 since
    assert over_share(6, [0, 2], me=0)


counts_of_processes = st.lists(st.integers(0, 64), min_size=1, max_size=8)


@given(st.integers(0, 64), st.lists(st.integers(0, 1), min_size=1, max_size=8))
def test_no_process_of_an_even_split_is_over_its_share(least: int, above: list[int]) -> None:
    even = [least + one for one in above]  # each within one connection of the others
    assert not any(over_share(mine, even, me) for me, mine in enumerate(even))


@given(counts_of_processes)
def test_a_process_over_its_share_is_above_the_average_and_one_a_whole_connection_above_is_over(
        counts: list[int]) -> None:
    total, n = sum(counts), len(counts)
    for me, mine in enumerate(counts):
        over = over_share(mine, counts, me)
        if over:
            assert mine * n > total  # above the average…
        if mine * n >= total + n:
            assert over  # …and a whole connection above it is always over
    # the process holding most is over whenever any is: closing there is never wasted
    if any(over_share(mine, counts, me) for me, mine in enumerate(counts)):
        top = counts.index(max(counts))
        assert over_share(counts[top], counts, top)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_process_closes_at_most_one_connection_per_gap_and_tells_its_count() -> None:
    counts, held, clock = [0, 0], [8], Clock()
    share = ConnectionShare(counts, 0, lambda: held[0], clock)
    closes = [share.should_close()]
    assert closes[-1] and counts == [8, 0]
    held[0] = 7  # the closed one is gone
    closes.append(share.should_close())
    assert not closes[-1]  # within the gap
    clock.now += CLOSE_GAP_SECONDS + 0.001
    closes.append(share.should_close())
    assert closes[-1] and counts == [7, 0]
    held[0] = 4
    clock.now += CLOSE_GAP_SECONDS + 0.001
    counts[1] = 4
    closes.append(share.should_close())
    assert not closes[-1] and counts == [4, 4]
    assert closes.count(True) == 2


def _answer_and_headers(share: ConnectionShare) -> list[tuple[bytes, bytes]]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b"{}"})

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    asyncio.run(spreading(app, share)({"type": "http"}, receive, send))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    headers: list[tuple[bytes, bytes]] = sent[0]["headers"]
    return headers


def test_the_answer_of_a_process_over_its_share_says_connection_close() -> None:
    over = ConnectionShare([0, 0], 0, lambda: 8, Clock())
    assert (b"connection", b"close") in _answer_and_headers(over)
    assert (b"content-type", b"application/json") in _answer_and_headers(over)
    even = ConnectionShare([0, 4], 0, lambda: 4, Clock())
    assert _answer_and_headers(even) == [(b"content-type", b"application/json")]


def test_lifespan_and_other_scopes_pass_through_untouched() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(dict(scope))

    async def nothing(*_: Any) -> Any:
        return None

    asked: list[int] = []
    share = ConnectionShare([0, 0], 0, lambda: asked.append(1) or 8, Clock())
    asyncio.run(spreading(app, share)({"type": "lifespan"}, nothing, nothing))
    assert seen == [{"type": "lifespan"}] and asked == []


@given(counts_of_processes)
def test_closing_where_a_process_is_over_its_share_settles_with_none_over(
        counts: list[int]) -> None:
    """Each close moves a connection from a process over its share to whichever process the
    kernel picks; here the least loaded, the kernel's best case, so the moves end."""
    counts = list(counts)
    total = sum(counts)
    for _ in range(total * len(counts) + 1):
        over = [me for me, mine in enumerate(counts) if over_share(mine, counts, me)]
        if not over:
            break
        counts[over[0]] -= 1
        counts[counts.index(min(counts))] += 1
    # it settled within the bound: no process is left over its share
    assert not any(over_share(mine, counts, me) for me, mine in enumerate(counts))
