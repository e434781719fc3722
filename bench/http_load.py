"""HTTP under a bounded concurrent load, from a separate process on loopback.

The bench serves the loaded store with `rmbook serve` (its default processes) and drives it
from a spawned client process: a fixed number of keep-alive connections, each
sending its next request as soon as the previous answer is read (closed loop),
for a fixed time. The same client first asks the trivial endpoint `/v1/health`
— that rate is the baseline — then runs the mix of BENCHMARKS.md: the query
reads (a customer's year of attribution, a manager's tier and book, a
customer's timeline, a branch's tier list) with visit and balance writes.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

from application.settings import Settings
from bench.child import in_child
from bench.queries import latency
from interfaces.http.config import HttpSettings
from projections.audit_apart import cores

CONNECTIONS = 8
WRITE_SHARE = 0.10  # visits and balances, half each
READ_MIX = (("customer_attribution_year", 25), ("manager_tier", 15), ("manager_book", 15),
            ("customer_timeline", 15), ("branch_tier_list", 20))


@dataclass(frozen=True)
class Request:
    kind: str
    method: str
    path: str
    body: bytes | None = None


@dataclass(frozen=True)
class Subjects:
    """Who the requests are about: open customers with their custodian, managers, branches."""

    customers: list[tuple[str, str]]  # (customer_no, custodian staff_no)
    managers: list[str]
    branches: list[str]
    year_start: date
    year_end: date


def plan(subjects: Subjects, today: date, count: int, seed: int = 7) -> list[Request]:
    """A deterministic mix of `count` requests."""
    rng = random.Random(seed)
    kinds = [k for k, _ in READ_MIX]
    weights = [w for _, w in READ_MIX]
    found: list[Request] = []
    for i in range(count):
        no, custodian = subjects.customers[rng.randrange(len(subjects.customers))]
        staff_no = subjects.managers[rng.randrange(len(subjects.managers))]
        if rng.random() < WRITE_SHARE:
            on = today - timedelta(days=rng.randrange(0, 20))
            if i % 2:
                body = {"staff_no": custodian, "on": on.isoformat(), "channel": "phone",
                        "purpose": "routine", "notes": "bench"}
                found.append(Request("visit_write", "POST", f"/v1/customers/{no}/visits",
                                     orjson.dumps(body)))
            else:
                body = {"on": on.isoformat(), "deposit": f"{rng.randrange(1, 10**9)}.00"}
                found.append(Request("balance_write", "POST", f"/v1/customers/{no}/balances",
                                     orjson.dumps(body)))
            continue
        kind = rng.choices(kinds, weights)[0]
        end = subjects.year_end.isoformat()
        path = {
            "customer_attribution_year": f"/v1/customers/{no}/attribution?"
                                         f"from={subjects.year_start}&to={end}",
            "manager_tier": f"/v1/managers/{staff_no}/tier?as_of={end}",
            "manager_book": f"/v1/managers/{staff_no}/book?as_of={end}",
            "customer_timeline": f"/v1/customers/{no}/timeline?limit=100",
            "branch_tier_list": f"/v1/tiers?branch={subjects.branches[i % len(subjects.branches)]}"
                                f"&as_of={end}",
        }[kind]
        found.append(Request(kind, "GET", path))
    return found


# ---- the client (runs in its own process) ------------------------------------------------

async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """The status, the body, and whether the server closes the connection after it."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, chunked, closes = 0, False, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value:
            chunked = True
        elif name == "connection" and "close" in value.lower():
            closes = True
    body = b""
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            body += (await reader.readexactly(size + 2))[:-2]
            if size == 0:
                break
    elif length:
        body = await reader.readexactly(length)
    return status, body, closes


