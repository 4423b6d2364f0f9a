"""Training, evaluating and activating versions of the learned triage model.

The examples (seed set and confirmed tickets, and the held-out fifth) are in
`dispatch.triage.examples`, the figures in `dispatch.triage.evaluation`; both are re-exported
here. Versions are compared on held-out figures, and a new one is activated only if it scores
at least as well as the active one (``force`` overrides, for an admin who knows why).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from dispatch.core.audit import record_change
from dispatch.core.errors import Conflict, InvalidInput, NotFound
from dispatch.core.memo import memo
from dispatch.core.models import ClassifierModel
from dispatch.core.ports import Suggestion
from dispatch.triage.evaluation import (
    evaluate_classifier,
    evaluate_model,
    figures_table,
    score,
)
from dispatch.triage.examples import (
    SEED_DIR,
    collect_examples,
    is_held_out,
    read_tsv,
    seed_dir_of,
    seed_examples,
    split,
)
from dispatch.triage.features import Counted, normalise
from dispatch.triage.fitting import TrainingError, check_examples, fit
from dispatch.triage.model import ArtefactError, Example, TriageModel

__all__ = [  # what importers of this module use from the two it was split from, too
    "SEED_DIR", "collect_examples", "evaluate_classifier", "evaluate_model", "figures_table",
    "is_held_out", "normalise", "read_tsv", "score", "seed_dir_of", "seed_examples", "split",
]

log = logging.getLogger("hotline.triage")

STALE_TRAINING = timedelta(hours=1)


# ---------------------------------------------------------------- versions


class Combiner(Protocol):
    def __call__(self, model: TriageModel | None, version: str) -> Callable[[str], Suggestion]:
        """A suggest function of the rules in force, with this model beside them."""
        ...


@dataclass(frozen=True)
class Outcome:
    """A trained version's artefact and what was measured."""

    artefact: bytes
    examples: int
    heldout: int
    figures: dict[str, Any]
    score: float
    seconds: float


def label(version: int) -> str:
    """How a version is shown: v3."""
    return f"v{version}"


def parse_version(text: str | int) -> int:
    """'v3', 'V3' or '3' → 3; `InvalidInput` otherwise."""
    raw = str(text).strip().lower().removeprefix("v")
    if not raw.isdigit() or int(raw) <= 0 or len(raw) > 9:
        raise InvalidInput(f"version: “{text}” 不是有效的模型版本号（例如 v3）", field="version")
    return int(raw)


def active_version(session: Session) -> int | None:
    """The active model's version (None: rules only); read once per transaction."""
    return memo(session, "classifier_model_active", (ClassifierModel,), lambda: session.scalar(
        select(ClassifierModel.version).where(ClassifierModel.active.is_(True),
                                              ClassifierModel.status == "ready")
        .order_by(ClassifierModel.version.desc()).limit(1)))


def load_artefact(session: Session, version: int) -> bytes | None:
    """The stored artefact of a version."""
    return session.scalar(select(ClassifierModel.artefact)
                          .where(ClassifierModel.version == version))


def list_versions(session: Session) -> list[ClassifierModel]:
    """Every version, newest first (artefacts not loaded)."""
    return list(session.scalars(select(ClassifierModel)
                                .order_by(ClassifierModel.version.desc())))


def version_view(row: ClassifierModel) -> dict[str, Any]:
    """A version as the admin API and page show it."""
    return {"version": label(row.version), "number": row.version, "status": row.status,
            "active": bool(row.active), "created_at": _iso(row.created_at),
            "completed_at": _iso(row.completed_at), "activated_at": _iso(row.activated_at),
            "trained_by_id": row.trained_by_id, "examples": row.examples,
            "heldout": row.heldout, "score": row.score, "figures": row.figures or {},
            "size_bytes": row.size_bytes, "seconds": row.seconds, "error": row.error}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _expire_stale(session: Session, now: datetime) -> None:
    session.execute(update(ClassifierModel)
                    .where(ClassifierModel.status == "training",
                           ClassifierModel.created_at < now - STALE_TRAINING)
                    .values(status="failed", completed_at=now,
                            error="训练中断：超过 1 小时未完成（进程可能已退出），请重新训练"))


