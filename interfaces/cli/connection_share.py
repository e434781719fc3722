"""Each server process's share of the open connections, kept even by asking clients to reconnect
(ADR 0025).

The kernel places each new connection on one of the processes' sockets by a hash of its
addresses (ADR 0023), and keeps it there as long as it stays open. A client holding a few
keep-alive connections can so find most of them on one process, which then answers them at
one core's pace while the other idles: the 8 connections of the bench all on one of two
processes halved the requests answered and lengthened the tail (docs/performance.md, HTTP).

So the processes share, in memory their supervisor made, how many connections each holds,
each at a place of its own (a successor beside its predecessor while both serve). A process
holding more than its even share, rounded up, answers one request with `Connection: close`,
as HTTP/1.1 lets a server do; the client's next connection is placed anew, on any process.
It is done at most once per `CLOSE_GAP_SECONDS` per process, so each close is counted before
the next one is decided, and a process at its share never closes one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, MutableMapping, MutableSequence, Sequence
from typing import Any

CLOSE_GAP_SECONDS = 0.05  # at most one close per process this often: the last one is counted
REFRESH_SECONDS = 0.1  # a process tells its count this often even when it answers nothing

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


NO_PROCESS = -1  # a place in the counts no running process tells (ADR 0025)


def over_share(mine: int, counts: Sequence[int], me: int) -> bool:
    """Whether process `me`, holding `mine` connections, holds more than an even share of all
    of them (`counts`: what each process last told, its own included but not used; a place
    holding `NO_PROCESS` is no process's)."""
    others = [count for i, count in enumerate(counts) if i != me and count != NO_PROCESS]
    share = -(-(mine + sum(others)) // (len(others) + 1))  # rounded up: 7 on 2 leaves 4 and 3
    return mine > share


class ConnectionShare:
    """One process's view of the shared counts: its own, told at every answer and every
    `REFRESH_SECONDS`, and whether its next answer should close its connection."""

    def __init__(self, counts: MutableSequence[int], me: int, held: Callable[[], int],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.counts = counts  # a multiprocessing.Array of ints; a list in tests
        self.me = me
        self.held = held  # how many connections this process holds now
        self.clock = clock
        self._last_close = float("-inf")

    def tell(self) -> int:
        mine = self.held()
        self.counts[self.me] = mine
        return mine

    def should_close(self) -> bool:
        mine = self.tell()
        now = self.clock()
        if now - self._last_close < CLOSE_GAP_SECONDS or not over_share(
                mine, list(self.counts), self.me):
            return False
        self._last_close = now
        return True

    async def keep_telling(self) -> None:
        """Tell the count while the process runs: an idle one's count must fall too."""
        while True:
            self.tell()
            await asyncio.sleep(REFRESH_SECONDS)


def spreading(app: Asgi, share: ConnectionShare) -> Asgi:
    """`app`, adding `Connection: close` to an answer when `share` says this process holds
    more than its share of the connections."""

    async def spread(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and share.should_close():
                message = {**message, "headers": [*message.get("headers", ()),
                                                  (b"connection", b"close")]}
            await send(message)

        await app(scope, receive, sending)

    return spread
