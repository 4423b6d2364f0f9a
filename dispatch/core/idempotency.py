"""Idempotency keys (CONTRACT.md, "Errors, retries and limits"): a client that sends
`Idempotency-Key` with intake or an action gets, for the same key and the same request within
24 hours, the first answer again and nothing written; the same key with another request is
refused.

The key is claimed by inserting its row in the transaction of the writes it guards, and the
answer is stored in that row before the commit: a second request with the key waits on the
unique index until the first commits, then reads the stored answer (or, if the first rolled
back, claims the key itself). A key is never left claimed without its answer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dispatch.core.errors import Conflict, InvalidInput
from dispatch.core.models import IdempotencyKey

KEPT = timedelta(hours=24)
MAX_KEY = 200
HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class StoredAnswer:
    """The first answer given for a key."""

    http_status: int
    body: Any


class KeyReused(InvalidInput):
    """The key came with another request than the one it was first used for."""

    code = "idempotency_key_reused"


def check_key(key: str) -> str:
    """The key as sent, or InvalidInput: 1 to 200 visible ASCII characters."""
    if not 1 <= len(key) <= MAX_KEY or not all(33 <= ord(c) <= 126 for c in key):
        raise InvalidInput(f"{HEADER} 须为 1 至 {MAX_KEY} 个可见 ASCII 字符", field=HEADER)
    return key


def fingerprint(method: str, path: str, body: bytes) -> str:
    """SHA-256 of the request: its method, path and body (JSON compared by value, so the
    order of keys and the spacing do not make another request)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, ensure_ascii=False,
                               separators=(",", ":")).encode()
    except ValueError:  # not JSON (or not UTF-8): the bytes as they are
        canonical = body
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def stored_answer(session: Session, user_id: int, key: str, print_: str,
                  now: datetime) -> StoredAnswer | None:
    """The first answer for this user's key, None when the key is new (or expired, then
    forgotten); KeyReused when the key came with another request."""
    row = session.scalar(select(IdempotencyKey).where(IdempotencyKey.user_id == user_id,
                                                      IdempotencyKey.key == key))
    if row is None:
        return None
    if row.created_at <= now - KEPT:
        session.delete(row)
        session.flush()
        return None
    if row.fingerprint != print_:
        raise KeyReused(f"{HEADER} 已用于另一个请求；新的请求请换一个新的 key", field=HEADER)
    if row.http_status == 0:  # never committed so (claim and answer commit together)
        raise Conflict(f"使用此 {HEADER} 的请求尚未完成，请稍后重试", field=HEADER)
    return StoredAnswer(row.http_status, row.response)


def claim(session: Session, user_id: int, key: str, print_: str,
          now: datetime) -> IdempotencyKey:
    """Insert the key's row in the current transaction (flushed: a concurrent claim of the
    same key waits for this transaction, then fails on the unique index)."""
    row = IdempotencyKey(user_id=user_id, key=key, fingerprint=print_, http_status=0, response={},
                         created_at=now)
    session.add(row)
    session.flush()
    return row


def record(session: Session, row: IdempotencyKey, http_status: int, body: Any) -> None:
    """Store the answer in the claimed row (before the transaction commits)."""
    row.http_status = http_status
    row.response = body
    session.flush()


def purge(session: Session, now: datetime) -> int:
    """Forget the keys older than 24 hours; the number forgotten."""
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at
                                                          <= now - KEPT))
    return int(getattr(result, "rowcount", 0) or 0)