def begin_training(session: Session, *, now: datetime, trained_by_id: int | None,
                   examples: Sequence[Example]) -> ClassifierModel:
    """A new version in `training`, after checking that the examples can be trained on;
    refused (nothing written) while another training runs or when they cannot."""
    try:
        check_examples(split(examples)[0])
    except TrainingError as exc:
        raise InvalidInput(f"examples: 无法训练，{exc}", field="examples") from None
    _expire_stale(session, now)
    running = session.scalar(select(ClassifierModel.version)
                             .where(ClassifierModel.status == "training").limit(1))
    if running is not None:
        raise Conflict(f"已有训练任务在进行（{label(running)}），请等它完成后再训练")
    number = (session.scalar(select(func.max(ClassifierModel.version))) or 0) + 1
    row = ClassifierModel(version=number, status="training", active=False, created_at=now,
                          trained_by_id=trained_by_id, examples=0, heldout=0, figures={},
                          size_bytes=0)
    session.add(row)
    session.flush()
    record_change(session, trained_by_id, "classifier_model", label(number), "train", None,
                  {"version": label(number)}, at=now)
    return row


def train(examples: Sequence[Example], combiner: Combiner | None = None, *,
          version: int | None = None, progress: Callable[[str], None] | None = None,
          refit: bool = True) -> Outcome:
    """Train on the training slice and measure on the held-out slice (the model alone, and
    with `combiner`: the rules alone and rules and model together); then, with `refit`, train
    the stored model again on every example. The figures are those of the model that did not
    see the held-out slice: a fair, slightly low estimate for the stored one, which learns from
    a quarter more demands (on the seed set: type 0.826 → 0.849 and top level 0.890 → 0.899 on
    the independent test file)."""
    started = time.perf_counter()
    if progress:
        progress("提取特征")
    counted = Counted([e.text for e in examples])  # segmented once for both fits
    held_out = [is_held_out(e.text) for e in examples]
    training_rows = [i for i, out in enumerate(held_out) if not out]
    train_set = [examples[i] for i in training_rows]
    held = [e for e, out in zip(examples, held_out, strict=True) if out]
    model, report = fit(train_set, progress=progress, counted=counted.subset(training_rows))
    model.meta["version"] = version
    artefact = model.to_bytes()
    reloaded = TriageModel.from_bytes(artefact)  # what is measured is what is stored
    result: dict[str, Any] = {"model": evaluate_model(reloaded, held) if held else {},
                              "training": {"examples": len(train_set),
                                           "features": report.features,
                                           "out_of_fold": report.oof,
                                           "estimator": model.meta.get("estimator")}}
    if combiner is not None and held:
        result["rules"] = evaluate_classifier(combiner(None, "rules"), held)
        result["combined"] = evaluate_classifier(
            combiner(reloaded, label(version) if version else "model"), held)
    value = score(result["model"]) if held else 0.0
    if refit and held:
        if progress:
            progress("以全部样本重新训练上线模型")
        final, final_report = fit(examples, progress=progress, counted=counted)
        final.meta.update(version=version, evaluated_examples=len(train_set))
        artefact = final.to_bytes()
        result["training"].update(final_examples=len(examples),
                                  final_features=final_report.features)
    return Outcome(artefact, len(train_set), len(held), result, value,
                   round(time.perf_counter() - started, 2))


def _record(session: Session, version: int, **values: Any) -> ClassifierModel:
    """Write a version's fields by one UPDATE (a version's state is not a ticket's: only the
    lifecycle assigns `.status` attributes) and return the row as it now is."""
    row = _get(session, version)
    session.execute(update(ClassifierModel).where(ClassifierModel.version == version)
                    .values(**values))
    session.expire(row)
    return row


