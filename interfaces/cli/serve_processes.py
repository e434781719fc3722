"""Several server processes on one port, each accepting on a socket of its own (ADR 0023).

uvicorn's own `--workers` hands every process one shared listening socket. An event loop
accepts every connection that is waiting whenever the socket becomes readable, so the
first process to wake takes a whole burst: a client that opens 8 keep-alive connections
at once finds all 8 on one process, and the others idle (seen with `ss`, docs/performance.md).

Here each process gets a listening socket of its own, all bound to the same port with
`SO_REUSEPORT`: the kernel spreads new connections across them by their addresses, one
connection at a time, whatever each process is doing. This process keeps every socket
open and a server process on each:
- one that dies is replaced on the same socket, so the connections waiting there are
  answered by its successor; one that keeps dying early is restarted ever more slowly;
- if the first processes cannot start (the database unreachable, a bad principals file),
  all stop: every successor would fail the same way;
- SIGHUP replaces them one at a time, each successor serving before its predecessor
  stops; SIGINT and SIGTERM stop them all, each finishing what it is answering;
- a server process whose supervisor dies stops too (Linux), so none is left unwatched;
- a process holding more than its share of the open connections asks a client to
  reconnect, and the kernel places the new connection anew (ADR 0025).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import wait as wait_for_any
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from typing import Any

from interfaces.cli.connection_share import NO_PROCESS, ConnectionShare, spreading

STARTUP_FAILURE = 3  # uvicorn's exit code when a server cannot start (uvicorn.config)
GRACEFUL_SECONDS = 20  # a stopping process finishes its requests for this long (uvicorn)…
STOP_SECONDS = 30.0  # …and is killed if it is still there after this
# A stopping process stops accepting, then waits this long before uvicorn closes every
# connection with no request in progress: one accepted a moment before the stop (SIGHUP's
# roll stops processes while clients connect) gets to ask its first request, and is answered.
FIRST_REQUEST_SECONDS = 1.0
READY_SECONDS = 120.0  # a successor on SIGHUP gets this long to serve, else the old one stays
EARLY_DEATH_SECONDS = 10.0  # a process that dies sooner than this was not well
MAX_BACKOFF_SECONDS = 30.0
_WATCH_SECONDS = 0.5


def listening_sockets(host: str, port: int, count: int, backlog: int = 2048) -> list[socket.socket]:
    """`count` listening sockets on one address (`SO_REUSEPORT`). OSError when anything
    already listens there — another `rmbook serve` too — before any server process starts.
    A host name binds the first address it resolves to (one uvicorn process binds all)."""
    family, _, _, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    # The probe sets no SO_REUSEPORT: it is refused by any listener on the address, even
    # one whose sockets share it (a second `rmbook serve` would otherwise take a share).
    with _socket(family) as probe:
        probe.bind(address)
        address = (address[0], probe.getsockname()[1], *address[2:])  # port 0: now chosen
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = _socket(family)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(address)
            sock.listen(backlog)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _socket(family: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: TIME_WAIT is fine
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # as asyncio does
    return sock


def address_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve_one(sock: socket.socket, options: dict[str, Any], ready: Event,
              supervisor: int, counts: Any = None, me: int = 0) -> None:
    """A server process: uvicorn on the socket it was given; `ready` once it serves. With
    `counts` (the processes' shared connection counts) it keeps its share of the
    connections even, telling its own count at index `me` (ADR 0025)."""
    import uvicorn

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            for listening in self.servers:
                listening.close()  # no new connections: the other processes take them
            await asyncio.sleep(FIRST_REQUEST_SECONDS)
            await super().shutdown(sockets)

    _stop_with(supervisor)
    config = uvicorn.Config(**options, workers=1, timeout_graceful_shutdown=GRACEFUL_SECONDS)
    server = Server(config)
    share = None
    if counts is not None:
        config.load()  # the app, so that it can be wrapped; serve() then loads nothing
        share = ConnectionShare(counts, me, lambda: len(server.server_state.connections))
        share.tell()  # none yet: a dead predecessor's count is not this process's
        config.loaded_app = spreading(config.loaded_app, share)

    async def serve() -> None:
        async def tell_when_ready() -> None:
            while not server.started:
                await asyncio.sleep(0.05)
            ready.set()

        telling = [asyncio.ensure_future(tell_when_ready())]
        if share is not None:
            telling.append(asyncio.ensure_future(share.keep_telling()))
        try:
            await server.serve(sockets=[sock])
        finally:
            for task in telling:
                task.cancel()

    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(serve())
    if not server.started:
        sys.exit(STARTUP_FAILURE)  # as uvicorn's own run: it never served


def _stop_with(supervisor: int) -> None:
    """Linux: SIGTERM this process when its supervisor dies; at once if it already has."""
    if sys.platform == "linux":
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != supervisor:
        sys.exit(0)


@dataclass
class _Slot:
    """A socket and the process serving it."""

    sock: socket.socket
    index: int  # its place in the sockets
    process: BaseProcess | None = None
    told_at: int = NO_PROCESS  # where its process tells its count of connections (ADR 0025)
    started_at: float = 0.0
    early_deaths: int = 0
    restart_at: float = 0.0
    ready: Event | None = field(default=None, repr=False)


class ServerProcesses:
    """Start a server process per socket and keep one there until told to stop."""

    def __init__(self, sockets: list[socket.socket], options: dict[str, Any],
                 target: Callable[..., None] = serve_one,
                 say: Callable[[str], None] | None = None, spread: bool = True) -> None:
        self.slots = [_Slot(sock, index) for index, sock in enumerate(sockets)]
        self.options = options
        self.target = target
        self.say = say or (lambda line: print(f"rmbook serve: {line}", file=sys.stderr,
                                              flush=True))
        self._context = multiprocessing.get_context("spawn")  # no forked database connections
        # How many connections each process holds, told by the processes themselves (ADR
        # 0025). Two places a slot: a successor tells at the one its predecessor does not,
        # while both serve. None: the kernel's split stays.
        self.counts = self._context.Array("i", [NO_PROCESS] * 2 * len(sockets),
                                          lock=False) if spread else None
        self._signals: list[int] = []  # set by the handlers; acted on by the loop

    @property
    def sockets(self) -> list[socket.socket]:
        return [slot.sock for slot in self.slots]

    def run(self) -> int:
        """Serve until SIGINT or SIGTERM (0), or until the first processes cannot start
        (uvicorn's exit code 3)."""
        handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in handled}
        try:
            for slot in self.slots:
                self._start(slot)
            self.say(f"serving on {address_of(self.slots[0].sock)} with {len(self.slots)} "
                     f"processes, each on a socket of its own (pids "
                     f"{', '.join(str(slot.process.pid) for slot in self.slots if slot.process)})")
            if not self._first_ones_started():
                return STARTUP_FAILURE
            self.say(f"all {len(self.slots)} processes serving")
            while True:
                self._wait()
                if any(sig in (signal.SIGINT, signal.SIGTERM) for sig in self._signals):
                    return 0
                if signal.SIGHUP in self._signals:
                    self._signals.clear()
                    self._restart_all()
                self._replace_the_dead()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self._signals.append(signum)

    def _start(self, slot: _Slot) -> BaseProcess:
        ready = self._context.Event()
        # The slot's other place: its predecessor may still be telling at the current one.
        told_at = slot.index + len(self.slots) if slot.told_at == slot.index else slot.index
        process = self._context.Process(target=self.target, name="rmbook-serve",
                                        args=(slot.sock, self.options, ready, os.getpid(),
                                              self.counts, told_at))
        process.start()
        slot.process, slot.ready, slot.started_at = process, ready, time.monotonic()
        slot.told_at = told_at
        return process

    def _no_longer_told(self, told_at: int) -> None:
        """A process has ended: its count no longer stands for connections (ADR 0025)."""
        if self.counts is not None and told_at != NO_PROCESS:
            self.counts[told_at] = NO_PROCESS

    def _wait(self) -> None:
        """Until a process ends or a moment passes (a signal is seen within that moment)."""
        sentinels = [slot.process.sentinel for slot in self.slots
                     if slot.process is not None and slot.process.is_alive()]
        if sentinels:
            wait_for_any(sentinels, timeout=_WATCH_SECONDS)
        else:
            time.sleep(_WATCH_SECONDS)

    def _first_ones_started(self) -> bool:
        """Wait for the first processes to serve; False if one of them could not."""
        while True:
            if any(sig in (signal.SIGINT, signal.SIGTERM) for sig in self._signals):
                return True  # the loop will stop them
            failed = [slot for slot in self.slots if slot.process is not None
                      and not slot.process.is_alive() and slot.ready is not None
                      and not slot.ready.is_set()]
            if failed:
                dead = failed[0].process
                self.say(f"server process {dead.pid if dead else '?'} could not start (see "
                         "above); stopping the others")
                return False
            if all(slot.ready is not None and slot.ready.is_set() for slot in self.slots):
                return True
            self._wait()

    def _replace_the_dead(self) -> None:
        now = time.monotonic()
        for slot in self.slots:
            process = slot.process
            if process is not None and process.is_alive():
                if now - slot.started_at >= EARLY_DEATH_SECONDS:
                    slot.early_deaths = 0  # it lived: the next death starts afresh
                continue
            if process is not None:  # just found dead: decide when its successor starts
                slot.process = None
                self._no_longer_told(slot.told_at)
                early = now - slot.started_at < EARLY_DEATH_SECONDS
                slot.early_deaths = slot.early_deaths + 1 if early else 0
                delay = min(MAX_BACKOFF_SECONDS, 2.0 ** slot.early_deaths) if early else 0.0
                slot.restart_at = now + delay
                self.say(f"server process {process.pid} ended (exit code {process.exitcode}); "
                         f"another starts on its socket"
                         + (f" in {delay:.0f} s" if delay else ""))
            if now >= slot.restart_at:
                self._start(slot)

    def _restart_all(self) -> None:
        """SIGHUP: a successor beside each process in turn; the old one stops once the new
        one serves (both accept on the socket meanwhile), or stays if it never does."""
        self.say("SIGHUP: replacing the server processes one at a time")
        for slot in self.slots:
            old, old_started, old_told_at = slot.process, slot.started_at, slot.told_at
            new = self._start(slot)
            deadline = time.monotonic() + READY_SECONDS
            while not (slot.ready is not None and slot.ready.is_set()):
                if not new.is_alive() or time.monotonic() > deadline or any(
                        sig in (signal.SIGINT, signal.SIGTERM) for sig in self._signals):
                    self.say(f"the successor of {old.pid if old else '-'} did not serve; "
                             "keeping it")
                    if new.is_alive():
                        new.terminate()
                    new.join(STOP_SECONDS)
                    self._no_longer_told(slot.told_at)
                    slot.process, slot.started_at, slot.told_at = old, old_started, old_told_at
                    return
                wait_for_any([new.sentinel], timeout=0.1)
            if old is not None and old.is_alive():
                old.terminate()
                old.join(STOP_SECONDS)
            self._no_longer_told(old_told_at)

    def _stop_all(self) -> None:
        processes = [slot.process for slot in self.slots if slot.process is not None]
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes what it is answering
        deadline = time.monotonic() + STOP_SECONDS
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        for slot in self.slots:
            slot.sock.close()
