"""Work the server does in its own threads: following projections, rebuilding them."""

from __future__ import annotations

import logging
import threading
from typing import Any

from projections.rebuild import rebuild, start_report
from projections.runner import NAMES, Projector

log = logging.getLogger("rmbook.http")


class ProjectionFollower:
    """`Projector.run_forever` in a thread; restarted after a failure so reads keep moving."""

    def __init__(self, projector: Projector, poll: float) -> None:
        self.projector = projector
        self.poll = poll
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="rmbook-projections", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.projector.run_forever(self.stop_event, self.poll)
            except Exception:
                log.exception("projection follower failed; retrying in 1 s")
                self.stop_event.wait(1.0)

    def stop(self, timeout: float = 30.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)


class Rebuilds:
    """Side-by-side rebuilds in background threads, one at a time per process.

    The report row (`rmbook_rebuilds`) is written before the thread starts, so its
    id can be answered at once and polled from any process.
    """

    def __init__(self, projector: Projector) -> None:
        self.projector = projector
        self._one_at_a_time = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self, names: list[str] | None, what_if: dict[str, Any] | None) -> str:
        chosen = ["book"] if what_if is not None else list(names or NAMES)
        report = start_report(self.projector, chosen, what_if)

        def run() -> None:
            with self._one_at_a_time:
                try:
                    rebuild(self.projector, chosen, what_if=what_if, report=report)
                except Exception:  # the report says "failed" with the error; log the trace
                    log.exception("rebuild %s failed", report.rebuild_id)

        thread = threading.Thread(target=run, name=f"rmbook-rebuild-{report.rebuild_id[:8]}",
                                  daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return report.rebuild_id

    def join(self, timeout: float = 60.0) -> None:
        for thread in self._threads:
            thread.join(timeout)
