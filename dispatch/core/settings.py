"""Editable settings: pydantic models stored as JSON rows, defaults until an admin edits them.

A setting is read once per transaction (`dispatch.core.memo`): every action reads the time limits,
and a batch of actions in one transaction reads them once."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.core.commands import validation_error
from dispatch.core.db import utcnow
from dispatch.core.memo import memo
from dispatch.core.models import Setting

M = TypeVar("M", bound=BaseModel)


def load_setting(session: Session, key: str, model: type[M]) -> M:
    """The setting in force: the stored value, or the model's defaults (models are frozen, so
    the one value read in a transaction is shared)."""

    def read() -> M:
        stored = session.scalar(select(Setting.value).where(Setting.key == key))
        return model() if stored is None else model.model_validate(stored)

    return memo(session, ("setting", key, model), (Setting,), read)


def store_setting(session: Session, key: str, model: type[M], data: dict,
                  actor_id: int | None) -> M:
    """Validate and store a new value (fields left out take their defaults); a bad value
    changes nothing and names the field."""
    try:
        value = model.model_validate({**model().model_dump(), **data})
    except ValidationError as exc:
        raise validation_error(exc) from exc
    row = session.get(Setting, key)
    stored = value.model_dump(mode="json")
    if row is None:
        session.add(Setting(key=key, value=stored, updated_by_id=actor_id))
    else:
        row.value = stored
        row.updated_by_id = actor_id
        row.updated_at = utcnow()
    return value
