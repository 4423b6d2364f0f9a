"""Editable settings: pydantic models stored as JSON rows, defaults until an admin edits them.

A setting is read once per transaction (`dispatch.core.memo`): every action reads the time limits,
and a batch of actions in one transaction reads them once."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.core.audit import record_change
from dispatch.core.commands import validation_error
from dispatch.core.db import utcnow
from dispatch.core.errors import InvalidInput
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


def store_setting(session: Session, key: str, model: type[M], data: dict[str, Any],
                  actor_id: int | None, *, record_as: str | None = None) -> M:
    """Validate and store a new value (fields left out take their defaults); a bad value
    changes nothing and names the field. With `record_as` (a subject of
    `dispatch.core.audit.SUBJECTS`) the change is recorded, before → after, in the log of admin
    changes; callers that record their own change leave it out."""
    try:
        value = model.model_validate({**model().model_dump(), **data})
    except ValidationError as exc:
        raise validation_error(exc) from exc
    row = session.get(Setting, key)
    stored = value.model_dump(mode="json")
    if record_as is not None:
        before = model().model_dump(mode="json") if row is None else row.value
        record_change(session, actor_id, record_as, key, "update", before, stored)
    if row is None:
        session.add(Setting(key=key, value=stored, updated_by_id=actor_id))
    else:
        row.value = stored
        row.updated_by_id = actor_id
        row.updated_at = utcnow()
    return value


# ---------------------------------------------------------------- triage (DOMAIN.md, Triage)

TRIAGE_KEY = "triage_settings"
ESCALATION_RANGE = (10, 3600)  # seconds an alarm may wait for a dispatcher before escalation


class TriageSettings(BaseModel):
    """What happens with the classifier's judgement at intake (admin-editable).

    `auto_dispatch` maps a category code to the minimum confidence (0–1) at which a demand of
    that category (or of a category under it) is dispatched without a dispatcher; a category
    left out, with no ancestor listed either, is never dispatched automatically."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    auto_transfer_110: bool = False
    alarm_escalation_seconds: int = 60
    auto_dispatch: dict[str, float] = Field(default_factory=dict)

    def threshold(self, chain: list[str]) -> tuple[str, float] | None:
        """The setting that covers a category: the first of its chain (itself, then its
        ancestors) that has one, as (code, minimum confidence)."""
        for code in chain:
            if code in self.auto_dispatch:
                return code, self.auto_dispatch[code]
        return None


def check_triage_settings(data: Any) -> TriageSettings:
    """Validate an admin's triage settings (fields left out take the defaults); a bad value
    is refused in Chinese, naming the field."""
    if not isinstance(data, dict):
        raise InvalidInput("请求体须为 JSON 对象")
    known = TriageSettings.model_fields
    for key in data:
        if key not in known:
            raise InvalidInput(f"{key}: 不是可设置的项（可设置：{'、'.join(known)}）", field=key)
    values = TriageSettings().model_dump()
    if "auto_transfer_110" in data:
        flag = data["auto_transfer_110"]
        if not isinstance(flag, bool):
            raise InvalidInput("auto_transfer_110: 须为 true 或 false", field="auto_transfer_110")
        values["auto_transfer_110"] = flag
    if "alarm_escalation_seconds" in data:
        seconds, (low, high) = data["alarm_escalation_seconds"], ESCALATION_RANGE
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not low <= seconds <= high:
            raise InvalidInput(f"alarm_escalation_seconds: 须为 {low} 到 {high} 之间的整数（秒），"
                               f"收到 {seconds!r}", field="alarm_escalation_seconds")
        values["alarm_escalation_seconds"] = seconds
    if "auto_dispatch" in data:
        values["auto_dispatch"] = _check_thresholds(data["auto_dispatch"])
    return TriageSettings.model_validate(values)


def _check_thresholds(raw: Any) -> dict[str, float]:
    if not isinstance(raw, dict):
        raise InvalidInput("auto_dispatch: 须为“分类编码 → 最低置信度”的对象",
                           field="auto_dispatch")
    out: dict[str, float] = {}
    for code, value in raw.items():
        where = f"auto_dispatch.{code}"
        if not code or len(code) > 80 or "\x00" in code:
            raise InvalidInput(f"{where}: 分类编码无效", field=where)
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not 0.0 <= float(value) <= 1.0 or value != value:
            raise InvalidInput(f"{where}: 最低置信度须为 0 到 1 之间的数，收到 {value!r}",
                               field=where)
        out[code] = float(value)
    return out


def get_triage_settings(session: Session) -> TriageSettings:
    """The triage settings in force (defaults: nothing automatic, escalation after 60 s)."""
    return load_setting(session, TRIAGE_KEY, TriageSettings)


# ---------------------------------------------------------------- revision counters


def bump_counter(session: Session, key: str) -> None:
    """Count one more change of something cached under a revision (the classifier's rules,
    the category tree): a counter, because timestamps may repeat (a manual clock, two edits in
    one tick) and SQLite may reuse the id of a deleted last row."""
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=1))
    else:
        row.value = int(row.value or 0) + 1
        row.updated_at = utcnow()
