"""The read side's per-thread connections are closed when their thread ends (no leak)."""

from __future__ import annotations

import threading
from pathlib import Path

from application.settings import Settings
from projections.db import ViewDatabase


def test_connections_of_finished_threads_are_closed(tmp_path: Path) -> None:
    db = ViewDatabase(Settings(database_url=f"sqlite:///{tmp_path}/views.db"))
    try:
        together = threading.Barrier(5, timeout=30)  # a failed worker breaks it: no hang
        failed: list[BaseException] = []

        def work() -> None:
            try:
                db.execute("SELECT 1")  # five first connections to a new file at once
            except BaseException as e:
                failed.append(e)
                together.abort()
                raise
            together.wait()  # all five alive, each with its own connection

        workers = [threading.Thread(target=work) for _ in range(5)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert failed == []
        assert len(db._all) == 5
        db.execute("SELECT 1")  # a new connection: the five finished threads' are closed
        assert len(db._all) == 1
        db.execute("SELECT 1")
        assert len(db._all) == 1
    finally:
        db.close()
