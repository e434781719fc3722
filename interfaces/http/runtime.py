"""What one server process holds: one BookOfBusiness, one Projector, their threads.

Opened in the FastAPI lifespan and closed on shutdown (see app.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from application.service import BookOfBusiness
from application.settings import Settings
from interfaces.http.background import ProjectionFollower, Rebuilds
from interfaces.http.config import HttpSettings
from interfaces.http.idempotency import IdempotencyStore
from projections.runner import Projector

log = logging.getLogger("rmbook.http")


@dataclass
class Runtime:
    settings: Settings
    http: HttpSettings
    bank: BookOfBusiness
    projector: Projector
    idempotency: IdempotencyStore
    rebuilds: Rebuilds
    follower: ProjectionFollower | None

    @staticmethod
    def open(settings: Settings, http: HttpSettings) -> Runtime:
        bank = BookOfBusiness(settings)
        try:
            projector = Projector(bank, projecting=http.reads_catch_up
                                  or http.projects_in_process(settings.backend))
            projector.ensure()
            idempotency = IdempotencyStore(projector.db)
        except BaseException:
            bank.close()
            raise
        follower = None
        if http.projects_in_process(settings.backend):
            follower = ProjectionFollower(projector, http.projection_poll)
            follower.start()
        log.info("rmbook API on %s store; projections %s", settings.backend,
                 "in process" if follower else "by `rmbook project --follow` workers")
        return Runtime(settings, http, bank, projector, idempotency, Rebuilds(projector),
                       follower)

    def close(self) -> None:
        if self.follower is not None:
            self.follower.stop()
        self.rebuilds.join()
        self.projector.close()
        self.bank.close()
