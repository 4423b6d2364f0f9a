"""Training, evaluating and activating versions of the learned triage model.

Examples are the shipped seed demands (``grid/data/triage/*.tsv``) and every ticket whose
fields a person confirmed or corrected: opened by an operator (the intake form is the
operator's judgement of the suggestion stored in the intake event), dispatched by a dispatcher,
transferred to 110 or answered directly by a person. The final values on the ticket are the
labels (a dispatcher's change of type, category or urgency at dispatch is on the ticket).
Voided tickets and tickets without a type or category are not examples; the same text twice
counts once (a ticket's labels replace a seed example's: the operator had the last word).

One example in five is held out, chosen by the SHA-1 of its normalised text, so the slice is
the same for every version and a text never moves between training and held-out: versions are
compared on held-out figures, and a new one is activated only if it scores at least as well as
the active one (``force`` overrides, for an admin who knows why).
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from dispatch.core.errors import Conflict, InvalidInput, NotFound
from dispatch.core.memo import memo
from dispatch.core.models import ClassifierModel, Event, Ticket
from dispatch.core.ports import Suggestion
from dispatch.core.vocab import RequestType, Status, Urgency
from dispatch.triage.features import normalise
from dispatch.triage.fitting import TrainingError, check_examples, fit
from dispatch.triage.model import ArtefactError, Example, Prediction, TriageModel

log = logging.getLogger("hotline.triage")

SEED_DIR = Path(__file__).resolve().parents[2] / "grid" / "data" / "triage"
COLUMNS = ("text", "type", "category", "police", "urgency")
HELD_OUT = 5  # one example in five
STALE_TRAINING = timedelta(hours=1)
PERSON_ROLES = ("operator", "dispatcher", "supervisor")
CONFIRMING = ("dispatch", "transfer_110", "answer")
# How much each held-out figure counts in a version's score (police recall first: DOMAIN.md).
SCORE_WEIGHTS = {"police_recall": 0.35, "police_specificity": 0.10, "critical_recall": 0.20,
                 "type_accuracy": 0.10, "top_accuracy": 0.15, "second_accuracy": 0.10}
FIELD_NAMES = {"police": "涉警", "critical": "危急", "type": "诉求类型",
               "top": "一级分类", "second": "二级分类"}


# ---------------------------------------------------------------- examples


def read_tsv(path: Path) -> list[Example]:
    """Labelled demands from a TSV file (columns text, type, category, police, urgency);
    `InvalidInput` naming the line and the column when one is wrong."""
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise InvalidInput(f"file: 无法打开文件 {path}（{exc.strerror}）", field="file") from None
    types = {t.value for t in RequestType}
    urgencies = {u.value for u in Urgency}
    out: list[Example] = []
    with handle:
        try:
            reader = csv.DictReader(handle, delimiter="\t")
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                raise InvalidInput(f"file: {path.name} 缺少列 {', '.join(missing)}"
                                   f"（需要 {', '.join(COLUMNS)}，以制表符分隔）", field="file")
            for row in reader:
                line = reader.line_num
                text = (row.get("text") or "").strip()
                if not text:
                    raise InvalidInput(f"text: {path.name} 第 {line} 行诉求内容为空",
                                       field="text")
                police = (row.get("police") or "").strip().lower()
                if police not in ("0", "1", "true", "false"):
                    raise InvalidInput(f"police: {path.name} 第 {line} 行涉警应为 0 或 1，"
                                       f"实为“{row.get('police')}”", field="police")
                kind = (row.get("type") or "").strip()
                if kind not in types:
                    raise InvalidInput(f"type: {path.name} 第 {line} 行诉求类型“{kind}”无效",
                                       field="type")
                urgency = (row.get("urgency") or "").strip()
                if urgency not in urgencies:
                    raise InvalidInput(f"urgency: {path.name} 第 {line} 行紧急程度“{urgency}”"
                                       "无效", field="urgency")
                category = (row.get("category") or "").strip()
                if not category:
                    raise InvalidInput(f"category: {path.name} 第 {line} 行分类为空",
                                       field="category")
                out.append(Example(text, kind, category, police in ("1", "true"), urgency))
        except UnicodeDecodeError:
            raise InvalidInput(f"file: {path.name} 不是 UTF-8 编码的文本文件",
                               field="file") from None
        except csv.Error as exc:
            raise InvalidInput(f"file: {path.name} 不是有效的 TSV 文件（{exc}）",
                               field="file") from None
    return out


def seed_dir_of(config: Mapping[str, Any]) -> Path | None:
    """The seed set's folder: `CLASSIFIER_SEED_DIR` of the configuration, else the environment
    variable `HOTLINE_CLASSIFIER_SEED_DIR`, else the shipped one; empty means no seed set."""
    configured = config.get("CLASSIFIER_SEED_DIR")
    if configured is None:
        configured = os.environ.get("HOTLINE_CLASSIFIER_SEED_DIR")
    if configured is None:
        return SEED_DIR
    return Path(configured) if configured else None


def seed_examples(seed_dir: Path | None = SEED_DIR) -> list[Example]:
    """The shipped seed demands (none when `seed_dir` is None or missing)."""
    if seed_dir is None or not seed_dir.is_dir():
        return []
    return [e for path in sorted(seed_dir.glob("*.tsv")) for e in read_tsv(path)]


def confirmed_tickets(session: Session) -> Iterator[Example]:
    """Every ticket whose fields a person confirmed or corrected, with its final values."""
    person = exists().where(
        Event.ticket_id == Ticket.id,
        ((Event.action == "intake") & (Event.actor_role == "operator"))
        | (Event.action.in_(CONFIRMING) & Event.actor_role.in_(PERSON_ROLES)))
    query = (select(Ticket.text, Ticket.type, Ticket.category_code, Ticket.police_matter,
                    Ticket.urgency)
             .where(Ticket.status != Status.VOID.value, Ticket.type.is_not(None),
                    Ticket.category_code.is_not(None), person)
             .order_by(Ticket.id)
             .execution_options(yield_per=2000))
    for text, kind, category, police, urgency in session.execute(query):
        if text and text.strip():
            yield Example(text, kind, category, bool(police), urgency or Urgency.NORMAL.value)


def collect_examples(session: Session | None, seed_dir: Path | None = SEED_DIR,
                     ) -> list[Example]:
    """Seed examples then confirmed tickets, one per normalised text (the last one wins)."""
    by_text: dict[str, Example] = {}
    sources: list[Iterable[Example]] = [seed_examples(seed_dir)]
    if session is not None:
        sources.append(confirmed_tickets(session))
    for source in sources:
        for e in source:
            by_text[normalise(e.text)] = e
    return list(by_text.values())


def is_held_out(text: str) -> bool:
    """Whether a text belongs to the held-out slice (stable: SHA-1 of the normalised text)."""
    digest = hashlib.sha1(normalise(text).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % HELD_OUT == 0


def split(examples: Sequence[Example]) -> tuple[list[Example], list[Example]]:
    """(training, held-out)."""
    train: list[Example] = []
    held: list[Example] = []
    for e in examples:
        (held if is_held_out(e.text) else train).append(e)
    return train, held


# ---------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Judgement:
    """What a classifier said about one text, in the terms the figures count."""

    police: bool
    critical: bool
    type: str | None
    top: str | None
    second: str | None


def from_prediction(p: Prediction) -> Judgement:
    """The model's judgement."""
    return Judgement(p.police.flagged, p.critical.flagged, p.type.value, p.top.value,
                     p.second.value)


