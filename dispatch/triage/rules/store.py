"""The rules in the database (the `classifier_rules` table): loading the shipped ones, the
revision that changes with every edit, and the classifier built once per revision."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Boolean, Float, Integer, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from dispatch.core.db import Base, UTCDateTime, utcnow
from dispatch.core.memo import memo
from dispatch.core.models import Setting
from dispatch.core.ports import Suggestion
from dispatch.core.settings import bump_counter
from dispatch.triage.rules.phrases import RULES_FILE, Rule, RuleClassifier

MAX_PHRASE = 20
REVISION_KEY = "classifier_rules_revision"


class ClassifierRule(Base):
    """One weighted phrase: finding it in a text adds `weight` to `value` of `field`."""

    __tablename__ = "classifier_rules"
    __table_args__ = (UniqueConstraint("field", "value", "phrase"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    field: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(40))
    phrase: Mapped[str] = mapped_column(String(MAX_PHRASE))
    weight: Mapped[float] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def as_dict(self) -> dict[str, Any]:
        """JSON form for the admin API."""
        return {"id": self.id, "field": self.field, "value": self.value, "phrase": self.phrase,
                "weight": self.weight, "active": self.active, "note": self.note,
                "updated_at": self.updated_at.isoformat() if self.updated_at else None}


def load_classifier_rules(session: Session, path: Path = RULES_FILE) -> int:
    """Insert the shipped rules that are missing (by field, value, phrase); how many were added.

    An admin who wants a shipped phrase gone should deactivate it: a deleted one comes back at
    the next load, as reference data does."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    present = set(session.execute(
        select(ClassifierRule.field, ClassifierRule.value, ClassifierRule.phrase)).tuples())
    now = utcnow()
    rows = []
    for group in doc["groups"]:
        for phrase, weight in group["phrases"].items():
            key = (group["field"], group["value"], phrase)
            if key not in present:
                present.add(key)
                rows.append({"field": key[0], "value": key[1], "phrase": phrase,
                             "weight": float(weight), "active": True,
                             "note": group.get("note"), "updated_at": now})
    if rows:
        session.execute(ClassifierRule.__table__.insert(), rows)
        bump_revision(session)
    return len(rows)


def bump_revision(session: Session) -> None:
    """Count one more change of the rules (the revision their classifier is cached under)."""
    bump_counter(session, REVISION_KEY)
    session.flush()


def rules_revision(session: Session) -> str:
    """A key that changes whenever the rules change (cache the classifier under it; read
    once per transaction)."""
    def read() -> str:
        counter = session.scalar(select(Setting.value).where(Setting.key == REVISION_KEY)) or 0
        count, last_id, last_update = session.execute(
            select(func.count(), func.max(ClassifierRule.id), func.max(ClassifierRule.updated_at))
        ).one()
        stamp = last_update.isoformat() if isinstance(last_update, datetime) else last_update
        return f"{counter}:{count}:{last_id}:{stamp}"

    return memo(session, "classifier_revision", (Setting, ClassifierRule), read)


def classifier_from_db(session: Session) -> RuleClassifier:
    """A classifier built from the active rules in the database."""
    rows = session.execute(select(ClassifierRule.field, ClassifierRule.value,
                                  ClassifierRule.phrase, ClassifierRule.weight)
                           .where(ClassifierRule.active.is_(True))).tuples()
    return RuleClassifier(Rule(f, v, p, w) for f, v, p, w in rows)


class ClassifierCache:
    """One classifier per rules revision, shared by the threads of a process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._built: tuple[str, RuleClassifier] | None = None

    def get(self, session: Session) -> RuleClassifier:
        """The classifier for the rules now in the database, built at most once per revision."""
        revision = rules_revision(session)
        with self._lock:
            if self._built is not None and self._built[0] == revision:
                return self._built[1]
        classifier = classifier_from_db(session)  # outside the lock: building reads the db
        with self._lock:
            self._built = (revision, classifier)
        return classifier

    def clear(self) -> None:
        """Forget the built classifier (tests)."""
        with self._lock:
            self._built = None


@dataclass(frozen=True)
class SessionClassifier:
    """The `Classifier` port for one intake: the cached classifier of the session's rules."""

    session: Session
    cache: ClassifierCache

    def suggest(self, text: str) -> Suggestion:
        """Suggestions from the rules in force in this session's database."""
        return self.cache.get(self.session).suggest(text)
