"""The audit's new generation built in a process of its own, beside the book (ADR 0018).

A full rebuild builds the book and the audit from position zero. They share
nothing but the events: the book folds the rules and has the database copy the
balances, the audit hashes every stored row. In one process they take turns on
one core (the GIL). With two cores or more and a long rebuild, a spawned process
reads the events itself and builds the audit's generation while this one builds
the book; the rebuild then goes on as before (catch up, diff, switch).

The child writes only its own generation's tables and tracked position, in the
same transactions a catch-up in this process would, so a crash of either leaves
a generation that is simply not switched in. The child is a daemon and stops at its
next batch once this process is gone (killed, not only failed), so it never builds on
for nobody. Its failure is raised here as soon as it is seen, with its traceback;
nothing is switched.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import queue
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from application import gc_tuning
from application.settings import Settings

# Below this many events the child's start (a fresh interpreter importing rmbook, about
# half a second) costs more than the turns on the GIL it saves.
APART_EVENTS = 500_000
# What of the child's traceback is sent: well under a pipe's buffer, so the child's
# send never waits for a reader.
_TRACEBACK_CHARS = 8_000


class AuditBuildFailed(RuntimeError):
    """The audit's process stopped before its generation reached the rebuild's target."""


def worth_apart(settings: Settings, events: int) -> bool:
    """Whether a rebuild of `events` should build the audit in a process of its own:
    long enough, a second core to run on, and a store another process can open (not an
    in-memory SQLite database)."""
    shared = settings.backend == "postgres" or settings.sqlite_file() is not None
    return shared and events >= APART_EVENTS and cores() >= 2


def cores() -> int:
    """The CPUs this process may use: those it may run on (its affinity: a cpuset, a
    `taskset`), not the host's count, and no more than its CPU quota (cgroup v2's
    `cpu.max`, as `docker --cpus=1` or a Kubernetes CPU limit sets it), rounded up."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 1
    quota = cpu_quota()
    return max(1, min(usable, math.ceil(quota))) if quota is not None else usable


def cpu_quota(cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> float | None:
    """CPUs' worth of time this cgroup may use, from `cpu.max` ("max 100000" means none)."""
    try:
        limit, period = cpu_max.read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if limit == "max":
        return None
    try:
        return int(limit) / int(period)
    except (ValueError, ZeroDivisionError):
        return None


class AuditApart:
    """The audit generation `generation` caught up to `stop` in a spawned process, read and
    written in batches as this process's projector would (`batch_size`, `flush_events`)."""

    def __init__(self, settings: Settings, generation: int, stop: int, *,
                 batch_size: int, flush_events: int) -> None:
        self.generation = generation
        self.stop_at = stop
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no copied locks
        # No lock: one writer, one 64-bit word; a lock the child died holding would hang us.
        self._reached = context.Value("q", 0, lock=False)
        self._errors: Any = context.Queue()
        self._process = context.Process(
            target=_build, args=(settings, generation, stop, batch_size, flush_events,
                                 self._reached, self._errors),
            name="rmbook-audit-rebuild", daemon=True)
        self._process.start()

    @property
    def reached(self) -> int:
        """The position the child has applied up to (its progress)."""
        return int(self._reached.value)

    def wait(self, tick: Callable[[], None] | None = None, every: float = 0.5) -> None:
        """Until the child is done (calling `tick` every `every` seconds); its failure is
        raised as AuditBuildFailed with the child's own traceback."""
        while self._process.is_alive():
            self._process.join(every)
            if tick is not None:
                tick()
        self.check()

    def check(self) -> None:
        """Raise AuditBuildFailed if the child has already failed (called while the book
        is built here, so a failure does not wait for the book to finish)."""
        if self._process.is_alive() or self._process.exitcode in (None, 0):
            return
        try:
            why = self._errors.get(timeout=1.0)
        except queue.Empty:
            why = f"it exited with code {self._process.exitcode}"
        raise AuditBuildFailed(f"the audit's rebuild in its own process failed: {why}")

    def close(self) -> None:
        """Stop the child if it is still running (the rebuild failed here first)."""
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()
        self._errors.close()


def _build(settings: Settings, generation: int, stop: int, batch_size: int, flush_events: int,
           reached: Any, errors: Any) -> None:
    gc_tuning.relax()  # as every rmbook process does
    from application.service import BookOfBusiness
    from projections.runner import Projector

    try:
        bank = BookOfBusiness(settings)
        projector = Projector(bank, batch_size=batch_size, flush_events=flush_events)
        try:
            found = projector.registry.get("audit", generation)
            if found is None:
                raise LookupError(f"no audit generation {generation}")

            parent = multiprocessing.parent_process()

            def progress(done: int, _total: int) -> None:
                reached.value = done
                if parent is not None and not parent.is_alive():
                    raise SystemExit("the rebuilding process is gone")

            projector.catch_up(found, stop=stop, progress=progress)
        finally:
            projector.close()
            bank.close()
    except BaseException as e:
        errors.put(f"{type(e).__name__}: {e}\n{traceback.format_exc()[-_TRACEBACK_CHARS:]}")
        errors.close()
        errors.join_thread()  # the message is sent before the process ends
        raise SystemExit(1) from e
