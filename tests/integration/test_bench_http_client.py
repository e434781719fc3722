"""The bench's HTTP client reconnects when a server answers `Connection: close` (ADR 0025),
and counts it, against a small server on loopback that closes every third connection's
answer."""

from __future__ import annotations

import asyncio

from bench import http_load
from bench.http_load import Request

CLOSE_EVERY = 3


async def _serve_and_drive(seconds: float) -> tuple[list[tuple[str, float, int]], int, int]:
    answered = 0
    connections = 0

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal answered, connections
        connections += 1
        try:
            while True:
                try:
                    await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return  # the client closed
                answered += 1
                closes = answered % CLOSE_EVERY == 0
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n"
                             + (b"connection: close\r\n" if closes else b"") + b"\r\n{}")
                await writer.drain()
                if closes:
                    return
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        record, _elapsed, failures, reconnections = await http_load._drive(
            port, "token", [Request("health", "GET", "/v1/health")], seconds, warmup=0.1)
    assert failures == []
    return record, reconnections, connections


def test_the_client_reconnects_when_told_and_counts_each_reconnection() -> None:
    record, reconnections, connections = asyncio.run(_serve_and_drive(0.5))
    assert record and all(status == 200 for _kind, _taken, status in record)
    # Every third answer closed its connection: each was followed by a new one, except
    # where the measured time ran out first (at most one per client connection).
    closed_in_measure = len(record) // CLOSE_EVERY
    assert closed_in_measure - http_load.CONNECTIONS - 1 <= reconnections <= closed_in_measure + 1
    assert reconnections > 0
    # the warm-up's and the measured phase's own connections, and one per reconnection
    # (the warm-up's reconnections are not counted: it is not measured)
    assert connections >= 2 * http_load.CONNECTIONS + reconnections
