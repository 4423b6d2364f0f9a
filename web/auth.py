"""Who is calling: a session cookie (people) or a bearer token (machine clients); and the
password login, throttled per account and per address (CONTRACT.md, "Errors, retries and
limits").

A session ends on every process at once: the cookie carries the user's `session_epoch` from
when it was signed in, and each request compares it with the row read from the shared
database (logout, a password change and a disabling raise the epoch; tokens are revoked in the
same transaction). Failed logins are counted with `limits` (the library under Flask-Limiter),
in Redis when `HOTLINE_REDIS_URL` is set (shared by every web process) and in memory otherwise.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import replace
from typing import Any

from flask import Flask, current_app, g, jsonify, request, session
from flask.typing import ResponseReturnValue
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage, RedisStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from werkzeug.middleware.proxy_fix import ProxyFix

from dispatch.core.accounts import actor_for, authenticate, user_for_token
from dispatch.core.errors import Forbidden, Unauthorized
from dispatch.core.models import User
from dispatch.core.vocab import Role
from dispatch.tickets.lifecycle import Actor
from grid.duties import duty_cells
from web.extensions import db
from web.i18n import t
from web.services import services

log = logging.getLogger("hotline.auth")


def current_user() -> User:
    """The signed-in user of this request, or Unauthorized."""
    if "user" in g:
        return g.user
    header = request.headers.get("Authorization", "")
    user: User | None = None
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Authorization 请求头须为 'Bearer <令牌>'")
        user = user_for_token(db.session, token.strip(), services().clock.now())
    elif "user_id" in session:
        user = session_user()
        if user is None:
            session.clear()  # signed out, disabled or password changed since: on every process
            raise Unauthorized("登录已失效，请重新登录")
    if user is None:
        raise Unauthorized("请先登录，或发送 Bearer 令牌")
    g.user = user
    return user


def session_user() -> User | None:
    """The user of this request's session cookie while that session is current: the user
    active, the cookie signed in under the user's present session epoch and password."""
    if "user_id" not in session:
        return None
    user = db.session.get(User, session["user_id"])
    if (user is None or not user.active or session.get("epoch") != user.session_epoch
            or session.get("pw") != user.password_hash[-16:]):
        return None
    return user


def signed_in_user() -> User | None:
    """The signed-in user of this request, or None."""
    try:
        return current_user()
    except Unauthorized:
        return None


class PasswordChangeRequired(Forbidden):
    """The user must change the temporary password an admin gave before anything else."""

    code = "password_change_required"


# What a user who must change their password may still call (who am I, the change, logout).
PASSWORD_CHANGE_PATHS = ("/api/v1/auth/me", "/api/v1/auth/password", "/api/v1/auth/logout")


def current_actor(roles: tuple[str, ...] = ()) -> Actor:
    """The domain actor of this request; Forbidden if its role is not among `roles`, or
    while the user must change a temporary password (but for PASSWORD_CHANGE_PATHS)."""
    user = current_user()
    if user.must_change_password and request.path not in PASSWORD_CHANGE_PATHS:
        raise PasswordChangeRequired("请先修改管理员重置的临时密码（/password），再进行其他操作")
    actor = actor_for(user)
    if roles and actor.role not in roles:
        raise Forbidden(f"当前角色（{t('role', actor.role)}）无权执行此操作")
    if actor.role == Role.GRID_WORKER:
        actor = replace(actor, cells=duty_cells(db.session, user.id))
    return actor


def sign_in(user: User) -> None:
    """Start a session for a person, under the user's current session epoch."""
    session.clear()
    session["user_id"] = user.id
    session["epoch"] = user.session_epoch
    session["pw"] = user.password_hash[-16:]
    session.permanent = False


# ---------------------------------------------------------------- login throttling


