"""The bench reads how a client's connections are split between the server's processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.http_load import connections_by_process, holders, watching_split

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(),
                                reason="reads Linux's /proc")


def _accepted(count: int) -> tuple[socket.socket, list[socket.socket], list[socket.socket]]:
    """A listener on a free port, `count` clients connected to it and their accepted ends."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
    return listener, clients, [listener.accept()[0] for _ in range(count)]


def test_each_process_of_the_server_counts_the_connections_it_holds() -> None:
    listener, clients, ends = _accepted(3)
    port = listener.getsockname()[1]
    # A child of this process takes two of the accepted ends, as a server's worker would.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                             pass_fds=[ends[0].fileno(), ends[1].fileno()])
    try:
        ends[0].close()
        ends[1].close()
        assert connections_by_process(port, root=child.pid) == [2]  # the child's tree alone
        # Most first; this process holds the three clients' ends too, whose local port is
        # not `port`: only its one accepted end counts.
        assert connections_by_process(port, root=os.getpid()) == [2, 1]
        # and which client each holds, by the client's port
        ports = [client.getsockname()[1] for client in clients]
        assert holders(port, {child.pid, os.getpid()}) == {
            ports[0]: child.pid, ports[1]: child.pid, ports[2]: os.getpid()}
    finally:
        child.kill()
        child.wait()
        for s in (listener, *clients, *ends):
            s.close()


def test_the_watch_keeps_the_look_that_saw_the_most_connections() -> None:
    listener, clients, ends = _accepted(2)
    port = listener.getsockname()[1]
    try:
        with watching_split(port, os.getpid(), every=0.05) as split:
            time.sleep(0.3)
            clients[1].close()  # one closes before the end: a late look sees one
            ends[1].close()
            time.sleep(0.3)
        assert split.found == [2]
    finally:
        for s in (listener, clients[0], ends[0]):
            s.close()
