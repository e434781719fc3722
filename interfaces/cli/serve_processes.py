"""Several server processes on one port, each accepting on a socket of its own (ADR 0023).

uvicorn's own `--workers` hands every process one shared listening socket. An event loop
accepts every connection that is waiting whenever the socket becomes readable, so the
first process to wake takes a whole burst: a client that opens 8 keep-alive connections
at once finds all 8 on one process, and the others idle (seen with `ss`, docs/performance.md).

Here each process gets a listening socket of its own, all bound to the same port with
`SO_REUSEPORT`: the kernel spreads new connections across them by their addresses, one
connection at a time, whatever each process is doing. This process keeps every socket
open and a server process on each. One that dies is replaced on the same socket, so the
connections waiting there are answered by its successor. One that fails to start (the
database unreachable, a bad principals file) stops them all: every successor would fail
the same way.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import sys
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import Any

STARTUP_FAILURE = 3  # uvicorn's exit code when a server cannot start (uvicorn.config)
STOP_SECONDS = 30.0  # a stopping process finishes its requests, then is killed
_WATCH_SECONDS = 0.5


def listening_sockets(host: str, port: int, count: int, backlog: int = 2048) -> list[socket.socket]:
    """`count` listening sockets on one address (`SO_REUSEPORT`). OSError when the address
    is taken by something else, before any server process starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]  # port 0: the one the first socket was given
            sock.listen(backlog)
            sock.set_inheritable(True)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def serve_one(sock: socket.socket, options: dict[str, Any]) -> None:
    """A server process: uvicorn on the socket it was given (the target of each process)."""
    import uvicorn

    uvicorn.Server(uvicorn.Config(**options, workers=1)).run(sockets=[sock])


class ServerProcesses:
    """Start a server process per socket, replace one that dies, stop them all on a signal."""

    def __init__(self, sockets: list[socket.socket], options: dict[str, Any],
                 target: Callable[[socket.socket, dict[str, Any]], None] = serve_one,
                 say: Callable[[str], None] | None = None) -> None:
        self.sockets = sockets
        self.options = options
        self.target = target
        self.say = say or (lambda line: print(f"rmbook serve: {line}", file=sys.stderr,
                                              flush=True))
        self.stopping = False  # set by the signal handler: a plain flag, no lock to hold
        self._context = multiprocessing.get_context("spawn")  # no forked database connections
        self.processes: list[BaseProcess] = []

    def run(self) -> int:
        """Serve until SIGINT or SIGTERM (0), or until a process fails to start (1)."""
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.processes = [self._start(sock) for sock in self.sockets]
            self.say(f"{len(self.processes)} server processes, each on a socket of its own "
                     f"(pids {', '.join(str(p.pid) for p in self.processes)})")
            while not self.stopping:
                time.sleep(_WATCH_SECONDS)  # a signal cuts it short
                if not self.stopping and self._replace_the_dead():
                    return 1
            return 0
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _start(self, sock: socket.socket) -> BaseProcess:
        process = self._context.Process(target=self.target, args=(sock, self.options),
                                        name="rmbook-serve")
        process.start()
        return process

    def _replace_the_dead(self) -> bool:
        """True when a process could not start (then nothing is replaced)."""
        for index, process in enumerate(self.processes):
            if process.is_alive():
                continue
            if process.exitcode == STARTUP_FAILURE:
                self.say(f"server process {process.pid} could not start (see above); "
                         "stopping the others")
                return True
            self.say(f"server process {process.pid} ended (exit code {process.exitcode}); "
                     "starting another on its socket")
            self.processes[index] = self._start(self.sockets[index])
        return False

    def _stop(self, signum: int, _frame: Any) -> None:
        self.stopping = True

    def _stop_all(self) -> None:
        for process in self.processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes what it is answering
        deadline = time.monotonic() + STOP_SECONDS
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        for sock in self.sockets:
            sock.close()