def from_suggestion(s: Suggestion) -> Judgement:
    """A classifier's suggestion (rules alone, or rules and model together)."""
    category = s.category or ""
    parts = category.split(".")
    return Judgement(s.police_matter, s.urgency == Urgency.CRITICAL.value, s.type,
                     parts[0] or None, ".".join(parts[:2]) if len(parts) >= 2 else None)


def figures(examples: Sequence[Example], judgements: Sequence[Judgement]) -> dict[str, Any]:
    """Per-field figures: recall, precision and false-alarm rate of police matter, recall and
    precision of critical urgency, accuracy of type, top-level and second-level category."""
    tp = fp = fn = tn = 0
    c_tp = c_fp = c_fn = 0
    type_ok = top_ok = second_ok = second_n = 0
    for e, j in zip(examples, judgements, strict=True):
        if e.police:
            tp += j.police
            fn += not j.police
        else:
            fp += j.police
            tn += not j.police
        critical = e.urgency == Urgency.CRITICAL.value
        c_tp += critical and j.critical
        c_fp += (not critical) and j.critical
        c_fn += critical and not j.critical
        type_ok += j.type == e.type
        top_ok += j.top == e.top
        if e.second:
            second_n += 1
            second_ok += j.second == e.second
    n = len(examples)
    return {
        "n": n,
        "police": {"recall": _r(tp, tp + fn), "precision": _r(tp, tp + fp),
                   "false_alarm_rate": _r(fp, fp + tn), "positives": tp + fn,
                   "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn}},
        "critical": {"recall": _r(c_tp, c_tp + c_fn), "precision": _r(c_tp, c_tp + c_fp),
                     "positives": c_tp + c_fn},
        "type": {"accuracy": _r(type_ok, n)},
        "top": {"accuracy": _r(top_ok, n)},
        "second": {"accuracy": _r(second_ok, second_n), "n": second_n},
    }


def score(f: dict[str, Any]) -> float:
    """One number to compare versions by (police recall counts most)."""
    parts = {"police_recall": f["police"]["recall"],
             "police_specificity": 1.0 - f["police"]["false_alarm_rate"],
             "critical_recall": f["critical"]["recall"], "type_accuracy": f["type"]["accuracy"],
             "top_accuracy": f["top"]["accuracy"], "second_accuracy": f["second"]["accuracy"]}
    return round(sum(SCORE_WEIGHTS[k] * v for k, v in parts.items()), 4)


def evaluate_model(model: TriageModel, examples: Sequence[Example]) -> dict[str, Any]:
    """The model's figures on labelled examples."""
    return figures(examples, [from_prediction(p)
                              for p in model.predict_many([e.text for e in examples])])


def evaluate_classifier(suggest: Callable[[str], Suggestion],
                        examples: Sequence[Example]) -> dict[str, Any]:
    """A classifier's figures (rules alone, or combined) on labelled examples."""
    return figures(examples, [from_suggestion(suggest(e.text)) for e in examples])


def _r(a: float, b: float) -> float:
    return round(float(a) / float(b), 4) if b else 0.0


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
        raise InvalidInput(f"examples: {exc}", field="examples") from None
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
    return row


def train(examples: Sequence[Example], combiner: Combiner | None = None, *,
          version: int | None = None,
          progress: Callable[[str], None] | None = None) -> Outcome:
    """Train on the training slice and measure on the held-out slice (the model alone, and
    with `combiner`: the rules alone and rules and model together)."""
    started = time.perf_counter()
    train_set, held = split(examples)
    model, report = fit(train_set, progress=progress)
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
             ) -> ClassifierModel:
    """Make a ready version the active one; refused (nothing written) when it is not ready,
    its artefact cannot be read, or it scores below the active version (unless `force`)."""
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


