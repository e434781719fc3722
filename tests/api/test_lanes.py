"""Reads of the views queue for their own narrow lane; replays at known_at do not."""

from __future__ import annotations

import functools
import threading
import time
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest

from interfaces.http.config import HttpSettings, HttpSettingsError
from interfaces.http.lanes import open_lanes, view_read


class Overlap:
    """How many calls ran at once, at most."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0

    def route(self, no: str, known_at: datetime | None = None) -> dict[str, Any]:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(0.05)  # a blocking read: long enough for the others to be waiting
        with self.lock:
            self.now -= 1
        return {"no": no, "thread": threading.get_ident()}


def _run_six(lane_width: int, known_at: datetime | None) -> tuple[Overlap, list[Any]]:
    overlap = Overlap()
    routed = view_read(overlap.route)
    answers: list[Any] = []

    async def main() -> None:
        open_lanes(lane_width)

        async def one(i: int) -> None:
            answers.append(await routed(no=f"C{i}", known_at=known_at))

        async with anyio.create_task_group() as group:
            for i in range(6):
                group.start_soon(one, i)

    anyio.run(main)
    return overlap, answers


@pytest.mark.parametrize("width", [1, 2])
def test_reads_of_the_views_run_at_most_lane_width_at_once(width: int) -> None:
    overlap, answers = _run_six(width, known_at=None)
    assert overlap.most == width
    assert sorted(a["no"] for a in answers) == [f"C{i}" for i in range(6)]
    assert all(a["thread"] != threading.get_ident() for a in answers)  # never on the loop


def test_a_replay_at_known_at_runs_in_the_general_pool_not_the_lane() -> None:
    overlap, _ = _run_six(1, known_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert overlap.most > 1


def test_the_wrapped_route_keeps_its_signature_for_fastapi() -> None:
    import inspect

    routed = view_read(Overlap().route)
    assert inspect.iscoroutinefunction(routed)
    assert list(inspect.signature(routed).parameters) == ["no", "known_at"]


def test_lane_width_is_read_from_the_environment_and_checked() -> None:
    assert HttpSettings.from_env({"RMBOOK_HTTP_READ_THREADS": "3"}).read_threads == 3
    assert HttpSettings.from_env({}).read_threads == 2
    with pytest.raises(HttpSettingsError):
        HttpSettings.from_env({"RMBOOK_HTTP_READ_THREADS": "0"})


def test_without_a_lifespan_the_lane_has_the_default_width() -> None:
    overlap = Overlap()
    routed = view_read(overlap.route)

    async def main() -> None:  # no open_lanes: an app driven without its lifespan
        async with anyio.create_task_group() as group:
            for i in range(6):
                group.start_soon(functools.partial(routed, no=f"C{i}"))

    anyio.run(main)
    assert overlap.most == HttpSettings().read_threads == 2