def complete_training(session: Session, version: int, outcome: Outcome, now: datetime,
                      ) -> ClassifierModel:
    """Record a trained version as ready."""
    return _record(session, version, status="ready", completed_at=now,
                   artefact=outcome.artefact, size_bytes=len(outcome.artefact),
                   examples=outcome.examples, heldout=outcome.heldout,
                   figures=outcome.figures, score=outcome.score, seconds=outcome.seconds,
                   error=None)


def fail_training(session: Session, version: int, error: str, now: datetime) -> None:
    """Record that a version could not be trained, and why (in Chinese)."""
    _record(session, version, status="failed", completed_at=now, error=error[:2000])


def run_training(session: Session, version: int, *, now: Callable[[], datetime],
                 combiner: Combiner | None = None, seed_dir: Path | None = SEED_DIR,
                 progress: Callable[[str], None] | None = None) -> ClassifierModel:
    """A job: read the examples (ending that transaction), train without holding one open,
    then record the version ready or failed. Commits its own transactions."""
    try:
        examples = collect_examples(session, seed_dir)
        session.commit()
        outcome = train(examples, combiner, version=version, progress=progress)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the version
        session.rollback()
        message = str(exc) if isinstance(exc, TrainingError | ArtefactError) else \
            f"训练失败：{type(exc).__name__}: {exc}"
        log.exception("training classifier model %s failed", label(version))
        fail_training(session, version, message, now())
        session.commit()
        return _get(session, version)
    row = complete_training(session, version, outcome, now())
    session.commit()
    log.info("classifier model %s trained: %d examples, score %.4f, %.1f s",
             label(version), outcome.examples, outcome.score, outcome.seconds)
    return row


def activate(session: Session, version: int, *, now: datetime, force: bool = False,
             actor_id: int | None = None) -> ClassifierModel:
    """Make a ready version the active one; refused (nothing written) when it is not ready,
    its artefact cannot be read, or it scores below the active version (unless `force`).
    Recorded in the log of admin changes (the version before → after, forced or not)."""
    row = _get(session, version)
    if row.status != "ready":
        state = {"training": "仍在训练中", "failed": "训练失败"}.get(row.status, row.status)
        raise Conflict(f"{label(version)} {state}，不能启用")
    try:
        TriageModel.from_bytes(load_artefact(session, version))
    except ArtefactError as exc:
        raise Conflict(f"{label(version)} 的模型文件无法读取：{exc}") from None
    current = session.scalar(select(ClassifierModel).where(ClassifierModel.active.is_(True),
                                                           ClassifierModel.version != version))
    if current is not None and not force and (row.score or 0.0) < (current.score or 0.0):
        raise Conflict(
            f"{label(version)} 在留出集上的得分 {row.score or 0:.4f} 低于当前启用的 "
            f"{label(current.version)}（{current.score or 0:.4f}），未启用；"
            "如确需启用，请使用强制启用")
    session.execute(update(ClassifierModel).where(ClassifierModel.version != version,
                                                  ClassifierModel.active.is_(True))
                    .values(active=False))
    record_change(session, actor_id, "classifier_model", label(version), "activate",
                  {"active_version": label(current.version) if current else None},
                  {"active_version": label(version), "score": row.score, "forced": force},
                  at=now)
    return _record(session, version, active=True, activated_at=now)


def deactivate(session: Session) -> None:
    """No active version: the rules alone suggest."""
    session.execute(update(ClassifierModel).where(ClassifierModel.active.is_(True))
                    .values(active=False))
    session.flush()


def _get(session: Session, version: int) -> ClassifierModel:
    row = session.get(ClassifierModel, version)
    if row is None:
        raise NotFound(f"没有模型版本 {label(version)}", field="version")
    return row