# ---------------------------------------------------------------- reading figures


ROWS = (("police", "recall", "涉警 召回率"), ("police", "precision", "涉警 精确率"),
        ("police", "false_alarm_rate", "涉警 误报率"), ("critical", "recall", "危急 召回率"),
        ("critical", "precision", "危急 精确率"), ("type", "accuracy", "诉求类型 准确率"),
        ("top", "accuracy", "一级分类 准确率"), ("second", "accuracy", "二级分类 准确率"))


def figures_table(columns: dict[str, dict[str, Any]]) -> list[str]:
    """Figures side by side (one column per classifier), as lines of text."""
    names = list(columns)
    width = max([_width(n) + 2 for n in names] + [9])
    lines = [_pad("指标", 16) + "".join(_rjust(n, width) for n in names)]
    for field, key, title in ROWS:
        cells = []
        for n in names:
            value = columns[n].get(field, {}).get(key)
            cells.append(_rjust("—" if value is None else f"{value:.3f}", width))
        lines.append(_pad(title, 16) + "".join(cells))
    for n in names:
        c = columns[n].get("police", {}).get("confusion")
        if c:
            lines.append(f"涉警混淆矩阵（{n}）：实际涉警 → 判涉警 {c['tp']}、漏判 {c['fn']}；"
                         f"实际非涉警 → 误报 {c['fp']}、判非涉警 {c['tn']}")
    return lines


def _width(text: str) -> int:
    """Display width (a Chinese character is two columns)."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(width - _width(text), 1)


def _rjust(text: str, width: int) -> str:
    return " " * max(width - _width(text), 1) + text
