"""`rmbook serve`'s processes (ADR 0023): how many it starts, its warning when they could
open more PostgreSQL connections than the server allows (uvicorn not started: what it was
asked is recorded), and the processes themselves: real servers on a SQLite store."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bench.http_load import connections_held, holders
from interfaces.cli.connection_share import REFRESH_SECONDS
from interfaces.cli.main import app as cli
from interfaces.http.config import MAX_DEFAULT_WORKERS, HttpSettings, HttpSettingsError

PRINCIPALS = '[[principal]]\ntoken = "{token}"\nname = "ops"\nrole = "admin"\nbranches = ["*"]\n'


def test_one_process_on_sqlite_and_one_per_core_up_to_the_cap_on_postgresql() -> None:
    default = HttpSettings.from_env({})
    assert [default.workers_for("sqlite", cores) for cores in (1, 2, 16)] == [1, 1, 1]
    assert [default.workers_for("postgres", cores) for cores in (1, 2, 16)] == \
        [1, min(2, MAX_DEFAULT_WORKERS), MAX_DEFAULT_WORKERS]
    chosen = HttpSettings.from_env({"RMBOOK_HTTP_WORKERS": "3"})
    assert chosen.workers_for("sqlite", 1) == 3 and chosen.workers_for("postgres", 16) == 3
    for refused in ("0", "-1", "many"):
        with pytest.raises(HttpSettingsError):
            HttpSettings.from_env({"RMBOOK_HTTP_WORKERS": refused})


def test_a_process_counts_a_view_connection_per_thread_and_the_store_pool() -> None:
    assert HttpSettings.from_env({}).connections_per_worker(store_pool=15) == 16 + 2 + 1 + 15
    wider = HttpSettings.from_env({"RMBOOK_HTTP_THREADS": "40"})
    assert wider.connections_per_worker(store_pool=15) == 40 + 2 + 1 + 15


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    """One process (`uvicorn.run`) or several (`ServerProcesses.run`) recorded, not started;
    a principals file; four cores."""
    import uvicorn

    import projections.audit_apart
    from interfaces.cli.serve_processes import ServerProcesses

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda **kwargs: calls.append({**kwargs, "workers": 1}))

    def several(self: ServerProcesses) -> int:
        calls.append({**self.options, "workers": len(self.sockets),
                      "spread": self.counts is not None})
        for sock in self.sockets:
            sock.close()
        return 0

    monkeypatch.setattr(ServerProcesses, "run", several)
    monkeypatch.setattr(projections.audit_apart, "cores", lambda: 4)
    auth = tmp_path / "auth.toml"
    auth.write_text(PRINCIPALS.format(token="t" * 32), "utf-8")
    monkeypatch.setenv("RMBOOK_AUTH_FILE", str(auth))
    monkeypatch.delenv("RMBOOK_HTTP_WORKERS", raising=False)
    monkeypatch.delenv("RMBOOK_HTTP_THREADS", raising=False)
    return calls


def test_serve_on_sqlite_starts_one_process_unless_told(
        started: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RMBOOK_DATABASE_URL", f"sqlite:///{tmp_path}/rmbook.db")
    runner = CliRunner()
    assert runner.invoke(cli, ["serve", "--port", "0"]).exit_code == 0
    assert runner.invoke(cli, ["serve", "--port", "0", "--workers", "3"]).exit_code == 0
    monkeypatch.setenv("RMBOOK_HTTP_WORKERS", "2")
    assert runner.invoke(cli, ["serve", "--port", "0"]).exit_code == 0
    assert [call["workers"] for call in started] == [1, 3, 2]
    assert [call.get("spread") for call in started] == [None, True, True]
    monkeypatch.setenv("RMBOOK_HTTP_SPREAD_CONNECTIONS", "0")  # the kernel's split alone
    assert runner.invoke(cli, ["serve", "--port", "0"]).exit_code == 0
    assert started[-1] == {**started[-2], "spread": False}
    refused = runner.invoke(cli, ["serve", "--workers", "0"])
    assert refused.exit_code == 2 and "--workers" in refused.output


@pytest.mark.postgres
def test_serve_on_postgresql_starts_a_process_per_core_and_warns_past_max_connections(
        started: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch,
        postgres_database: Any) -> None:
    if postgres_database is None:
        from tests.conftest import POSTGRES_SKIP_REASON
        pytest.skip(POSTGRES_SKIP_REASON)
    monkeypatch.setenv("RMBOOK_DATABASE_URL", postgres_database.url())
    runner = CliRunner()
    quiet = runner.invoke(cli, ["serve", "--port", "0"])
    assert quiet.exit_code == 0 and "max_connections" not in quiet.output
    assert started[-1]["workers"] == min(4, MAX_DEFAULT_WORKERS)
    # 5 processes of 200 request threads: over 1,000 connections, more than any default.
    monkeypatch.setenv("RMBOOK_HTTP_THREADS", "200")
    crowded = runner.invoke(cli, ["serve", "--port", "0", "--workers", "5"])
    assert crowded.exit_code == 0 and started[-1]["workers"] == 5
    assert "warning: 5 processes may open up to 1090 PostgreSQL connections" in crowded.output
    assert "max_connections" in crowded.output


# ---- the processes themselves: `rmbook serve --workers 2` on a SQLite store -----------------

RMBOOK = Path(sys.executable).with_name("rmbook")
START_SECONDS = 30.0


def _children(pid: int) -> set[int]:
    """The supervisor's server processes (multiprocessing's resource tracker left out)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"spawn_main" in cmdline:
                found.add(int(child))
    return found


