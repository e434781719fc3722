"""What every projection provides to the runner.

A projection folds batches of events into its views. `apply` changes only
memory; `flush` writes the changes, inside the runner's transaction that also
advances the tracked position — so a crash anywhere resumes exactly once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from projections.db import ViewDatabase
from projections.envelopes import Envelope


class Projection(ABC):
    name: str

    def __init__(self, db: ViewDatabase, generation: int) -> None:
        self.db = db
        self.generation = generation

    def table(self, base: str) -> str:
        return f"rv{self.generation}_{self.name}_{base}"

    @abstractmethod
    def create_tables(self) -> None: ...

    @abstractmethod
    def drop_tables(self) -> None: ...

    @abstractmethod
    def apply(self, batch: list[Envelope]) -> None: ...

    @abstractmethod
    def flush(self) -> None: ...

    @abstractmethod
    def forget(self) -> None:
        """Drop in-memory state after a failed transaction; reload from tables next time."""

    def reads_state(self, topic: str) -> bool:
        """Whether `apply` looks inside events of `topic`. In a long catch-up a row that no
        projection of the batch looks inside is not decoded (`envelopes.UNDECODED`)."""
        return True

    def rows_copied(self) -> frozenset[str]:
        """Topics whose rows a long catch-up need not hand to `apply` at all: the database
        copies them when `flush` writes (the book's balances, ADR 0016). A read for
        projections that all name a topic here skips its rows (ADR 0018)."""
        return frozenset()

    def passed_over(self, first: int, last: int) -> None:
        """The rows of `rows_copied` topics from position `first` to `last` were not read:
        they are this projection's to copy at the next `flush`."""
        return  # only a projection with `rows_copied` is ever told

    @property
    def rulebook_version(self) -> str | None:
        return None
