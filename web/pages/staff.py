"""The people's pages (server-rendered, zh-CN): login, password, and one page per kind of user.

Pages carry no business rules: they render a shell with who is signed in and a JSON island of
boot data; their JavaScript reads and acts through the same `/api/v1` as every other client.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from dispatch.core import accounts
from dispatch.core.errors import DomainError, Unauthorized
from dispatch.core.models import User
from dispatch.core.vocab import Role
from dispatch.stats.assessment_appeals import ALL_SEEING, OFFICE_ROLES
from dispatch.stats.definitions import local_day
from grid.directory import SqlDirectory
from grid.phrases import intake_phrases
from web.auth import LoginThrottled, current_user, log_in, sign_in, signed_in_user
from web.extensions import db
from web.i18n import ZH, t
from web.pages.softphone import softphone_settings
from web.services import services

bp = Blueprint("pages", __name__)

# The page each role lands on after signing in.
HOME = {
    Role.OPERATOR: "pages.intake", Role.DISPATCHER: "pages.console",
    Role.SUPERVISOR: "pages.console", Role.LEADER: "pages.dashboard",
    Role.ADMIN: "pages.admin_home",
    Role.HANDLER: "pages.department", Role.GRID_WORKER: "pages.worker",
    Role.POLICE_DESK: "pages.police",
}
# Which roles may open which page (DOMAIN.md's roles).
CONSOLE_ROLES = (Role.DISPATCHER, Role.SUPERVISOR, Role.LEADER, Role.ADMIN)
INTAKE_ROLES = (Role.OPERATOR,)
WORKER_ROLES = (Role.GRID_WORKER,)
DEPARTMENT_ROLES = (Role.HANDLER,)
POLICE_ROLES = (Role.POLICE_DESK,)
DASHBOARD_ROLES = (Role.LEADER, Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN)
# The navigation bar: (endpoint, label key, roles).
NAV = (
    ("pages.intake", "intake", INTAKE_ROLES),
    ("pages.console", "console", CONSOLE_ROLES),
    ("pages.department", "department", DEPARTMENT_ROLES),
    ("pages.worker", "worker", WORKER_ROLES),
    ("pages.dashboard", "dashboard", DASHBOARD_ROLES),
    # 定责 (web/pages/disputes.py): the hotline office's queue of disputed tickets.
    ("pages.disputes", "disputes", (Role.DISPATCHER, Role.SUPERVISOR, Role.LEADER)),
    # 月度考核 (web/pages/assessment.py): leaders and the office; a department sees its own.
    ("pages.assessment", "assessment", (*DASHBOARD_ROLES, Role.HANDLER)),
    # 呼叫中心 (web/pages/calls.py): the 漏接回拨 queue and the call-centre board.
    ("pages.calls", "calls", (Role.OPERATOR, *DASHBOARD_ROLES)),
    ("pages.police", "police", POLICE_ROLES),
    ("pages.admin_home", "admin", (Role.ADMIN,)),
)


@bp.app_context_processor
def _template_globals() -> dict[str, Any]:
    return {"t": t, "i18n": ZH}


def _signed_in() -> User | None:
    try:
        return current_user()
    except Unauthorized:
        return None


def me_view(user: User) -> dict[str, Any]:
    """Who is signed in, as a page shows it."""
    dept = SqlDirectory(db.session).department(user.department_code) \
        if user.department_code else None
    return {"username": user.username, "display_name": user.display_name, "role": user.role,
            "role_name": t("role", user.role), "department": user.department_code,
            "department_name": dept.name if dept else None}


def page(rule: str, roles: tuple[str, ...]) -> Callable[[Callable[..., Any]], Any]:
    """A page for these roles: anonymous visitors go to the login page, a user who must change
    a temporary password to the password page, others get 403."""

    def decorate(fn: Callable[..., dict[str, Any]]) -> Callable[..., ResponseReturnValue]:
        @wraps(fn)
        def view(**kwargs: Any) -> ResponseReturnValue:
            user = _signed_in()
            if user is None:
                return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
            if user.must_change_password:
                return redirect(url_for("pages.password"))
            if user.role not in roles:
                return render_template("forbidden.html", me=me_view(user), nav=_nav(user)), 403
            context = fn(user=user, **kwargs)
            boot = {"me": me_view(user), "server_now": services().clock.now().isoformat(),
                    **context.pop("boot", {})}
            return render_template(context.pop("template"), me=boot["me"], boot=boot,
                                   nav=_nav(user), **context)

        bp.add_url_rule(rule, endpoint=fn.__name__, view_func=view)
        return view

    return decorate


def _nav(user: User) -> list[dict[str, str]]:
    here = request.endpoint or ""
    return [{"href": url_for(endpoint), "label": t("ui", key),
             "active": here == endpoint or (endpoint == "pages.admin_home"
                                            and here.startswith("pages.") and "admin" in here)}
            for endpoint, key, roles in NAV if user.role in roles]


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site (no scheme, no host, no '//' trick) may follow a login."""
    if not target:
        return None
    parts = urlsplit(target)
    if (parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//")
            or "\\" in target or any(ord(c) < 32 for c in target)):
        return None  # browsers read "/\\host" as "//host"
    return target


