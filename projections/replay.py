"""Replay: any projection over only the events known at a past instant.

A throw-away generation is built from position zero, passing over every
event recorded after `known_at`, and dropped after use — so a report comes
out exactly as the store could have produced it then.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from projections.audit import AuditProjection
from projections.book import BookProjection
from projections.reader import BookReader
from projections.rebuild import build_fresh
from projections.runner import Projector


@contextmanager
def replayed_book(projector: Projector, known_at: datetime) -> Iterator[BookReader]:
    generation = build_fresh(projector, "book", known_at=known_at)
    try:
        projection = projector.instance(generation)
        assert isinstance(projection, BookProjection)
        yield BookReader(projector.db, projection)
    finally:
        projector.drop(generation)


@contextmanager
def replayed_audit(projector: Projector, known_at: datetime) -> Iterator[AuditProjection]:
    generation = build_fresh(projector, "audit", known_at=known_at)
    try:
        projection = projector.instance(generation)
        assert isinstance(projection, AuditProjection)
        yield projection
    finally:
        projector.drop(generation)


@contextmanager
def book_reader(projector: Projector, known_at: datetime | None = None) -> Iterator[BookReader]:
    """The serving book (caught up), or a replay of it at `known_at`."""
    if known_at is not None:
        with replayed_book(projector, known_at) as reader:
            yield reader
        return
    projection = projector.instance(projector.serving("book"))
    assert isinstance(projection, BookProjection)
    yield BookReader(projector.db, projection)


def audit_projection(projector: Projector) -> AuditProjection:
    projection = projector.instance(projector.serving("audit"))
    assert isinstance(projection, AuditProjection)
    return projection