def _health(sock: socket.socket) -> bytes:
    sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        answer += chunk
    return answer


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """`rmbook serve --workers 2` on a fresh SQLite store, answering; stopped afterwards."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    auth = tmp_path / "auth.toml"
    auth.write_text(PRINCIPALS.format(token="t" * 32), "utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RMBOOK_")}
    env.update(RMBOOK_DATABASE_URL=f"sqlite:///{tmp_path}/rmbook.db", RMBOOK_AUTH_FILE=str(auth))
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen([str(RMBOOK), "serve", "--port", str(port), "--workers", "2"],
                                  cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        _wait_for(lambda: "all 2 processes serving" in log.read_text(), server, log)
        yield server, port, log
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(5)


def _wait_for(condition: Callable[[], bool], server: subprocess.Popen[bytes],
              log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while not condition():
        assert server.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            return _health(sock).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def _opened(count: int, serving: tuple[subprocess.Popen[bytes], int, Path]
            ) -> tuple[set[int], list[socket.socket]]:
    """The server processes, and `count` connections opened at once, each accepted by one of
    them. They are counted before any request: an answer may ask for a reconnection (ADR
    0025)."""
    server, port, log = serving
    pids = _children(server.pid)
    opened = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)]
    _wait_for(lambda: sum(connections_held(port, pids).values()) == count, server, log)
    return pids, opened


@pytest.mark.integration
def test_connections_opened_at_once_are_spread_over_the_processes(
        serving: tuple[subprocess.Popen[bytes], int, Path]) -> None:
    port = serving[1]
    pids, opened = _opened(32, serving)
    try:
        by_process = connections_held(port, pids)
        # A shared socket gives a burst to whichever process wakes first; one socket each,
        # the kernel spreads them (all 32 on one of two: odds of 1 in 2^31).
        assert set(by_process) == pids, by_process
        assert all(_health(sock).startswith(b"HTTP/1.1 200") for sock in opened)
    finally:
        for sock in opened:
            sock.close()


def _health_asks_to_close(sock: socket.socket) -> bool:
    answer = _health(sock)
    assert answer.startswith(b"HTTP/1.1 200"), answer
    head = answer.partition(b"\r\n\r\n")[0].lower()
    return b"\r\nconnection: close" in head


@pytest.mark.integration
def test_connections_all_on_one_process_are_evened_out_by_reconnecting(
        serving: tuple[subprocess.Popen[bytes], int, Path]) -> None:
    server, port, log = serving
    pids, opened = _opened(24, serving)
    # Keep 8 that the kernel placed on one process, as it did the bench's client's
    # (docs/performance.md, HTTP); the other process is left with none.
    where = holders(port, pids)
    crowded = max(pids, key=lambda pid: sum(1 for held in where.values() if held == pid))
    kept = [sock for sock in opened if where[sock.getsockname()[1]] == crowded][:8]
    for sock in opened:
        if sock not in kept:
            sock.close()
    _wait_for(lambda: connections_held(port, pids) == {crowded: 8}, server, log)
    reconnections = 0
    try:
        # A client's closed loop: each connection asks in turn, and reconnects when told to.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and sorted(
                connections_held(port, pids).values()) != [4, 4]:
            for i, sock in enumerate(kept):
                if _health_asks_to_close(sock):
                    sock.close()
                    kept[i] = socket.create_connection(("127.0.0.1", port), timeout=5)
                    reconnections += 1
        assert sorted(connections_held(port, pids).values()) == [4, 4]
        assert reconnections >= 4  # at least four had to move
        # Even, they stay so: no answer asks for another reconnection, once each process
        # has told its count anew (the last move may not be told yet).
        time.sleep(3 * REFRESH_SECONDS)
        assert not any(_health_asks_to_close(sock) for sock in kept for _ in range(20))
    finally:
        for sock in kept:
            sock.close()


@pytest.mark.integration
def test_a_process_that_dies_is_replaced_and_the_port_keeps_answering(
        serving: tuple[subprocess.Popen[bytes], int, Path]) -> None:
    server, port, log = serving
    before = _children(server.pid)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    _wait_for(lambda: len(_children(server.pid) - before) == 1
              and victim not in _children(server.pid), server, log)
    now = _children(server.pid)
    replacement = (now - before).pop()
    # Every connection gets an answer; some are the replacement's, on the dead one's socket.
    deadline = time.monotonic() + START_SECONDS
    while True:
        # Those queued on the dead one's socket wait for its successor to start.
        opened = [socket.create_connection(("127.0.0.1", port), timeout=START_SECONDS)
                  for _ in range(16)]
        try:
            assert all(_health(sock).startswith(b"HTTP/1.1 200") for sock in opened)
            if connections_held(port, {replacement})[replacement] > 0:
                break
        finally:
            for sock in opened:
                sock.close()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
    assert "another starts on its socket" in log.read_text()
    server.send_signal(signal.SIGTERM)
    assert server.wait(20) == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in now)


@pytest.mark.integration
def test_processes_that_cannot_start_stop_the_server(tmp_path: Path) -> None:
    auth = tmp_path / "auth.toml"
    auth.write_text(PRINCIPALS.format(token="t" * 32), "utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RMBOOK_")}
    # Nothing listens on port 1: each process's store fails to open as it starts.
    env.update(RMBOOK_DATABASE_URL="postgresql://postgres@127.0.0.1:1/rmbook",
               RMBOOK_AUTH_FILE=str(auth))
    done = subprocess.run([str(RMBOOK), "serve", "--port", "0", "--workers", "2"], cwd=tmp_path,
                          env=env, capture_output=True, timeout=120)
    said = done.stdout.decode() + done.stderr.decode()
    assert done.returncode == 3, said  # uvicorn's own code for a server that cannot start
    assert "could not start" in said and "stopping the others" in said


@pytest.mark.integration
def test_sighup_replaces_every_process_while_the_port_keeps_answering(
        serving: tuple[subprocess.Popen[bytes], int, Path]) -> None:
    server, port, log = serving
    before = _children(server.pid)
    server.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 2 * START_SECONDS
    while True:  # asked all along: every answer a 200, whoever gives it
        assert _answers(port), log.read_text()
        now = _children(server.pid)
        if len(now) == 2 and not now & before:
            break
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    assert server.poll() is None and _answers(port)


@pytest.mark.integration
def test_a_connection_accepted_just_before_its_process_stops_is_answered(
        serving: tuple[subprocess.Popen[bytes], int, Path]) -> None:
    """SIGHUP's roll stops each old process while clients connect. uvicorn closes at once
    every connection with no request in progress, so one accepted a moment before the stop
    was closed unanswered; a stopping process now stops accepting and lets it ask first."""
    _, port, log = serving
    pids, (sock,) = _opened(1, serving)
    try:
        holder = holders(port, pids)[sock.getsockname()[1]]
        os.kill(holder, signal.SIGTERM)
        time.sleep(0.3)  # past uvicorn's tick (0.1 s): its shutdown has begun
        answer = _health(sock)
        assert answer.startswith(b"HTTP/1.1 200"), (answer, log.read_text())
    finally:
        sock.close()


def _tell_a_mark(sock: socket.socket, options: dict[str, Any], ready: Any, supervisor: int,
                 counts: Any, me: int) -> None:
    """A stand-in server process: tells the mark `100 + me` where it was given, then waits."""
    counts[me] = 100 + me
    ready.set()
    time.sleep(120)


@pytest.mark.integration
def test_a_successor_tells_at_a_place_of_its_own_and_a_process_gone_at_none() -> None:
    """SIGHUP's successor tells its count beside its predecessor's, not over it; once the
    predecessor is gone its place holds no process (ADR 0025)."""
    from interfaces.cli.connection_share import NO_PROCESS
    from interfaces.cli.serve_processes import ServerProcesses, listening_sockets

    processes = ServerProcesses(listening_sockets("127.0.0.1", 0, 2), {}, target=_tell_a_mark,
                                say=lambda line: None)
    assert processes.counts is not None

    def started() -> None:
        for slot in processes.slots:
            assert slot.ready is not None and slot.ready.wait(START_SECONDS)

    try:
        for slot in processes.slots:
            processes._start(slot)
        started()
        assert list(processes.counts) == [100, 101, NO_PROCESS, NO_PROCESS]
        processes._restart_all()
        started()
        assert list(processes.counts) == [NO_PROCESS, NO_PROCESS, 102, 103]
        processes._restart_all()
        assert list(processes.counts) == [100, 101, NO_PROCESS, NO_PROCESS]
        dead = processes.slots[0].process
        assert dead is not None
        processes.slots[0].started_at -= 3600  # it lived long: replaced at once, no back-off
        dead.kill()
        dead.join(10)
        processes._replace_the_dead()  # found dead, its successor started at the other place
        started()
        assert list(processes.counts) == [NO_PROCESS, 101, 102, NO_PROCESS]
    finally:
        processes._stop_all()


def test_a_port_anything_listens_on_is_refused_even_one_shared_by_reuse_port() -> None:
    from interfaces.cli.serve_processes import listening_sockets

    taken = listening_sockets("127.0.0.1", 0, 2)
    try:
        port = taken[0].getsockname()[1]
        assert {sock.getsockname()[1] for sock in taken} == {port}
        with pytest.raises(OSError, match="in use"):
            listening_sockets("127.0.0.1", port, 2)  # a second `rmbook serve` on the port
    finally:
        for sock in taken:
            sock.close()


def test_cores_heed_a_cpu_quota(tmp_path: Path) -> None:
    from projections.audit_apart import cpu_quota

    cpu_max = tmp_path / "cpu.max"
    for written, quota in (("max 100000\n", None), ("150000 100000\n", 1.5),
                           ("50000 100000\n", 0.5), ("garbage\n", None)):
        cpu_max.write_text(written)
        assert cpu_quota(cpu_max) == quota
    assert cpu_quota(tmp_path / "absent") is None


def test_cores_are_the_affinity_capped_by_the_quota_rounded_up(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import projections.audit_apart as apart

    monkeypatch.setattr(apart.os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3})
    for quota, expected in ((None, 4), (0.5, 1), (1.5, 2), (8.0, 4)):
        monkeypatch.setattr(apart, "cpu_quota", lambda quota=quota: quota)
        assert apart.cores() == expected