class LoginThrottled(Exception):
    """Too many failed logins for this account or from this address."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"throttled for {retry_after} s")
        self.retry_after = retry_after

    @property
    def message(self) -> str:
        """What the person is told (zh-CN)."""
        wait = (f"{math.ceil(self.retry_after / 60)} 分钟" if self.retry_after >= 60
                else f"{self.retry_after} 秒")
        return f"登录失败次数过多，账号或地址已被暂时锁定，请在 {wait}后再试，或请管理员解锁"


class LoginThrottle:
    """Failed logins counted per account and per address in a moving window; `check` refuses
    once either has reached the limit. With Redis unreachable the counts fall back to this
    process's memory (logged), so an outage neither opens nor closes the door entirely."""

    def __init__(self, storage_uri: str, max_failures: int, window_seconds: int) -> None:
        self.limit = RateLimitItemPerSecond(max_failures, window_seconds)
        self.window = window_seconds
        options: dict[str, Any] = {}
        if storage_uri.startswith(("redis://", "rediss://")):  # a dead Redis must not hang logins
            options = {"key_prefix": "hotline-login", "socket_timeout": 1.0,
                       "socket_connect_timeout": 1.0}
        self._storage = storage_from_string(storage_uri, **options)
        self._shared = MovingWindowRateLimiter(self._storage)
        self._local = MovingWindowRateLimiter(MemoryStorage())
        # account -> {address: last failure (epoch seconds)}, for an unlock (memory mode).
        self._addresses: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()
        self._warned = -math.inf

    def _run(self, operation: str, kind: str, key: str) -> Any:
        """`test`, `hit` or `get_window_stats` of the limit for (kind, key), in the shared
        storage, or in this process's memory while that storage fails."""
        try:
            return getattr(self._shared, operation)(self.limit, kind, key)
        except Exception:  # noqa: BLE001  (any storage failure: count in memory meanwhile)
            if time.monotonic() - self._warned > 60:  # once a minute, not per login
                self._warned = time.monotonic()
                log.warning("login throttle: storage unreachable, counting in memory",
                            exc_info=True)
            return getattr(self._local, operation)(self.limit, kind, key)

    @staticmethod
    def _keys(username: str, address: str) -> list[tuple[str, str]]:
        return [("account", username.strip().lower()[:64]), ("address", address)]

    def retry_after(self, username: str, address: str) -> int | None:
        """Seconds until this account and address may try again, or None if they may now."""
        waits = []
        for kind, key in self._keys(username, address):
            if not self._run("test", kind, key):
                stats = self._run("get_window_stats", kind, key)
                waits.append(max(1, math.ceil(stats.reset_time - time.time())))
        return max(waits) if waits else None

    def failed(self, username: str, address: str) -> None:
        """Count one failure against the account and the address."""
        for kind, key in self._keys(username, address):
            self._run("hit", kind, key)
        account = self._keys(username, address)[0][1]
        if isinstance(self._storage, RedisStorage):
            try:
                redis = self._storage.storage
                redis.zadd(f"hotline-login:addresses:{account}", {address: time.time()})
                redis.expire(f"hotline-login:addresses:{account}", self.window)
                return
            except Exception:  # noqa: BLE001
                log.warning("login throttle: could not remember the address", exc_info=True)
        with self._lock:
            now = time.time()
            if len(self._addresses) > 10_000:  # forget the accounts whose window has passed
                self._addresses = {a: seen for a, seen in self._addresses.items()
                                   if max(seen.values()) >= now - self.window}
            self._addresses.setdefault(account, {})[address] = now

    def _recent_addresses(self, account: str) -> set[str]:
        since = time.time() - self.window
        found = set()
        if isinstance(self._storage, RedisStorage):
            try:
                found |= {a.decode() for a in self._storage.storage.zrangebyscore(
                    f"hotline-login:addresses:{account}", since, "+inf")}
                self._storage.storage.delete(f"hotline-login:addresses:{account}")
            except Exception:  # noqa: BLE001
                log.warning("login throttle: could not read the addresses", exc_info=True)
        with self._lock:
            found |= {a for a, at in self._addresses.pop(account, {}).items() if at >= since}
        return found

    def locked(self, username: str) -> bool:
        """Whether the account has failed too often to try again now (its addresses aside)."""
        return not self._run("test", "account", self._keys(username, "")[0][1])

    def unlock(self, username: str) -> bool:
        """Clear the account's failures and those of the addresses that failed on it within
        the window; whether the account was locked."""
        account = self._keys(username, "")[0][1]
        was_locked = not self._run("test", "account", account)
        for address in self._recent_addresses(account):
            for lim in (self._shared, self._local):
                try:
                    lim.clear(self.limit, "address", address)
                except Exception:  # noqa: BLE001
                    log.warning("login throttle: could not clear an address", exc_info=True)
        for lim in (self._shared, self._local):
            try:
                lim.clear(self.limit, "account", account)
            except Exception:  # noqa: BLE001
                log.warning("login throttle: could not clear the account", exc_info=True)
        return was_locked


def login_throttle() -> LoginThrottle:
    """This application's login throttle."""
    return current_app.extensions["hotline_login_throttle"]


def _address() -> str:
    return request.remote_addr or "unknown"


def log_in(username: str, password: str) -> User:
    """The user these credentials name, after the throttle: LoginThrottled when the account
    or the address has failed too often (the password is then not even checked),
    Unauthorized (counted and logged) when they are wrong."""
    throttle = login_throttle()
    address = _address()
    wait = throttle.retry_after(username, address)
    if wait is not None:
        log.warning("login throttled: account=%r address=%s path=%s retry_after=%d",
                    username[:64], address, request.path, wait)
        raise LoginThrottled(wait)
    try:
        return authenticate(db.session, services().hasher, username, password)
    except Unauthorized:
        throttle.failed(username, address)
        log.warning("login failed: account=%r address=%s path=%s", username[:64], address,
                    request.path)
        raise


def throttled_response(exc: LoginThrottled) -> ResponseReturnValue:
    """429 with Retry-After, in the house's error shape."""
    response = jsonify({"error": {"code": "too_many_attempts", "message": exc.message}})
    response.headers["Retry-After"] = str(exc.retry_after)
    return response, 429


def init_app(app: Flask) -> None:
    """Create the login throttle (Redis in distributed mode, memory embedded) and its 429;
    trust X-Forwarded-For from `PROXY_COUNT` proxies, so each client counts as itself."""
    app.config.setdefault("LOGIN_MAX_FAILURES", 5)
    app.config.setdefault("LOGIN_WINDOW_SECONDS", 15 * 60)
    app.extensions["hotline_login_throttle"] = LoginThrottle(
        app.config.get("REDIS_URL") or "memory://", int(app.config["LOGIN_MAX_FAILURES"]),
        int(app.config["LOGIN_WINDOW_SECONDS"]))
    app.register_error_handler(LoginThrottled, throttled_response)
    proxies = int(app.config.get("PROXY_COUNT") or 0)
    if proxies:  # behind N reverse proxies: the client is the Nth address from the right
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies)  # type: ignore[method-assign]
