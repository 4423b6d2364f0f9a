"""Users, password login and bearer tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dispatch.core.errors import InvalidInput, Unauthorized
from dispatch.core.models import ApiToken, User
from dispatch.core.ports import Directory
from dispatch.core.vocab import Role
from dispatch.intake.phones import normalize_phone
from dispatch.tickets.lifecycle import Actor

USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{2,39}$")
MIN_PASSWORD = 8
# Roles that belong to a department (a handler always; a grid worker to a street office).
DEPARTMENT_ROLES = frozenset({Role.HANDLER})


@cache
def _dummy_hash() -> str:
    """A hash to verify against when the user does not exist, so timing tells nothing."""
    return PasswordHasher().hash("not a password")


def actor_for(user: User) -> Actor:
    """The domain's view of a signed-in user."""
    return Actor(user.id, Role(user.role), user.department_code, user.username)


def create_user(session: Session, hasher: PasswordHasher, directory: Directory, *,
                username: str, password: str, role: str, display_name: str | None = None,
                department: str | None = None, phone: str | None = None,
                demo: bool = False) -> User:
    """Add a user after checking every field; nothing is written when one is wrong."""
    if not USERNAME.match(username or ""):
        raise InvalidInput("username: 须为 3–40 个小写字母、数字、“_”“.”“-”，"
                           "以字母开头", field="username")
    if role not in {r.value for r in Role} or role == Role.SYSTEM:
        raise InvalidInput(f"role: 没有“{role}”这个角色", field="role")
    if len(password or "") < MIN_PASSWORD:
        raise InvalidInput(f"password: 至少 {MIN_PASSWORD} 个字符", field="password")
    if role in DEPARTMENT_ROLES and not department:
        raise InvalidInput(f"department: 角色“{role}”须属于一个部门", field="department")
    if department is not None:
        dept = directory.department(department)
        if dept is None:
            raise InvalidInput(f"department: 没有编码为“{department}”的部门", field="department")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise InvalidInput(f"username: 用户名“{username}”已被占用", field="username")
    user = User(username=username, display_name=display_name or username, role=role,
                department_code=department,
                phone=normalize_phone(phone, "phone") if phone else None,
                password_hash=hasher.hash(password), active=True, demo=demo)
    session.add(user)
    session.flush()
    return user


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
    """Change a user's password after checking the old one; ends the user's sessions and
    tokens (the caller signs the current person in again)."""
    authenticate(session, hasher, user.username, old)
    if len(new or "") < MIN_PASSWORD:
        raise InvalidInput(f"new_password: 至少 {MIN_PASSWORD} 个字符",
                           field="new_password")
    user.password_hash = hasher.hash(new)
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
    row = session.scalar(select(ApiToken).where(ApiToken.digest == _digest(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise Unauthorized("令牌无效或已过期")
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise Unauthorized("令牌无效或已过期")
    return user