@bp.route("/")
def index() -> ResponseReturnValue:
    user = _signed_in()
    if user is None:
        return redirect(url_for("pages.login"))
    if user.must_change_password:
        return redirect(url_for("pages.password"))
    return redirect(url_for(HOME.get(Role(user.role), "pages.password")))


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    error = None
    username = ""
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()
        password = request.form.get("password") or ""
        try:
            user = log_in(username, password)
        except LoginThrottled as exc:  # the form again, with the wait, as 429 + Retry-After
            html = render_template("login.html", error=exc.message, username=username,
                                   me=None, nav=[])
            return html, 429, {"Retry-After": str(exc.retry_after)}
        except DomainError:
            error = "用户名或密码错误"
        else:
            sign_in(user)
            if user.must_change_password:  # an admin's reset: the new password first
                return redirect(url_for("pages.password"))
            target = _safe_next(request.args.get("next"))
            return redirect(target or url_for(HOME.get(Role(user.role), "pages.password")))
    # A refused login re-renders the form (200): the browser shows it, not an error page.
    return render_template("login.html", error=error, username=username, me=None, nav=[])


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    user = signed_in_user()
    if user is not None:  # every session and token of the user ends, on every process
        accounts.end_sessions(db.session, user, services().clock.now())
        db.session.commit()
    session.clear()
    return redirect(url_for("pages.login"))


@bp.route("/password", methods=["GET", "POST"])
def password() -> ResponseReturnValue:
    user = _signed_in()
    if user is None:
        return redirect(url_for("pages.login", next="/password"))
    message, error = None, None
    forced = user.must_change_password
    if request.method == "POST":
        new = request.form.get("new_password") or ""
        if new != (request.form.get("confirm_password") or ""):
            error = "两次输入的新密码不一致"
        else:
            try:
                accounts.set_password(db.session, services().hasher, user,
                                      request.form.get("old_password") or "", new,
                                      services().clock.now())
                db.session.commit()
                sign_in(user)
                message = "密码已修改"
                forced = False
            except DomainError as exc:
                db.session.rollback()
                error = _password_error(exc)
    home = url_for(HOME.get(Role(user.role), "pages.password"))
    return render_template("password.html", me=me_view(user), nav=[] if forced else _nav(user),
                           message=message, error=error, forced=forced, home=home)


def _password_error(exc: DomainError) -> str:
    if exc.field == "old_password" or isinstance(exc, Unauthorized):
        return "原密码不正确"
    if exc.field == "new_password" or exc.field == "password":
        if "相同" in exc.message:
            return "新密码不能与原密码相同"
        return f"新密码至少 {accounts.MIN_PASSWORD} 位"
    return exc.message


# Who works the 定责 queue (会商定责): the hotline office decides, leaders read. It is a page of
# its own (web/pages/disputes.py) and a tab of the console, driven by the same js/disputes.js.
DISPUTE_ROLES = (Role.DISPATCHER, Role.SUPERVISOR, Role.LEADER)
DISPUTE_OFFICE = (Role.DISPATCHER, Role.SUPERVISOR)


@page("/console", CONSOLE_ROLES)
def console(user: User) -> dict[str, Any]:
    return {"template": "console.html",
            "boot": {"disputes": user.role in DISPUTE_ROLES,
                     "office": user.role in DISPUTE_OFFICE}}


@page("/intake", INTAKE_ROLES)
def intake(user: User) -> dict[str, Any]:
    # The SIP server checks the softphone's credential against the wall clock, not ours.
    softphone = softphone_settings(user, current_app.config, datetime.now(UTC))
    return {"template": "intake.html",
            "boot": {"phrases": intake_phrases(), "softphone": softphone}}


def _upload_limit() -> dict[str, Any]:
    return {"upload_max_bytes": current_app.config["UPLOAD_MAX_BYTES"]}


@page("/worker", WORKER_ROLES)
def worker(user: User) -> dict[str, Any]:
    return {"template": "worker.html", "boot": _upload_limit()}


@page("/department", DEPARTMENT_ROLES)
def department(user: User) -> dict[str, Any]:
    return {"template": "department.html", "boot": _upload_limit()}


def assessment_boot(user: User) -> dict[str, Any]:
    """What js/assessment.js needs (the /assessment page and the panel on /dashboard): last
    month, whether the user is the office (publishes, decides appeals), sees every department,
    and its own department (appeals)."""
    first = local_day(services().clock.now()).replace(day=1)
    return {"month": (first - timedelta(days=1)).strftime("%Y-%m"),
            "office": user.role in OFFICE_ROLES, "all": user.role in ALL_SEEING,
            "department": user.department_code,
            "upload_max_bytes": current_app.config["UPLOAD_MAX_BYTES"]}


# A department user opens /dashboard too, for its own assessment and appeals only (the
# figures of the rest are the leaders').
@page("/dashboard", (*DASHBOARD_ROLES, Role.HANDLER))
def dashboard(user: User) -> dict[str, Any]:
    return {"template": "dashboard.html",
            "boot": {"map_tile_url": current_app.config.get("MAP_TILE_URL"),
                     "assessment_only": user.role not in DASHBOARD_ROLES,
                     **assessment_boot(user)}}
