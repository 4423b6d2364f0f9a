"""Signing in and staying signed in: the password check (`authenticate`), a user's own
password change, ending every session and token of a user at once, enabling and disabling,
and bearer tokens (only their digest is kept)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dispatch.core.errors import InvalidInput, Unauthorized
from dispatch.core.models import ApiToken, User

MIN_PASSWORD = 8


@cache
def _dummy_hash() -> str:
    """A hash to verify against when the user does not exist, so timing tells nothing."""
    return PasswordHasher().hash("not a password")


def authenticate(session: Session, hasher: PasswordHasher, username: str,
                 password: str) -> User:
    """The active user with this username and password, or Unauthorized."""
    user = session.scalar(select(User).where(User.username == username))
    try:
        hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None or not user.active:
        raise Unauthorized("用户名或密码错误")
    return user


def end_sessions(session: Session, user: User, now: datetime) -> None:
    """End every session and bearer token of a user at once (logout, a password change, a
    disabling): the session epoch goes up, so every cookie signed in before is refused on every
    process, and the user's live tokens are revoked."""
    user.session_epoch = User.session_epoch + 1  # one UPDATE, safe against a concurrent one
    session.execute(update(ApiToken).where(ApiToken.user_id == user.id,
                                           ApiToken.revoked_at.is_(None))
                    .values(revoked_at=now))
    session.flush()


def set_password(session: Session, hasher: PasswordHasher, user: User, old: str,
                 new: str, now: datetime) -> None:
    """Change a user's password after checking the old one (the new one must differ); clears
    a forced change, ends the user's sessions and tokens (the caller signs the current person
    in again)."""
    authenticate(session, hasher, user.username, old)
    if len(new or "") < MIN_PASSWORD:
        raise InvalidInput(f"new_password: 至少 {MIN_PASSWORD} 个字符",
                           field="new_password")
    if new == old:
        raise InvalidInput("new_password: 新密码不能与原密码相同", field="new_password")
    user.password_hash = hasher.hash(new)
    user.must_change_password = False
    end_sessions(session, user, now)


def set_active(session: Session, user: User, active: bool, now: datetime) -> None:
    """Enable or disable a user; disabling ends every session and token at once."""
    user.active = active
    if not active:
        end_sessions(session, user, now)
    session.flush()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, now: datetime,
                ttl: timedelta) -> tuple[str, datetime]:
    """A new bearer token for a user; only its digest is kept."""
    token = secrets.token_urlsafe(32)
    expires = now + ttl
    session.add(ApiToken(user_id=user.id, digest=_digest(token), created_at=now,
                         expires_at=expires))
    return token, expires


def user_for_token(session: Session, token: str, now: datetime) -> User:
    """The active user a valid, unexpired token belongs to, or Unauthorized."""
    # The token with its user, in one round trip (every API request starts here).
    found = session.execute(select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                            .where(ApiToken.digest == _digest(token))).first()
    row, user = found if found is not None else (None, None)
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise Unauthorized("令牌无效或已过期")
    if user is None or not user.active:
        raise Unauthorized("令牌无效或已过期")
    return user
