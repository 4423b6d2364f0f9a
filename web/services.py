"""The parts the domain is given in this application (real or fake, chosen from configuration),
and `services()`, which finds them for the current request."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from dispatch.core.models import Event
from dispatch.core.ports import Clock, LogPublisher, PublishedEvent, Publisher, SystemClock
from dispatch.intake.pipeline import Classifier, IntakePorts
from dispatch.outbound import outbox
from dispatch.triage.classifier import ModelCache, SessionTriage
from dispatch.triage.rules import ClassifierCache
from grid.directory import SqlDirectory
from grid.locator import GridCache
from grid.service import GridRouting
from integrations.sms import SmsSender

log = logging.getLogger("hotline.web")


@dataclass
class Services:
    """The real or fake parts the domain is given, chosen from configuration."""

    clock: Clock = field(default_factory=SystemClock)
    hasher: PasswordHasher = field(default_factory=PasswordHasher)
    publisher: Publisher = field(default_factory=LogPublisher)
    # None: the admin-editable rules of the database (cached per rules revision) beside the
    # active learned model (loaded once per version): dispatch/triage/classifier.py.
    classifier: Classifier | None = None
    classifier_cache: ClassifierCache = field(default_factory=ClassifierCache)
    model_cache: ModelCache = field(default_factory=ModelCache)
    # The SMS backend (None: chosen from the configuration when the app is built).
    sms: SmsSender | None = None
    # Embedded mode's in-process runner (started by `hotline serve` without Redis).
    runner: Any = None
    # Grid indexes built once per version and shared by the requests of this application.
    grid_cache: GridCache = field(default_factory=GridCache)
    # The live console's relay (web/console/relay.py), set when the app is built.
    console: Any = None

    def intake_ports(self, session: Session, now: datetime) -> IntakePorts:
        """Ports for one intake: they read the request's database at its moment."""
        grid = GridRouting(session, now, self.grid_cache)
        classifier = self.triage(session)
        # Demands logged through the app act on the judgement (alarms, 智能派单).
        return IntakePorts(classifier, grid, grid, respond=True, directory=SqlDirectory(session))

    def triage(self, session: Session) -> Classifier:
        """The classifier for one request: rules and active model of its database."""
        return self.classifier or SessionTriage(session, self.classifier_cache, self.model_cache)

    @staticmethod
    def describe(events: Sequence[Event]) -> list[PublishedEvent]:
        """What the publisher is told of these events: read before the commit, while they are
        in hand (after it they have expired and would be read again)."""
        return [PublishedEvent(e.id, e.ticket_id, e.ticket.number, e.action, e.from_status,
                               e.to_status) for e in events]

    def after_commit(self, session: Session, events: Sequence[Event],
                     published: list[PublishedEvent] | None = None) -> None:
        """The after-commit consequences of `dispatch.subscribers.AFTER_COMMIT`, in order:
        console relay, publisher, workers poke (`published`: the events as `describe`d before
        the commit)."""
        if not events:
            return
        if self.console is not None:
            self.console.after_commit(session)  # number the console events, send them
        try:
            if published is None:
                published = self.describe(events)
        except SQLAlchemyError as exc:
            # The events expired at the commit and are read again; the database went away
            # just after the commit. The write stands: an error answer now (503) would make the
            # client send it again, and a channel without an idempotency key (Open311, an
            # intake without `Idempotency-Key`) would store it twice.
            session.rollback()
            log.warning("events committed but not published (database unavailable): %s",
                        str(exc.orig if hasattr(exc, "orig") else exc).strip())
        else:
            self.publisher.publish(published)
        if self.runner is not None:
            if outbox.owed(session):
                self.runner.poke()  # deliver what the change queued now
            else:
                self.runner.changed()  # nothing to deliver: the rollups' next batch


def services() -> Services:
    """The services of the current application."""
    from flask import current_app

    return current_app.extensions["hotline"]