async def _open(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return reader, writer


async def _connection(port: int, token: str, requests: Iterator[Request], until: float,
                      record: list[tuple[str, float, int]], failures: list[str],
                      reconnections: list[int]) -> None:
    """One keep-alive connection's closed loop. Where the server answers `Connection: close`
    (ADR 0025) it reconnects, as HTTP clients do, within the next request's time."""
    reader, writer = await _open(port)
    try:
        while time.perf_counter() < until:
            request = next(requests)
            head = (f"{request.method} {request.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Authorization: Bearer {token}\r\n")
            if request.body is not None:
                head += (f"Content-Type: application/json\r\n"
                         f"Content-Length: {len(request.body)}\r\n")
            began = time.perf_counter()
            if writer.is_closing():  # the server asked to close after its last answer
                reader, writer = await _open(port)
                reconnections.append(1)
            writer.write(head.encode() + b"\r\n" + (request.body or b""))
            status, body, closes = await _read_response(reader)
            record.append((request.kind, time.perf_counter() - began, status))
            if status >= 400 and len(failures) < 20:  # what went wrong, for the report
                failures.append(f"{status} {request.method} {request.path}: {body[:200]!r}")
            if closes:
                writer.close()
    finally:
        writer.close()


async def _drive(port: int, token: str, requests: list[Request], seconds: float, warmup: float
                 ) -> tuple[list[tuple[str, float, int]], float, list[str], int]:
    def cycle() -> Iterator[Request]:
        while True:
            yield from requests

    shared = cycle()
    ignored: list[tuple[str, float, int]] = []
    warm_until = time.perf_counter() + warmup
    failures: list[str] = []
    await asyncio.gather(*(_connection(port, token, shared, warm_until, ignored, failures, [])
                           for _ in range(CONNECTIONS)))
    record: list[tuple[str, float, int]] = []
    reconnections: list[int] = []
    began = time.perf_counter()
    await asyncio.gather(*(_connection(port, token, shared, began + seconds, record, failures,
                                       reconnections) for _ in range(CONNECTIONS)))
    return record, time.perf_counter() - began, failures, len(reconnections)


def _client(port: int, token: str, requests: list[Request], seconds: float, warmup: float,
            results: Any) -> None:  # in its own process
    results.put(asyncio.run(_drive(port, token, requests, seconds, warmup)))


def drive(port: int, token: str, requests: list[Request], seconds: float,
          warmup: float = 2.0) -> dict[str, Any]:
    """Run the load from a spawned process; requests/s, latencies and errors."""
    record, elapsed, failures, reconnections = in_child(
        _client, (port, token, requests, seconds, warmup), "the load client")
    statuses: dict[str, int] = {}
    for _kind, _taken, status in record:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    by_kind: dict[str, list[float]] = {}
    for kind, taken, _status in record:
        by_kind.setdefault(kind, []).append(taken)
    return {
        "requests": len(record), "seconds": round(elapsed, 2),
        "requests_per_s": round(len(record) / elapsed, 1),
        **{k: v for k, v in latency([t for _, t, _ in record]).items() if k != "n"},
        "errors": sum(1 for _, _, status in record if status >= 400),
        "statuses": statuses,
        "failures": failures,
        "reconnections": reconnections,
        "by_kind": {kind: latency(taken) for kind, taken in sorted(by_kind.items())},
        "samples_ms": [round(t * 1000, 3) for _, t, _ in record[:: max(1, len(record) // 2000)]],
    }


# ---- the server ------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def served(database_url: str, today: date, processes: int = 1
           ) -> Iterator[tuple[int, str, int]]:
    """`rmbook serve` on the store with its default settings, each of its `processes` ready
    (`server_processes`); yields (port, admin token, the server's pid)."""
    token = os.urandom(16).hex()
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="rmbook-bench-http-") as folder:
        auth = Path(folder) / "auth.toml"
        auth.write_text(f'[[principal]]\ntoken = "{token}"\nname = "bench"\nrole = "admin"\n'
                        f'branches = ["*"]\n', "utf-8")
        env = {**os.environ, "RMBOOK_DATABASE_URL": database_url,
               "RMBOOK_AUTH_FILE": str(auth), "RMBOOK_TODAY": today.isoformat()}
        log = (Path(folder) / "server.log").open("wb")
        server = subprocess.Popen(
            [sys.executable, "-c", "from interfaces.cli.main import app; app()", "serve",
             "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_ready(port, server)
            if processes > 1:  # each says when it serves (ADR 0023)
                _wait_logged(Path(folder) / "server.log", "processes serving", server)
            yield port, token, server.pid
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()


def _wait_logged(log: Path, line: str, server: subprocess.Popen[bytes],
                 timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while line not in log.read_text("utf-8", errors="replace"):
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"rmbook serve never said {line!r}")
        time.sleep(0.2)


def _wait_ready(port: int, server: subprocess.Popen[bytes], timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"rmbook serve exited ({server.returncode}) before it was ready")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/ready", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError("rmbook serve was not ready in time")


# ---- how the connections are split between the server's processes -------------------------

def _family_tree(root: int, proc: Path) -> set[int]:
    """`root` and every process descended from it, from each process's parent in /proc."""
    parents: dict[int, int] = {}
    for stat in proc.glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after it
            fields = stat.read_text().rpartition(")")[2].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not a process
    tree, grown = {root}, True
    while grown:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grown = bool(more)
    return tree


def _established(port: int, proc: Path) -> dict[int, int]:
    """The connections established to local `port` (IPv4 and IPv6): each one's socket inode
    and the remote end's port."""
    found: dict[int, int] = {}
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # addresses "ADDR:PORT" in hex, state 01 = ESTABLISHED, inode the 10th field
            if len(fields) > 9 and fields[3] == "01" and int(fields[1].rpartition(":")[2], 16) == port:
                found[int(fields[9])] = int(fields[2].rpartition(":")[2], 16)
    return found


def holders(port: int, pids: set[int], proc: Path = Path("/proc")) -> dict[int, int]:
    """Connections established to local `port` held by one of `pids`: the remote end's port
    (the client's) and the pid holding the connection."""
    established = _established(port, proc)
    held: dict[int, int] = {}
    for pid in pids:
        try:
            for fd in (proc / str(pid) / "fd").iterdir():
                with suppress(OSError):
                    link = os.readlink(fd)
                    client = established.get(int(link[8:-1])) \
                        if link.startswith("socket:[") else None
                    if client is not None:
                        held[client] = pid
        except OSError:
            continue  # gone, or not ours to look into
    return held


def connections_held(port: int, pids: set[int], proc: Path = Path("/proc")) -> Counter[int]:
    """Connections established to local `port`, counted by which of `pids` holds them."""
    return Counter(holders(port, pids, proc).values())


def _split(port: int, pids: set[int], proc: Path) -> list[int]:
    return sorted(connections_held(port, pids, proc).values(), reverse=True)


def connections_by_process(port: int, root: int, proc: Path = Path("/proc")) -> list[int] | None:
    """How many connections to `port` each process of `root`'s tree holds, most first (the
    kernel's split of a client's connections between the server's processes, which moves the
    tail: docs/performance.md, HTTP). None where /proc cannot tell (not Linux)."""
    if not (proc / "net" / "tcp").exists():
        return None
    return _split(port, _family_tree(root, proc), proc)


class _Split:
    found: list[int] | None = None


@contextmanager
def watching_split(port: int, root: int, every: float = 0.5,
                   proc: Path = Path("/proc")) -> Iterator[_Split]:
    """The split of the connections to `port` between `root`'s processes, looked at every
    `every` seconds while the block runs. It keeps the last look that saw the most
    connections: the measured phase's, whose connections stay open to its end (the warm-up
    before it opens its own, which the kernel places anew). The processes are found once,
    before the block: they all serve by then, and a look costs the measured server less."""
    split, done = _Split(), threading.Event()
    pids = _family_tree(root, proc) if (proc / "net" / "tcp").exists() else None

    def look() -> None:
        while pids is not None and not done.wait(every):
            seen = _split(port, pids, proc)
            if sum(seen) >= sum(split.found or ()):
                split.found = seen

    looker = threading.Thread(target=look, name="rmbook-bench-split", daemon=True)
    looker.start()
    try:
        yield split
    finally:
        done.set()
        looker.join()


def server_processes(database_url: str) -> int:
    """How many processes `rmbook serve` starts here with its default settings (ADR 0023)."""
    backend = Settings.from_env({"RMBOOK_DATABASE_URL": database_url}).backend
    return HttpSettings.from_env().workers_for(backend, cores())


def measure(database_url: str, subjects: Subjects, today: date,
            seconds: float) -> dict[str, Any]:
    processes = server_processes(database_url)
    with served(database_url, today, processes) as (port, token, pid):
        trivial = drive(port, token, [Request("health", "GET", "/v1/health")], seconds)
        with watching_split(port, pid) as split:
            mix = drive(port, token, plan(subjects, today, 20_000), seconds)
    reads = {k: v for k, v in mix["by_kind"].items() if not k.endswith("_write")}
    return {
        "connections": CONNECTIONS, "seconds_each": seconds,
        "server_processes": processes,
        "connections_by_process": split.found,
        # Connections the server closed to even out its processes' shares (ADR 0025), each
        # reopened within the next request's time.
        "trivial_reconnections": trivial["reconnections"],
        "reconnections": mix["reconnections"],
        "trivial_requests_per_s": trivial["requests_per_s"],
        "trivial_p99_ms": trivial["p99_ms"],
        "mix_requests_per_s": mix["requests_per_s"],
        "ratio_to_trivial": round(mix["requests_per_s"] / trivial["requests_per_s"], 3),
        "p50_ms": mix["p50_ms"], "p99_ms": mix["p99_ms"],
        "errors": mix["errors"] + trivial["errors"],
        "statuses": mix["statuses"], "failures": trivial["failures"] + mix["failures"],
        "by_kind": mix["by_kind"],
        "read_p99_ms": max((v["p99_ms"] for v in reads.values()), default=None),
        "samples_ms": mix["samples_ms"],
    }
