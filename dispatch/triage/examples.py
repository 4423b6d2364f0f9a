"""The triage model's labelled examples: the shipped seed set and the tickets people confirmed.

Examples are the shipped seed demands (``grid/data/triage/*.tsv``; how they are labelled:
``LABELLING.md`` there) and every ticket whose fields a person confirmed or corrected: opened
by an operator (the intake form is the operator's judgement of the suggestion stored in the
intake event), dispatched by a dispatcher, transferred to 110 or answered directly by a person.
The final values on the ticket are the labels (a dispatcher's change of type, category or
urgency at dispatch is on the ticket). Voided tickets and tickets without a type or category
are not examples; the same text twice counts once (a ticket's labels replace a seed example's:
the operator had the last word).

One example in five is held out, chosen by the SHA-1 of its normalised text, so the slice is
the same for every version and a text never moves between training and held-out.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from dispatch.core.errors import InvalidInput
from dispatch.core.models import Event, Ticket
from dispatch.core.vocab import RequestType, Status, Urgency
from dispatch.triage.features import normalise
from dispatch.triage.model import Example

SEED_DIR = Path(__file__).resolve().parents[2] / "grid" / "data" / "triage"
COLUMNS = ("text", "type", "category", "police", "urgency")
HELD_OUT = 5  # one example in five
PERSON_ROLES = ("operator", "dispatcher", "supervisor")
CONFIRMING = ("dispatch", "transfer_110", "answer")


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
